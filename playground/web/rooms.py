"""Rooms: one stable link that an audience follows, whatever session the presenter runs.

Theory of operation
-------------------
A **room** is a record in the shared store (``store.py``: Redis when the deployment has a
message queue, the embedded SQLite file otherwise), so every process of a deployment
resolves it: the session the room shows now, the SHA-256 of the presenter's token, a
short notice of what changed, and the open question, if any. Its id carries 128 random
bits; its link is ``/r/<room>``. Only the token that opened it changes it. The record
and its answers expire ``ROOM_TTL_SECONDS`` after their last write; every use of the
room (a lookup through ``existing``) renews the record's.

* ``room_open`` makes a room and answers its id, token and link; the presenter's page
  then points it at each session it runs with ``room_set`` (proving it controls that
  session with the session's token). Every member of the room (a Socket.IO room
  ``r:<room>``, which a message queue spans across processes) gets a ``room`` event
  naming the new session and the notice ("now: Raft: leader election with prevote").
  The members connected to the process that took ``room_set`` are then moved to the
  new session at once, as ``join`` would move each, but with one full frame encoded
  once for them all (``FanoutMixin.watch_many``); members on other processes get the
  event and ``join`` by themselves. A member who joins late (``room_join``) is told
  the current session in the answer.
* **Questions** (peer instruction): the presenter asks (``ask``: a caption's ``ask``,
  named by the caption's time so its answer never leaves the server before the reveal,
  or one on the spot whose choices default to the node ids); the room's members get a
  ``question`` event and answer once each (``answer``). A member is an id the server
  hands out on ``room_join``, signed with the room's member key, so answers need no
  login and stay anonymous. Each answer is kept in the store under the member (kept
  only if new) and counted per choice (an atomic counter), so a member answers once
  whichever process they reach, and every process reads one tally. The presenter's
  pages (``p:<room>``) get the tally live as ``tally`` events; ``reveal`` shows the
  room the counts and the answer. Answers are rate-limited per client address and
  capped per question (``MAX_ANSWERS``).

Watch links of single sessions (``/w/<session>``) are untouched: a room is only a
pointer to sessions and an audience that moves together.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets

from flask import current_app, request
from flask_socketio import join_room, leave_room

from ..models import MODELS
from ..scenarios.schema import question as parse_question
from .events import (RequestError, _field, _limit, _registry, _session_id, _token,
                     handler)
from .fanout import room_of

PREFIX = "room:"  # store keys
MEMBERS = "r:"  # the Socket.IO room of a room's members
PRESENTERS = "p:"  # the Socket.IO room of its presenter's pages
ROOM_ID = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
MEMBER = re.compile(r"^[A-Za-z0-9_-]{16}\.[0-9a-f]{32}$")
MAX_ANSWERS = 2000  # answers one question takes
ROOM_BYTES = 16  # 128 random bits


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Rooms:
    """The rooms of a deployment, kept in ``store``; see the module docstring."""

    def __init__(self, store, ttl: float | None = None):
        self.store = store
        self.ttl = ttl  # s a room and its answers live after its last use (None: for ever)

    def open(self) -> tuple[str, str]:
        """A new empty room: its id and its presenter's token."""
        room, token = secrets.token_urlsafe(ROOM_BYTES), secrets.token_urlsafe(24)
        self._put(room, {"token_sha256": _digest(token), "member_key": secrets.token_hex(16),
                         "session": None, "notice": None, "question": None, "asked": 0})
        return room, token

    def get(self, room: str) -> dict | None:
        raw = self.store.get(PREFIX + room) if ROOM_ID.match(room) else None
        return None if raw is None else json.loads(raw)

    def _put(self, room: str, record: dict) -> None:
        self.store.put(PREFIX + room, json.dumps(record, separators=(",", ":")).encode(),
                       ttl=self.ttl)

    def existing(self, room: str) -> dict:
        """The record of ``room``; else RequestError."""
        record = self.get(room)
        if record is None:
            raise RequestError(f"no room {room[:64]} (it was never opened here, or it "
                               "expired unused)")
        if self.ttl is not None:
            self.store.touch(PREFIX + room, self.ttl)  # a use: it lives on from now
        return record

    def owned(self, room: str, token: str | None) -> dict:
        """The record of ``room`` if ``token`` is its presenter's; else RequestError."""
        record = self.existing(room)
        if token is None or not secrets.compare_digest(record["token_sha256"],
                                                       _digest(token)):
            raise RequestError(f"wrong token for room {room[:64]}: only its presenter "
                               "changes it")
        return record

    def point(self, room: str, record: dict, session: str, notice: str) -> dict:
        """Show ``session`` in the room from now on (the open question closes)."""
        record.update(session=session, notice=notice, question=None)
        self._put(room, record)
        return record

    # -- members and questions ----------------------------------------------------------
    def reveal(self, room: str, record: dict) -> dict:
        """Close the open question to answers and show its answer; its tally."""
        asked = record.get("question")
        if asked is None:
            raise RequestError("no question is open in this room")
        asked["revealed"] = True
        self._put(room, record)
        return self.tally(room, asked)

    def member(self, record: dict) -> str:
        """A new anonymous member id, signed with the room's member key."""
        mid = secrets.token_urlsafe(12)
        return f"{mid}.{self._sign(record, mid)}"

    def is_member(self, record: dict, member: str) -> bool:
        if not isinstance(member, str) or not MEMBER.match(member):
            return False
        mid, sig = member.split(".")
        return hmac.compare_digest(sig, self._sign(record, mid))

    @staticmethod
    def _sign(record: dict, mid: str) -> str:
        return hmac.new(bytes.fromhex(record["member_key"]), mid.encode(),
                        hashlib.sha256).hexdigest()[:32]

    def ask(self, room: str, record: dict, asked: dict) -> dict:
        """Open ``asked`` (a parsed question) in the room; the question as stored."""
        record["asked"] += 1
        record["question"] = {"id": record["asked"], **asked, "revealed": False}
        self._put(room, record)
        return record["question"]

    def answer(self, room: str, record: dict, member: str, choice: str) -> dict:
        """Count ``member``'s answer to the open question; the tally, or RequestError."""
        asked = record.get("question")
        if asked is None:
            raise RequestError("no question is open in this room")
        if asked["revealed"]:
            raise RequestError("this question is closed: its answers were revealed")
        if choice not in asked["choices"]:
            raise RequestError(f"'{choice[:60]}' is not one of the choices "
                               f"({', '.join(asked['choices'])})")
        key = f"{PREFIX}{room}:q{asked['id']}:"
        if self._count(key + "n") >= MAX_ANSWERS:
            raise RequestError(f"this question has taken {MAX_ANSWERS} answers, its limit")
        if not self.store.add(key + "m:" + member.split(".")[0], choice.encode(),
                              ttl=self.ttl):
            raise RequestError("you have answered this question already (one answer each)")
        self.store.incr(key + "n", ttl=self.ttl)
        self.store.incr(key + f"c{asked['choices'].index(choice)}", ttl=self.ttl)
        return self.tally(room, asked)

    def tally(self, room: str, asked: dict) -> dict:
        key = f"{PREFIX}{room}:q{asked['id']}:"
        counts = [self._count(key + f"c{i}") for i in range(len(asked["choices"]))]
        return {"room": room, "id": asked["id"], "choices": asked["choices"],
                "counts": counts, "total": sum(counts)}

    def _count(self, key: str) -> int:
        raw = self.store.get(key)
        return 0 if raw is None else int(raw)


