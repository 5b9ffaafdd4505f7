"""The Socket.IO events of ``docs/protocol.md``: JSON in, engine calls, JSON out.

Each handler checks its payload (shape, size, session, token, rate), turns it into one
call on a :class:`~playground.web.session.Session` or the registry, and answers through
the acknowledgement: ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. Nothing
here knows a protocol; nothing raises to Socket.IO (a failure never drops a connection).

The handlers are declared here and bound to a Socket.IO extension by :func:`init_app`,
which the app factory calls (as a Flask extension's ``init_app`` binds it to an app):
this module imports nothing from ``app``.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import weakref

from flask import current_app, request
from flask_socketio import join_room, leave_room

from ..engine.errors import ScenarioError
from ..models import MODELS
from ..scenarios import presets, share
from ..scenarios.schema import command as parse_command
from ..scenarios.schema import plain, validate
from . import serializer
from .fanout import CLUSTER_PREFIX, REFUSED, RESERVED, UNDECODABLE, room_of
from .session import MIN_SPEED, offload

log = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
OPS = ("play", "pause", "step", "speed", "seek", "fork", "lecture", "script")
MAX_STEP_MS = 60_000


_HANDLERS: list[tuple[str, object]] = []  # (event, handler) in the order declared
_BOUND: "weakref.WeakSet" = weakref.WeakSet()  # the Socket.IO extensions bound already


def init_app(socketio) -> None:
    """Register every handler of this module with ``socketio`` (once per extension;
    call it before ``socketio.init_app(app)``, which hands them to each new server)."""
    if socketio in _BOUND:
        return
    _BOUND.add(socketio)
    for event, fn in _HANDLERS:
        socketio.on(event)(fn)


def _on(event: str):
    """Declare ``fn`` the handler of ``event`` (bound by :func:`init_app`)."""

    def wrap(fn):
        _HANDLERS.append((event, fn))
        return fn

    return wrap


class RequestError(Exception):
    """A request that cannot be served; the message goes back to the client as it is."""


def _registry():
    return current_app.extensions["playground"]


def _address() -> str:
    return _registry().address(request.environ)


def _limit(kind: str, config_key: str, what: str) -> None:
    rate = current_app.config[config_key]
    if not _registry().limits.take(_address(), kind, rate):
        raise RequestError(f"rate limit: at most {rate:g} {what} per second per client; "
                           "slow down")


def handler(event: str):
    """Register ``fn(payload) -> dict`` as the handler of ``event``, answering via the ack."""

    def wrap(fn):
        @functools.wraps(fn)
        def on_event(payload=None, *extra):
            try:
                if extra:
                    raise RequestError(f"'{event}' takes one JSON object, got {1 + len(extra)} "
                                       "arguments")
                if not isinstance(payload, dict):
                    raise RequestError(f"'{event}' takes one JSON object, got "
                                       f"{_kind(payload)}")
                try:
                    plain(payload)
                except ScenarioError as exc:
                    raise RequestError(f"the '{event}' payload: {exc}") from None
                limit = current_app.config["MAX_PAYLOAD_BYTES"]
                size = len(json.dumps(payload, separators=(",", ":")))
                if size > limit:
                    raise RequestError(f"the '{event}' payload is {size} bytes; the limit is "
                                       f"{limit}")
                return {"ok": True, **fn(payload)}
            except (RequestError, ScenarioError) as exc:
                return {"ok": False, "error": str(exc)}
            except Exception:
                log.exception("'%s' failed", event)
                return {"ok": False, "error": f"the server failed while handling '{event}' "
                                              "(the error is in its log)"}
            finally:  # what it sent this client goes out before the runners' next ticks
                _registry().manager.expedite(request.sid)

        _on(event)(on_event)
        return fn

    return wrap


def _kind(value) -> str:
    if value is None:
        return "nothing"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _field(payload: dict, name: str, types, what: str, required: bool = True):
    if name not in payload:
        if required:
            raise RequestError(f"'{name}' is missing ({what})")
        return None
    value = payload[name]
    if not isinstance(value, types) or isinstance(value, bool):  # JSON true is not a number
        raise RequestError(f"'{name}' must be {what}, not {_kind(value)}")
    return value


def _session_id(payload: dict) -> str:
    value = _field(payload, "session", str, "a session id string")
    if not SESSION_ID.match(value):
        raise RequestError("'session' is not a session id of this playground")
    return value


def _token(payload: dict) -> str | None:
    """The payload's token, if any; one that no session could have is refused here, so
    it is never hashed and compared."""
    token = _field(payload, "token", str, "the session's control token", required=False)
    if token is not None and not TOKEN.match(token):
        raise RequestError("wrong token: a control token is letters, digits, '-' and '_'")
    return token


def _controlled(payload: dict):
    """The session a request with a token controls (checks session, token, process)."""
    session_id = _session_id(payload)
    token = _token(payload)
    registry = _registry()
    session = registry.get(session_id)
    if session is None:
        entry = registry.elsewhere(session_id)
        if entry is not None:
            raise RequestError(f"session {session_id} runs on another server process; control "
                               "requests must reach the process that created it (sticky "
                               "sessions)")
        raise RequestError(f"no session {session_id} (it ended, expired, or never existed)")
    leader = getattr(session, "leader", None)
    if leader is not None:
        raise RequestError(f"session {session_id} is run b of a comparison: it moves with "
                           f"run a (session {leader.id}); control that one")
    if token is None:
        raise RequestError("this client watches read-only: controlling a session needs its "
                           "token")
    if not session.token_ok(token):
        raise RequestError(f"wrong token for session {session_id}: only its owner controls "
                           "it")
    return session


def _scenario(source) -> dict:
    if isinstance(source, dict):
        return validate(source)
    if not isinstance(source, str) or not source.strip():
        raise RequestError("'scenario' must be a preset name, a scenario object or a share "
                           f"link, not {_kind(source)}")
    source = source.strip()
    if source in presets():
        return presets()[source]
    if share.looks_like_share(source):
        return share.decode(source)
    raise RequestError(f"no preset named '{source[:80]}', and it is not a share link")


@handler("create")
def on_create(payload: dict) -> dict:
    _limit("create", "CREATES_PER_SECOND", "new sessions")
    if "scenario" not in payload:
        raise RequestError("'scenario' is missing (a preset name, a scenario object or a "
                           "share link)")
    scenario = offload(_registry().socketio, _scenario, payload["scenario"])
    settings = _field(payload, "compare", dict, "the switches or parameters to change, "
                      "such as {\"prevote\": true}", required=False)
    if settings is not None:  # the same run twice, side by side: a compare pair
        if not settings:
            raise RequestError("'compare' names no switch or parameter to change")
        kept = {k: v for k, v in scenario.items() if k not in ("compare", "name")}
        scenario = validate({**kept, "compare": {"set": settings}})
    session = _registry().create(scenario, owner=_address())
    return {"session": session.id, "token": session.token, "share_url": session.share_url,
            "watch_url": session.watch_url}


@handler("join")
def on_join(payload: dict) -> dict:
    _limit("join", "CONTROLS_PER_SECOND", "requests")
    session_id = _session_id(payload)
    token = _token(payload)
    registry = _registry()
    session = registry.get(session_id)
    extra = {}
    if session is not None:
        if token is not None and not session.token_ok(token):
            raise RequestError(f"wrong token for session {session_id}; join without a token "
                               "to watch")
        role = "watch" if token is None else "control"
        metadata = session.metadata()
        if session.resumed:
            extra["resumed"] = True  # taken over from a process that is gone
    else:
        entry = registry.elsewhere(session_id)
        if entry is None:
            raise RequestError(f"no session {session_id} (it ended, expired, or never existed)")
        if token is not None and not registry.token_matches(entry, token):
            raise RequestError(f"wrong token for session {session_id}; join without a token "
                               "to watch")
        role = "watch"
        metadata = entry["scenario"]
        if token is not None:
            extra["note"] = ("this session runs on another server process: this connection "
                             "can watch it but not control it")
    previous = registry.clients.get(request.sid)
    if previous is not None:
        leave_room(room_of(previous))
        registry.unwatch(request.sid)
    join_room(room_of(session_id))
    registry.watch(request.sid, session_id)
    return {"role": role, "scenario": metadata,
            "models": {metadata["model"]: serializer.model_info(MODELS[metadata["model"]])},
            **extra}


@handler("leave")
def on_leave(payload: dict) -> dict:
    session_id = _session_id(payload)
    registry = _registry()
    if registry.clients.get(request.sid) != session_id:
        raise RequestError(f"this client does not watch session {session_id}")
    leave_room(room_of(session_id))
    registry.unwatch(request.sid)
    return {}


@handler("control")
def on_control(payload: dict) -> dict:
    _limit("control", "CONTROLS_PER_SECOND", "control requests")
    session = _controlled(payload)
    op = _field(payload, "op", str, f"one of {', '.join(OPS)}")
    if op not in OPS:
        raise RequestError(f"unknown op '{op[:40]}' (ops are {', '.join(OPS)})")
    value = payload.get("value")
    if op == "speed":
        cap = current_app.config["MAX_SPEED"]
        if value != "max" and (not isinstance(value, (int, float)) or isinstance(value, bool)
                               or not MIN_SPEED <= value <= cap):
            raise RequestError(f"speed: 'value' is a number from {MIN_SPEED} to {cap:g} "
                               "(simulated seconds per wall second) or \"max\"")
    elif op in ("seek", "play") and (value is not None or op == "seek"):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise RequestError(f"{op}: 'value' is a simulated time in ms, 0 or more"
                               + (" (where to stop), or omitted" if op == "play" else ""))
    elif op == "lecture":
        if not isinstance(value, bool):
            raise RequestError("lecture: 'value' is true (lecture mode: captions stay on "
                               "screen) or false")
    elif op == "step":
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                  or not 0 < value <= MAX_STEP_MS):
            raise RequestError(f"step: 'value' is omitted (the next event) or a number of "
                               f"simulated ms from 0 to {MAX_STEP_MS}")
    elif value is not None:
        raise RequestError(f"'{op}' takes no 'value'")
    answer = session.control(op, value)
    _kept(session)
    return answer


@handler("act")
def on_act(payload: dict) -> dict:
    _limit("act", "ACTIONS_PER_SECOND", "actions")
    session = _controlled(payload)
    action = _field(payload, "action", dict, "a command object such as "
                    "{\"type\": \"crash\", \"node\": \"n2\"}")
    if "at_ms" in action:
        raise RequestError("action: live actions happen now; 'at_ms' belongs in scenario "
                           "files")
    command = parse_command(session.scenario["model"], action, session.sim.node_ids)
    answer = session.act(command)
    _kept(session)
    return answer


def _kept(session) -> None:
    """Save the session's record, so that it survives this process; RequestError when
    another process took the session over meanwhile (this copy stopped, the request
    with it)."""
    if not _registry().changed(session):
        raise RequestError(f"session {session.id} was taken over by another server process "
                           "while this one did not answer; this request was not kept: join "
                           "the session again")


@handler("inspect")
def on_inspect(payload: dict) -> dict:
    """One trace record in full (a message's body), for any client of the session."""
    _limit("inspect", "CONTROLS_PER_SECOND", "requests")
    session_id = _session_id(payload)
    index = _field(payload, "event", int, "a trace record index (a message's id)")
    session = _registry().get(session_id)
    if session is None:
        if _registry().elsewhere(session_id) is not None:
            raise RequestError(f"session {session_id} runs on another server process")
        raise RequestError(f"no session {session_id} (it ended, expired, or never existed)")
    record = session.trace_record(index)
    if record is None:
        raise RequestError(f"event {index} is not in the trace up to now")
    return {"record": record}


@handler("find")
def on_find(payload: dict) -> dict:
    """Start "find a counterexample" on the session's scenario as recorded so far
    (optionally for one invariant); progress and the answer come as ``search`` events."""
    _limit("find", "CONTROLS_PER_SECOND", "requests")
    session = _controlled(payload)
    invariant = _field(payload, "invariant", str, "the name of one of the model's "
                       "invariants", required=False)
    names = [i.name for i in MODELS[session.scenario["model"]].invariants]
    if invariant is not None and invariant not in names:
        raise RequestError(f"find: model '{session.scenario['model']}' has no invariant "
                           f"'{invariant[:60]}' (it has {', '.join(names)})")
    finder = _registry().searches.start(session.id, share.decode(session.share), invariant,
                                        room_of(session.id))
    return {"limit": finder.limit}


@handler("find_cancel")
def on_find_cancel(payload: dict) -> dict:
    """Stop the session's search (its worker process ends at once)."""
    session = _controlled(payload)
    if not _registry().searches.cancel(session.id):
        raise RequestError("no search is running for this session")
    return {}


@_on(UNDECODABLE)
def on_undecodable(*_args):
    return {"ok": False, "error": "the request is not valid JSON, or not an event (an array "
                                  "that starts with the event's name), or it nests too "
                                  "deeply"}


@_on("*")
def on_unknown(event, *_args):
    return _unknown(event)


@_on(REFUSED)
def on_reserved(event=None, *_args):
    """An event named like one the library or the playground reserves (``JsonPacket``)."""
    return _unknown(event)


def _unknown(event) -> dict:
    names = ", ".join(name for name, _ in _HANDLERS
                      if name not in RESERVED and not name.startswith(CLUSTER_PREFIX))
    return {"ok": False, "error": f"unknown event '{str(event)[:40]}' (events are {names})"}


@_on("disconnect")
def on_disconnect(*_reason):
    """A client went away (only the library calls this: a client's own event named
    ``disconnect`` is turned into a refusal by ``fanout.JsonPacket``). Its address keeps
    its rate limits."""
    _registry().unwatch(request.sid, disconnecting=True)
