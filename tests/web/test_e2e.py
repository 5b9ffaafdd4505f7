"""End to end: ``python app.py`` (eventlet) driven by the python-socketio client."""

from __future__ import annotations

import time

import pytest
import requests

from tests.web.conftest import status_of
from tests.web.serve import LOCAL_LIMITS, Client, start_server, stop

pytestmark = pytest.mark.e2e

SCENARIO = {"model": "toy", "seed": 11, "nodes": 5, "duration_ms": 120_000}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # The toy model lives in tests; a raft or other preset would do as well, but the
    # server must not depend on which models have landed, so the e2e server loads toy.
    log = open(tmp_path_factory.mktemp("e2e") / "server.log", "w+")
    proc, url = start_server(env={**LOCAL_LIMITS, "PLAYGROUND_EXTRA_MODELS": "tests.engine.toy"},
                             log=log)
    yield url
    stop(proc)
    log.seek(0)
    text = log.read()
    log.close()
    assert "Traceback" not in text, text[-4000:]


@pytest.fixture
def clients(server):
    made = []

    def make():
        client = Client(server)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def test_pages_and_api(server):
    assert requests.get(server + "/", timeout=5).status_code == 200
    assert requests.get(server + "/w/abc?embed=1", timeout=5).status_code == 200
    models = requests.get(server + "/api/models", timeout=5).json()
    assert "toy" in models and models["toy"]["fault_types"]
    assert isinstance(requests.get(server + "/api/presets", timeout=5).json(), list)
    missing = requests.get(server + "/api/sessions/nosuchsession/trace.json", timeout=5)
    assert missing.status_code == 404 and missing.json()["ok"] is False


def test_lecture_flow(server, clients):
    lecturer, student = clients(), clients()
    made = lecturer.call("create", {"scenario": SCENARIO})
    assert made["ok"], made
    ids = {"session": made["session"], "token": made["token"]}
    assert lecturer.call("join", ids)["role"] == "control"
    assert student.call("join", {"session": made["session"]})["role"] == "watch"
    first = student.wait_for(lambda f: f.get("full"))
    assert len(first[0]["nodes"]) == 5
    assert lecturer.call("control", {**ids, "op": "play"})["ok"]
    student.collect(15)

    crash = lecturer.call("act", {**ids, "action": {"type": "crash", "node": "n3"}})
    assert crash["ok"], crash
    seen = student.wait_for(lambda f: status_of(f, "n3") == "crashed")
    assert any(e[2] == "command" and e[5] == {"type": "crash", "node": "n3"}
               for f in seen for e in f.get("events", ()))

    refused = student.call("control", {"session": made["session"], "op": "pause"})
    assert refused["ok"] is False and "read-only" in refused["error"]
    refused = student.call("act", {"session": made["session"], "token": "guess",
                                   "action": {"type": "restart", "node": "n3"}})
    assert refused["ok"] is False and "wrong token" in refused["error"]

    trace = requests.get(f"{server}/api/sessions/{made['session']}/trace.json",
                         params={"token": made["token"]}, timeout=10)
    assert trace.status_code == 200
    records = trace.json()
    assert records[0]["i"] == 0 and any(r["kind"] == "command" for r in records)


MALFORMED = {
    "create": [None, [], {"scenario": 5}, {"scenario": "nope"}, {"scenario": {"model": "x"}}],
    "join": [7, {}, {"session": 1}, {"session": "A" * 22}],
    "leave": ["x", {"session": "B" * 22}],
    "control": [{"op": "play"}, {"session": "C" * 22, "token": "t", "op": "play"}],
    "act": [{"session": "D" * 22}, True],
    "inspect": [{}, {"session": "E" * 22, "event": 1}],
    "no-such-event": [{}],
}


def undecodable(server: str, session_id: str) -> dict:
    """Send requests no JSON parser accepts on a raw connection; the answer to the last."""
    from urllib.parse import urlparse

    from tests.web.serve import RawClient

    address = urlparse(server)
    raw = RawClient(address.hostname, address.port, session_id)
    try:
        raw.sock.settimeout(5)
        while 0 not in raw.acks:  # connected and joined
            raw.feed(time.monotonic())
        raw.sock.sendall(_long_frame('421["act",' + "[" * 50_000 + "]" * 50_000 + "]"))
        raw.sock.sendall(_long_frame('422["act",{"session": nope}]'))
        while 2 not in raw.acks:
            raw.feed(time.monotonic())
        assert raw.acks[1] == raw.acks[2]
        return raw.acks[2]
    finally:
        raw.sock.close()


def _long_frame(text: str) -> bytes:
    data = text.encode()
    mask = bytes(4)  # a zero mask leaves the payload as it is
    return bytes([0x81, 0xFF]) + len(data).to_bytes(8, "big") + mask + data