def notice(metadata: dict, previous: dict | None) -> str:
    """What changed, in a few words: ``now: <title>`` and the switches that differ from
    the previous session of the same model (or from the model's defaults)."""
    cls = MODELS.get(metadata["model"])
    title = metadata.get("title") or (cls.title if cls else metadata["model"])
    if previous is not None and previous.get("model") == metadata["model"]:
        base = previous.get("variant", {})
    else:
        base = {v.name: v.default for v in (cls.variants if cls else ())}
    changed = [_switch(k, v) for k, v in metadata.get("variant", {}).items()
               if base.get(k) != v]
    return "now: " + title + (" with " + ", ".join(changed) if changed else "")


def _switch(name: str, value) -> str:
    if value is True:
        return name
    if value is False:
        return f"no {name}"
    return f"{name} = {value}"


def _rooms() -> Rooms:
    return current_app.extensions["playground_rooms"]


def _room(payload: dict) -> str:
    room = _field(payload, "room", str, "a room id")
    if not ROOM_ID.match(room):
        raise RequestError("'room' is not a room id of this playground")
    return room


def _url(room: str) -> str:
    return f"/r/{room}"


def _metadata(session_id: str, token: str | None) -> dict:
    """The metadata of a session ``token`` controls, here or on another process."""
    registry = _registry()
    session = registry.get(session_id)
    if session is not None:
        if token is None or not session.token_ok(token):
            raise RequestError(f"wrong token for session {session_id}: a room shows the "
                               "sessions its presenter controls")
        return session.metadata()
    entry = registry.elsewhere(session_id)
    if entry is None:
        raise RequestError(f"no session {session_id} (it ended, expired, or never existed)")
    if token is None or not registry.token_matches(entry, token):
        raise RequestError(f"wrong token for session {session_id}: a room shows the "
                           "sessions its presenter controls")
    return entry["scenario"]


