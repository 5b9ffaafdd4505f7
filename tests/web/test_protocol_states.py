"""The socket protocol as a state machine (Hypothesis stateful testing).

Hypothesis drives sequences of requests from a few in-process test clients: create
(presets, scenario objects, share links, broken scenarios), join with and without
the token, control and act with valid and invalid values, inspect, leave, payloads of
any JSON shape sent to any event name (reserved ones included) and raw Socket.IO
packets through the guard. After every step it checks:

* every answer is ``{"ok": true, ...}`` or ``{"ok": false, "error": <a specific
  message>}`` (never the generic "server failed", never nothing);
* nothing was logged at ERROR or with a traceback;
* a bystander session that no rule touches is exactly as it was (same simulated time,
  same trace, no failure) and its watcher is still connected and watching it.

A failure shrinks to a short program of requests that can be replayed.
"""

from __future__ import annotations

import logging

import hypothesis.strategies as st
from hypothesis import note
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from playground import create_app, socketio

TOY = {"model": "toy", "seed": 7, "nodes": 5, "duration_ms": 60_000}
EVENTS = ["create", "join", "leave", "control", "act", "inspect", "find", "find_cancel",
          "connect", "disconnect", "connect_error", "*", "playground:watchers", "message",
          "nonsense", ""]
GENERIC = "the server failed"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)
nodes = st.sampled_from(["n1", "n2", "n3", "n4", "n5", "n9", "", "client"])
actions = st.one_of(
    st.builds(lambda t, n: {"type": t, "node": n},
              st.sampled_from(["crash", "restart", "pause", "resume", "poke", "explode"]), nodes),
    st.builds(lambda a, b, one: {"type": "cut", "from": a, "to": b, "oneway": one},
              nodes, nodes, st.booleans()),
    st.builds(lambda n, off: {"type": "skew", "node": n, "offset_ms": off}, nodes,
              st.floats(-1e6, 1e6) | st.integers() | st.text(max_size=3)),
    st.just({"type": "heal"}),
    json_values,
)
op_values = st.one_of(st.none(), st.integers(-10, 70_000), st.floats(allow_nan=True),
                      st.sampled_from(["max", "fast", ""]), json_values)
scenarios = st.one_of(
    st.sampled_from(["raft-election", "no-such-preset", "", "1.damaged", "/s/abc"]),
    st.builds(lambda seed, n, dur: {**TOY, "seed": seed, "nodes": n, "duration_ms": dur},
              st.integers(0, 2**63 - 1), st.integers(0, 120), st.integers(-1, 3_600_001)),
    st.builds(lambda title: {**TOY, "title": title}, st.text(max_size=30)),
    json_values,
)