def test_malformed_payloads_are_answered_while_the_session_streams(server, clients):
    lecturer, watcher = clients(), clients()
    made = lecturer.call("create", {"scenario": SCENARIO})
    ids = {"session": made["session"], "token": made["token"]}
    lecturer.call("join", ids)
    watcher.call("join", {"session": made["session"]})
    lecturer.call("control", {**ids, "op": "play"})
    watcher.wait_for(lambda f: not f.get("full"))
    for event, payloads in MALFORMED.items():
        for payload in payloads:
            answer = lecturer.call(event, payload)
            assert answer["ok"] is False and answer["error"], (event, payload, answer)
    own = [lecturer.call("control", {**ids, "op": "speed", "value": "fast"}),
           lecturer.call("control", {**ids, "op": "seek", "value": 10**9}),
           lecturer.call("act", {**ids, "action": {"type": "crash", "node": "n42"}}),
           lecturer.call("act", {**ids, "action": {"type": "cut", "from": "n1"}}),
           lecturer.call("create", {"scenario": "x" * 200_000})]
    assert all(a["ok"] is False for a in own), own
    assert "limit" in own[-1]["error"]
    assert lecturer.sio.connected and watcher.sio.connected
    answer = undecodable(server, made["session"])
    assert answer["ok"] is False and answer["error"].startswith("the request is not valid JSON")
    watcher.take()
    watcher.collect(10)  # still streaming


def test_library_breaking_packets_are_answered_or_ignored_and_binary_closes(server, clients):
    """Packets that raise inside the Socket.IO library are survived without a traceback
    (the fixture checks the log), and a binary attachment closes the connection."""
    from urllib.parse import urlparse

    from tests.web.serve import RawClient, _ws_frame

    owner = clients()
    made = owner.call("create", {"scenario": SCENARIO})
    assert made.get("ok"), made
    address = urlparse(server)
    raw = RawClient(address.hostname, address.port, made["session"])
    try:
        raw.sock.settimeout(5)
        while 0 not in raw.acks:  # connected and joined
            raw.feed(time.monotonic())
        for _ in range(100):
            for packet in ('42[]', '42{}', '42null', '42["*"]', '42["*",1,2]', '42',
                           '42["disconnect"]', '44{}', '4/x,["a"]'):
                raw.sock.sendall(_ws_frame(packet))
        raw.sock.sendall(_ws_frame('421["disconnect",{}]'))
        while 1 not in raw.acks:
            raw.feed(time.monotonic())
        assert raw.acks[1]["ok"] is False and "unknown event 'disconnect'" in raw.acks[1]["error"]
        raw.sock.sendall(_ws_frame('45999999-["create",{"_placeholder":true,"num":0}]'))
        with pytest.raises(ConnectionError):
            for _ in range(1000):
                raw.sock.sendall(bytes([0x82, 0x80 | 100]) + bytes(4) + bytes(100))
                raw.feed(time.monotonic())
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed while we were still sending: also refused
    finally:
        raw.sock.close()
    assert owner.call("join", {"session": made["session"]})["ok"]  # the server is fine


def test_a_client_that_stops_reading_skips_stale_frames(server, clients):
    """Real back-pressure: a watcher whose socket is not read falls behind; the others
    keep their frame rate, and when it reads again it gets a full frame of the present
    rather than the seconds of frames it missed."""
    from urllib.parse import urlparse

    from tests.web.serve import RawClient

    lecturer, fast = clients(), clients()
    made = lecturer.call("create", {"scenario": {**SCENARIO, "duration_ms": 3_600_000}})
    ids = {"session": made["session"], "token": made["token"]}
    lecturer.call("join", ids)
    fast.call("join", {"session": made["session"]})
    address = urlparse(server)
    slow = RawClient(address.hostname, address.port, made["session"], rcvbuf=4096)
    try:
        slow.sock.settimeout(2)
        while not slow.seqs:  # connected and joined
            slow.feed(time.monotonic())
        lecturer.call("control", {**ids, "op": "speed", "value": 10})  # big frames
        lecturer.call("control", {**ids, "op": "play"})
        fast.take()
        fast.collect(120, timeout=30)  # nobody waits for the slow client, which reads nothing
        slow.sock.settimeout(0.2)
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            try:
                slow.feed(time.monotonic())
            except (TimeoutError, OSError):
                pass
        newest = fast.take()[-1]["seq"]
        jumps = [i for i in range(1, len(slow.seqs)) if slow.seqs[i] != slow.seqs[i - 1] + 1]
        assert jumps, "the slow client was sent every frame"
        assert all(slow.fulls[i] for i in jumps)  # it resumes with a full frame each time
        skipped = sum(slow.seqs[i] - slow.seqs[i - 1] - 1 for i in jumps)
        assert skipped >= 30, skipped  # over a second of stale frames never sent
        assert newest - slow.seqs[-1] <= 3  # and it ends up current
    finally:
        lecturer.call("control", {**ids, "op": "pause"})
        slow.sock.close()


def test_the_threading_switch_serves_the_same_protocol(tmp_path):
    """``PLAYGROUND_ASYNC=threading python app.py``: Werkzeug's threaded server."""
    log = open(tmp_path / "server.log", "w+")
    proc, url = start_server(env={"PLAYGROUND_ASYNC": "threading",
                                  "PLAYGROUND_EXTRA_MODELS": "tests.engine.toy"}, log=log)
    client = None
    try:
        client = Client(url)
        made = client.call("create", {"scenario": SCENARIO})
        ids = {"session": made["session"], "token": made["token"]}
        assert client.call("join", ids)["role"] == "control"
        assert client.call("control", {**ids, "op": "play"})["ok"]
        client.wait_for(lambda f: f["t_ms"] > 300)
        assert client.call("act", {**ids, "action": {"type": "crash", "node": "n2"}})["ok"]
        client.wait_for(lambda f: status_of(f, "n2") == "crashed")
    finally:
        if client is not None:
            client.close()
        stop(proc)
        log.seek(0)
        text = log.read()
        log.close()
    assert "Traceback" not in text, text[-4000:]