def _public(asked: dict | None) -> dict | None:
    """A question as the audience sees it: the answer only once revealed."""
    if asked is None or asked["revealed"]:
        return asked
    return {k: v for k, v in asked.items() if k != "answer"}


def _enter(room: str, presenter: bool) -> None:
    """Make this client a member of ``room`` (and of no other room)."""
    for name in list(_registry().socketio.server.rooms(request.sid)):
        if isinstance(name, str) and name.startswith((MEMBERS, PRESENTERS)) \
                and name[2:] != room:
            leave_room(name)
    join_room(MEMBERS + room)
    if presenter:
        join_room(PRESENTERS + room)


def _move_members(room: str, session_id: str) -> None:
    """Make this process's members of ``room`` watch ``session_id`` (as ``join`` would,
    for all of them at once: one full frame for the crowd). Members on other processes
    join by themselves when the ``room`` event reaches them."""
    registry = _registry()
    manager = registry.manager
    server = registry.socketio.server
    presenters = {sid for sid, _ in manager.get_participants("/", PRESENTERS + room)}
    moving = [sid for sid, _ in manager.get_participants("/", MEMBERS + room)
              if sid not in presenters]
    for sid in moving:
        previous = registry.unwatch(sid)
        if previous is not None:
            server.leave_room(sid, room_of(previous))
        server.enter_room(sid, room_of(session_id))
        registry.clients[sid] = session_id
    if moving:
        if not manager.watch_many(moving, session_id):
            registry.want_frame(session_id, full=True)
        registry.announce(session_id)


def _emit(event: str, data: dict, to: str) -> None:
    _registry().socketio.emit(event, data, to=to)


@handler("room_open")
def on_room_open(payload: dict) -> dict:
    _limit("room", "CREATES_PER_SECOND", "new rooms")
    room, token = _rooms().open()
    _enter(room, presenter=True)
    return {"room": room, "token": token, "room_url": _url(room)}


@handler("room_set")
def on_room_set(payload: dict) -> dict:
    """Point the room at a session its presenter controls; every member follows."""
    _limit("control", "CONTROLS_PER_SECOND", "control requests")
    room = _room(payload)
    record = _rooms().owned(room, _token(payload))
    session_id = _session_id(payload)
    session_token = _field(payload, "session_token", str, "the session's control token")
    metadata = _metadata(session_id, session_token)
    if record["session"] == session_id:
        text = record["notice"]
    else:
        text = notice(metadata, record.get("shown"))
        record["shown"] = {"model": metadata["model"], "variant": metadata.get("variant", {})}
        _rooms().point(room, record, session_id, text)
        # First the news (to every process's members), then this process's members move
        # to the new session: their first frame of it comes after the news, not before.
        _emit("room", {"room": room, "session": session_id, "notice": text}, MEMBERS + room)
        _move_members(room, session_id)
    _enter(room, presenter=True)
    return {"room": room, "room_url": _url(room), "session": session_id, "notice": text}


