"""Frame fan-out: every client gets the newest frame, and a slow one skips stale frames.

Theory of operation
-------------------
A session's runner emits each frame once, to the session's room. The Socket.IO client
manager delivers it; with a message queue (Redis) every server process receives it and
delivers to its own clients. The managers below replace that last step for frames:

* Each process keeps, per session with local watchers, a **mirror**: the last full frame
  with every later delta merged into it (``serializer.merge``), plus the newest trace
  records. It can therefore hand any client a full frame of its own at any moment.
* Each local client has a **cursor**: the ``seq`` of the last frame it was sent, or
  ``None`` when it needs a full frame (it just joined, or it skipped a frame).
* On each frame, a client whose transport queue is short and whose cursor is the
  previous ``seq`` gets the frame itself (encoded once for all of them). A client whose
  queue holds more than ``BACKLOG_LIMIT`` packets is skipped and its cursor cleared: it
  is behind, so stale frames are not piled onto it. A client with no cursor and a short
  queue gets a full frame built from the mirror, so after a stall it resumes at the newest
  state. Nothing here waits on a client: the frame is queued or skipped.
* A process that has watchers but no mirror (it joined late, or the previous frame was
  lost) asks the session for a full frame.
* **Answers first.** A request's handler, and then the client's writer that sends its
  answer, each run when the event loop gets to them, after every runner that became due
  before: with 50 sessions playing, a round of their ticks and frames each time. So an
  action or a control is marked as its packet arrives (``asked``, for ``ASK_PATIENCE``
  at most), its client when the handler is done (``expedite``), and each runner, before
  its next tick, lets the loop turn (up to ``session.EXPEDITE_TURNS`` times, and not
  while some session runs long work in slices) while a request is being handled or an
  answer still waits in its client's queue (``answer_waiting``). The ticks are late by a
  turn or three; the answer is not late by rounds.

Cluster messages (watcher counts, requests for a frame) travel on the same channel as
the frames, as events named ``playground:*`` that the managers hand to ``on_cluster``
instead of to clients.
"""

from __future__ import annotations

import json
import threading
import time

import orjson
from socketio import Manager, RedisManager
from socketio.packet import EVENT, Packet

from . import serializer

BACKLOG_LIMIT = 4  # queued transport packets beyond which a client is considered behind
ASKS = ('["act"', '["control"')  # the requests whose answers go first (event packets)
ASK_PATIENCE = 0.05  # s a request counts as on its way to an answer, at most
FRAME = "frame"
CLUSTER_PREFIX = "playground:"
ROOM_PREFIX = "s:"


def room_of(session_id: str) -> str:
    return ROOM_PREFIX + session_id


UNDECODABLE = "playground:undecodable"  # the event an undecodable request turns into
REFUSED = "playground:refused"  # the event a request named like a reserved event turns into
RESERVED = ("connect", "disconnect", "connect_error", "*")


class PacketJson:
    """The JSON of Socket.IO packets: written by orjson (several times faster than the
    standard library, which took about a tenth of a server's CPU with many sessions), read
    by the standard library. The text differs from the standard library's only in how it
    writes the same values: characters beyond ASCII as they are rather than as ``\\u``
    escapes, exponents without padding (``1e-7``), and a number that is not finite as
    ``null`` (the standard library's ``NaN`` is not JSON). What orjson refuses (an integer
    beyond 64 bits, a lone surrogate, nesting deeper than 254) is written by the standard
    library as before."""

    @staticmethod
    def dumps(obj, **_options) -> str:
        try:
            return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:
            return json.dumps(obj, separators=(",", ":"))

    loads = staticmethod(json.loads)


class JsonPacket(Packet):
    """Socket.IO packets of plain JSON (``PacketJson``).

    The playground never sends binary, so outgoing frames skip the recursive search for
    bytes that the default packet does each time. An incoming event whose JSON cannot be
    decoded (malformed, or nested too deeply), or whose data is not an array that starts
    with an event name, becomes the event ``UNDECODABLE``; one named like an event the
    library or the playground reserves (``RESERVED``, and the ``playground:`` names)
    becomes ``REFUSED`` with the name as its argument. Either keeps its acknowledgement
    id, so the sender still gets an answer, and neither reaches a real handler (a client
    that sends ``disconnect`` is not disconnected). See ``guard.py``.
    """

    uses_binary_events = False
    json = PacketJson

    def decode(self, encoded_packet):
        try:
            attachments = super().decode(encoded_packet)
        except (ValueError, RecursionError):
            self.data = [UNDECODABLE]
            return 0
        if self.packet_type == EVENT:
            data = self.data
            if not isinstance(data, list) or not data or not isinstance(data[0], str):
                self.data = [UNDECODABLE]
            elif data[0] in RESERVED or data[0].startswith(CLUSTER_PREFIX):
                self.data = [REFUSED, data[0][:40]]
        return attachments