class Protocol(RuleBasedStateMachine):
    """See the module docstring."""

    sessions = Bundle("sessions")

    def __init__(self):
        super().__init__()
        import tempfile
        from pathlib import Path

        folder = Path(tempfile.mkdtemp(prefix="playground-states-"))
        (folder / "play.html").write_text("x")
        self.app = create_app({"ASYNC": "threading", "TEMPLATE_FOLDER": str(folder),
                               "TESTING": True, "DATA_DIR": str(folder / "data"),
                               "CREATES_PER_SECOND": 20, "SESSIONS_PER_ADDRESS": 12})
        self.registry = self.app.extensions["playground"]
        self.clients = [socketio.test_client(self.app) for _ in range(3)]
        self.logged = Logged()
        logging.getLogger().addHandler(self.logged)
        bystander = socketio.test_client(self.app)
        made = bystander.emit("create", {"scenario": TOY}, callback=True)
        assert bystander.emit("join", {"session": made["session"]}, callback=True)["ok"]
        self.bystander = (bystander, made["session"])
        session = self.registry.get(made["session"])
        self.bystander_state = self._state(session)

    @staticmethod
    def _state(session):
        return (session.sim.now, len(session.sim.trace), session.failure,
                list(session.sim.commands))

    def _answer(self, client, event, *args):
        if not client.is_connected():  # a raw packet (a second CONNECT, say) ended it
            client.connect()
        answer = client.emit(event, *args, callback=True)
        note(f"{event} {args!r:.200} -> {answer!r:.200}")
        assert isinstance(answer, dict) and isinstance(answer.get("ok"), bool), answer
        if not answer["ok"]:
            error = answer.get("error")
            assert isinstance(error, str) and error and GENERIC not in error, answer
        return answer

    # -- rules ---------------------------------------------------------------------------
    @rule(target=sessions, who=st.integers(0, 2), scenario=scenarios)
    def create(self, who, scenario):
        answer = self._answer(self.clients[who], "create", {"scenario": scenario})
        if answer["ok"]:
            return (answer["session"], answer["token"])
        return ("A" * 22, "x")  # a session id nobody has: requests about it are refused

    @rule(who=st.integers(0, 2), ids=sessions, token=st.sampled_from(["own", "none", "wrong",
                                                                      "é", "number"]))
    def join(self, who, ids, token):
        payload = {"session": ids[0]}
        if token != "none":
            payload["token"] = {"own": ids[1], "wrong": "x" * 32, "é": "é",
                                "number": 5}[token]
        self._answer(self.clients[who], "join", payload)

    @rule(who=st.integers(0, 2), ids=sessions)
    def leave(self, who, ids):
        self._answer(self.clients[who], "leave", {"session": ids[0]})

    @rule(who=st.integers(0, 2), ids=sessions, op=st.sampled_from(
        ["play", "pause", "step", "speed", "seek", "fork", "jump"]), value=op_values,
        with_value=st.booleans())
    def control(self, who, ids, op, value, with_value):
        payload = {"session": ids[0], "token": ids[1], "op": op}
        if with_value:
            payload["value"] = value
        self._answer(self.clients[who], "control", payload)

    @rule(who=st.integers(0, 2), ids=sessions, action=actions)
    def act(self, who, ids, action):
        self._answer(self.clients[who], "act", {"session": ids[0], "token": ids[1],
                                                "action": action})

    @rule(who=st.integers(0, 2), ids=sessions, index=st.integers(-5, 10_000) | json_values)
    def inspect(self, who, ids, index):
        self._answer(self.clients[who], "inspect", {"session": ids[0], "event": index})

    @rule(who=st.integers(0, 2), event=st.sampled_from(EVENTS),
          args=st.lists(json_values, max_size=3))
    def anything(self, who, event, args):
        self._answer(self.clients[who], event, *args)

    @rule(who=st.integers(0, 2), packet=st.one_of(
        st.text(max_size=40), st.sampled_from(["2[]", "2{}", "2null", '2["*"]', "21[]",
                                               '22["disconnect"]', "3", "4{}", "7"])))
    def raw_packet(self, who, packet):
        """A Socket.IO packet as the Engine.IO layer would hand it over."""
        client = self.clients[who]
        if client.is_connected():
            self.app.extensions["playground_guard"].on_message(client.eio_sid, packet)

    # -- invariants ----------------------------------------------------------------------
    @invariant()
    def nothing_logged_as_a_failure(self):
        assert not self.logged.records, [r.getMessage()[:300] for r in self.logged.records]

    @invariant()
    def the_bystander_is_untouched(self):
        client, session_id = self.bystander
        session = self.registry.get(session_id)
        assert session is not None, "the bystander session is gone"
        assert self._state(session) == self.bystander_state, (self._state(session),
                                                              self.bystander_state)
        sid = socketio.server.manager.sid_from_eio_sid(client.eio_sid, "/")
        assert client.is_connected() and self.registry.clients.get(sid) == session_id

    def teardown(self):
        logging.getLogger().removeHandler(self.logged)
        for client in [*self.clients, self.bystander[0]]:
            if client.is_connected():
                client.disconnect()
        for session_id in list(self.registry.sessions):
            self.registry.close(session_id)


class Logged(logging.Handler):
    """Keeps records at ERROR and above, and any with a traceback."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)


TestProtocol = Protocol.TestCase