@handler("room_join")
def on_room_join(payload: dict) -> dict:
    """Join a room's audience: the session it shows now, a member id for answering, and
    the open question. Pass back ``member`` to keep the same one after a reconnect."""
    _limit("join", "CONTROLS_PER_SECOND", "requests")
    room = _room(payload)
    rooms = _rooms()
    record = rooms.existing(room)
    member = payload.get("member")
    if not rooms.is_member(record, member):
        member = rooms.member(record)
    _enter(room, presenter=False)
    return {"room": room, "room_url": _url(room), "session": record["session"],
            "notice": record["notice"], "member": member,
            "question": _public(record.get("question"))}


@handler("ask")
def on_ask(payload: dict) -> dict:
    """The presenter puts a question to the room (the run is paused by the page)."""
    _limit("control", "CONTROLS_PER_SECOND", "control requests")
    room = _room(payload)
    rooms = _rooms()
    record = rooms.owned(room, _token(payload))
    node_ids = []  # the protocol's nodes (not its helpers) are the default choices
    if record["session"]:
        session = _registry().get(record["session"])
        entry = None if session is not None else _registry().elsewhere(record["session"])
        meta = session.metadata() if session is not None else (entry or {}).get("scenario", {})
        node_ids = [n for n in meta.get("node_ids", []) if n not in meta.get("helpers", [])]
    if "caption" in payload:  # a caption's question, answer included (never sent out)
        asked = _caption_question(record["session"], payload["caption"])
    else:
        asked = {k: payload[k] for k in ("question", "choices", "answer") if k in payload}
    asked = rooms.ask(room, record, parse_question(asked, node_ids))
    _emit("question", {"room": room, **_public(asked)}, MEMBERS + room)
    _emit("tally", rooms.tally(room, asked), PRESENTERS + room)
    return {"question": asked}


def _caption_question(session_id: str | None, at_ms) -> dict:
    """The question of the caption at ``at_ms`` of the room's session (which runs here:
    the presenter's page is on the process that runs its sessions)."""
    if not isinstance(at_ms, (int, float)) or isinstance(at_ms, bool):
        raise RequestError("'caption' is the time of a caption that asks, in ms")
    session = _registry().get(session_id) if session_id else None
    if session is None:
        raise RequestError("the room's session does not run on this server process")
    for caption in session.scenario["narrative"]:
        if caption["at_ms"] == at_ms and "ask" in caption:
            return caption["ask"]
    raise RequestError(f"no caption at {at_ms} ms asks a question")


@handler("answer")
def on_answer(payload: dict) -> dict:
    """One member's answer to the open question (once each)."""
    _limit("answer", "CONTROLS_PER_SECOND", "answers")
    room = _room(payload)
    rooms = _rooms()
    record = rooms.existing(room)
    member = _field(payload, "member", str, "the member id room_join gave")
    if not rooms.is_member(record, member):
        raise RequestError("'member' is not a member id of this room (join it first)")
    choice = _field(payload, "choice", str, "one of the question's choices")
    asked = record.get("question")
    if asked is not None and payload.get("id", asked["id"]) != asked["id"]:
        raise RequestError("that question is no longer open")
    tally = rooms.answer(room, record, member, choice)
    _emit("tally", tally, PRESENTERS + room)
    return {"id": tally["id"]}


@handler("reveal")
def on_reveal(payload: dict) -> dict:
    """Show the room the tally and the answer; the question takes no more answers."""
    _limit("control", "CONTROLS_PER_SECOND", "control requests")
    room = _room(payload)
    rooms = _rooms()
    record = rooms.owned(room, _token(payload))
    tally = rooms.reveal(room, record)
    asked = record["question"]
    _emit("question", {"room": room, **asked, "tally": tally}, MEMBERS + room)
    return {"question": asked, "tally": tally}