class Mirror:
    """The latest full picture of one session, as seen by this process."""

    __slots__ = ("picture",)

    def __init__(self):
        self.picture = None


class FanoutMixin(Manager):
    """Local delivery of frames with per-client cursors (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._mirrors: dict[str, Mirror] = {}
        self._cursors: dict[str, int | None] = {}
        self.on_cluster = None  # callable(event, data), set by the app
        self.stats = {"sent": 0, "full": 0, "skipped": 0}
        self._answers: set = set()  # Engine.IO sids with an answer in their queue
        self._asking: dict[str, float] = {}  # Engine.IO sid -> when its request came

    def emit(self, event, data, namespace=None, room=None, skip_sid=None, callback=None,
             to=None, **kwargs):
        room = to or room
        if event == FRAME and isinstance(room, str) and room.startswith(ROOM_PREFIX):
            self._deliver(room, data, namespace or "/")
            return
        if isinstance(event, str) and event.startswith(CLUSTER_PREFIX):
            if self.on_cluster is not None:
                self.on_cluster(event, data)
            return
        super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback,
                     **kwargs)

    # -- watchers --------------------------------------------------------------------
    def watch(self, sid: str, session_id: str) -> bool:
        """Start sending ``session_id``'s frames to ``sid``; True when a full frame went
        out at once, False when the session must be asked for one."""
        room = room_of(session_id)
        with self._lock:
            mirror = self._mirrors.setdefault(room, Mirror())
            self._cursors[sid] = None
            if mirror.picture is None:
                return False
            full = serializer.full_from(mirror.picture)
            self._cursors[sid] = full["seq"]
            super().emit(FRAME, full, "/", room=sid)  # queued before any later delta
        self.stats["full"] += 1
        return True

    def watch_many(self, sids: list[str], session_id: str) -> bool:
        """``watch`` for a crowd at once (a room's members moving to another session):
        one full frame, encoded once for all of them; False when the session must be
        asked for one (it then goes to them all as one message too)."""
        room = room_of(session_id)
        with self._lock:
            mirror = self._mirrors.setdefault(room, Mirror())
            for sid in sids:
                self._cursors[sid] = None
            if mirror.picture is None or not sids:
                return False
            full = serializer.full_from(mirror.picture)
            chosen = set(sids)
            others = [sid for sid, _ in self.get_participants("/", room) if sid not in chosen]
            for sid in sids:
                self._cursors[sid] = full["seq"]
            super().emit(FRAME, full, "/", room=room, skip_sid=others)
        self.stats["full"] += len(sids)
        return True

    def unwatch(self, sid: str) -> None:
        with self._lock:
            self._cursors.pop(sid, None)
        self._forget_empty()

    def forget(self, session_id: str, event: str, data: dict) -> None:
        """Another process's copy of ``session_id`` is the one that runs now: drop this
        process's picture of it (the next frames are that copy's, numbered afresh), let
        each local watcher wait for a full frame, and tell them ``event`` (here only:
        the other processes' watchers already follow the new copy)."""
        room = room_of(session_id)
        with self._lock:
            self._mirrors.pop(room, None)
            for sid, _ in self.get_participants("/", room):
                self._cursors[sid] = None
            super().emit(event, data, "/", room=room)

    def local_watchers(self, session_id: str) -> int:
        return sum(1 for _ in self.get_participants("/", room_of(session_id)))

    def watched_sessions(self) -> dict[str, int]:
        """Local watcher counts by session id."""
        ns = self.rooms.get("/", {})
        return {room[len(ROOM_PREFIX):]: len(members) for room, members in list(ns.items())
                if isinstance(room, str) and room.startswith(ROOM_PREFIX) and len(members)}

    def forget_unwatched(self) -> None:
        """Drop the mirrors of sessions nobody here watches any more."""
        self._forget_empty()

    def _forget_empty(self) -> None:
        with self._lock:
            for room in list(self._mirrors):
                if not any(True for _ in self.get_participants("/", room)):
                    del self._mirrors[room]

    # -- answers first -----------------------------------------------------------------
    def asked(self, eio_sid: str, packet: str) -> None:
        """A Socket.IO packet just came from ``eio_sid`` (``Guard.on_message``, before it is
        decoded): an action or a control is now on its way to an answer."""
        if packet[:1] == "2" and packet.lstrip("0123456789").startswith(ASKS):
            self._asking[eio_sid] = time.monotonic()

    def expedite(self, sid: str) -> None:
        """Client ``sid``'s request was handled (its answer and any frame it made are in its
        queue): until its writer has taken them, ``answer_waiting`` says so."""
        eio_sid = self.eio_sid_from_sid(sid, "/")
        if eio_sid is not None:
            self._asking.pop(eio_sid, None)
            self._answers.add(eio_sid)

    def answer_waiting(self) -> bool:
        """Whether an action or a control is being handled (for ``ASK_PATIENCE`` at most),
        or an answer still waits in its client's queue (the clients whose queue has been
        emptied, or who left, are forgotten)."""
        if self._asking:
            now = time.monotonic()
            for eio_sid, since in list(self._asking.items()):
                if now - since < ASK_PATIENCE:
                    return True
                self._asking.pop(eio_sid, None)
        if not self._answers:
            return False
        for eio_sid in list(self._answers):
            if self._queued(eio_sid):
                return True
            self._answers.discard(eio_sid)
        return False

    # -- delivery --------------------------------------------------------------------
    def _queued(self, eio_sid) -> int:
        """How many packets wait in the client's transport queue (0 once it is gone)."""
        sock = self.server.eio.sockets.get(eio_sid) if self.server.eio else None
        return sock.queue.qsize() if sock is not None else 0

    def _behind(self, eio_sid) -> bool:
        return self._queued(eio_sid) > BACKLOG_LIMIT

    def _deliver(self, room: str, frame: dict, namespace: str) -> None:
        participants = list(self.get_participants(namespace, room))
        if not participants:
            return
        seq = frame.get("seq")
        catch_up = []
        skip = []
        with self._lock:
            mirror = self._mirrors.setdefault(room, Mirror())
            mirror.picture = serializer.merge(mirror.picture, frame)
            need_full = mirror.picture is None  # a delta without its base: ask for one
            for sid, eio_sid in participants:
                cursor = self._cursors.get(sid)
                if self._behind(eio_sid):
                    skip.append(sid)
                    self._cursors[sid] = None
                    self.stats["skipped"] += 1
                elif frame.get("full") or (cursor is not None and cursor == seq - 1):
                    self._cursors[sid] = seq
                elif mirror.picture is not None:
                    skip.append(sid)
                    catch_up.append(sid)
                    self._cursors[sid] = seq
                else:
                    skip.append(sid)
            # Queued under the lock (nothing here blocks), so a client joining meanwhile
            # cannot have a delta overtake its full frame.
            if len(skip) < len(participants):
                super().emit(FRAME, frame, namespace, room=room, skip_sid=skip)
                self.stats["sent"] += len(participants) - len(skip)
            if catch_up:
                full = serializer.full_from(mirror.picture)
                for sid in catch_up:
                    super().emit(FRAME, full, namespace, room=sid)
                    self.stats["full"] += 1
        if need_full and self.on_cluster is not None:
            self.on_cluster(CLUSTER_PREFIX + "need_full", {"session": room[len(ROOM_PREFIX):]})


class FanoutManager(FanoutMixin):
    """The client manager of a single server process."""


class FanoutRedisManager(RedisManager, FanoutMixin):
    """The client manager of one of several processes sharing a Redis message queue.

    ``RedisManager.emit`` publishes to every process and delivers locally through
    ``FanoutMixin.emit`` (next in the method order), as each other process does when the
    message arrives. Frames of a session that no other process watches skip Redis: every
    process would otherwise decode every frame of every session.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.watched_elsewhere = None  # callable(session id) -> bool, set by the app

    def emit(self, event, data, namespace=None, room=None, skip_sid=None, callback=None,
             to=None, **kwargs):
        room = to or room
        if (event == FRAME and isinstance(room, str) and room.startswith(ROOM_PREFIX)
                and self.watched_elsewhere is not None
                and not self.watched_elsewhere(room[len(ROOM_PREFIX):])):
            self._deliver(room, data, namespace or "/")
            return
        super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid,
                     callback=callback, **kwargs)
