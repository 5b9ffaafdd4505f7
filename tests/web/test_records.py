"""Sessions survive their process: rebuilt from their record in the store, same trace."""

from __future__ import annotations

import json
import shutil
import time
from types import SimpleNamespace

import pytest

from playground import create_app, socketio
from playground.engine import trace as T
from playground.scenarios import presets
from playground.web.fanout import room_of
from playground.web.records import PREFIX
from playground.web.registry import DIRECTORY_PREFIX, SAVE_EVERY, Directory
from tests.web.conftest import toy_scenario, wait_for
from tests.web.serve import start_redis, stop

SCENARIO = toy_scenario(commands=[{"at_ms": 200, "type": "poke", "node": "n1"}])


@pytest.fixture
def process(tmp_path):
    """Start "server processes" (apps) on one data folder; ``die()`` ends one the way a
    killed process ends: its sessions stop, nothing is closed or deleted."""
    (tmp_path / "play.html").write_text("x")
    apps = []

    def start():
        app = create_app({"ASYNC": "threading", "TEMPLATE_FOLDER": str(tmp_path),
                          "TESTING": True, "DATA_DIR": str(tmp_path / "data")})
        apps.append(app)
        return app

    def die(app):
        for session in list(app.extensions["playground"].sessions.values()):
            session.close()

    yield start, die
    for app in apps:
        registry = app.extensions["playground"]
        for session_id in list(registry.sessions):
            registry.close(session_id)


def test_a_session_is_rebuilt_after_a_restart_with_the_same_trace(process):
    start, die = process
    first = start()
    owner = socketio.test_client(first)
    made = owner.emit("create", {"scenario": SCENARIO}, callback=True)
    ids = {"session": made["session"], "token": made["token"]}
    assert owner.emit("join", ids, callback=True)["ok"]
    assert owner.emit("control", {**ids, "op": "step", "value": 700}, callback=True)["ok"]
    acted = owner.emit("act", {**ids, "action": {"type": "crash", "node": "n2"}}, callback=True)
    assert acted["ok"]
    assert owner.emit("control", {**ids, "op": "step", "value": 800}, callback=True)["ok"]
    before = first.extensions["playground"].get(made["session"])
    trace_hash, now = T.sha256(before.sim.trace), before.sim.now
    stored = first.extensions["playground_store"].get(PREFIX + made["session"])
    assert made["token"].encode() not in stored  # only its hash is kept
    die(first)

    second = start()
    presenter = socketio.test_client(second)
    joined = presenter.emit("join", ids, callback=True)
    assert joined["ok"] and joined["role"] == "control", joined
    rebuilt = second.extensions["playground"].get(made["session"])
    assert rebuilt.sim.now == now and T.sha256(rebuilt.sim.trace) == trace_hash
    assert rebuilt.share_url == acted["share_url"]
    full = [f for f in wait_for(presenter, lambda f: f.get("full")) if f.get("full")]
    assert full[-1]["t_ms"] == now / 1000
    wrong = presenter.emit("control", {**ids, "token": "x" * 32, "op": "play"}, callback=True)
    assert wrong["ok"] is False and "wrong token" in wrong["error"]
    assert presenter.emit("control", {**ids, "op": "step", "value": 100}, callback=True)["ok"]
    assert rebuilt.sim.now == now + 100_000


def test_a_playing_session_plays_on_after_a_restart(process):
    start, die = process
    first = start()
    owner = socketio.test_client(first)
    made = owner.emit("create", {"scenario": SCENARIO}, callback=True)
    ids = {"session": made["session"], "token": made["token"]}
    owner.emit("join", ids, callback=True)
    owner.emit("control", {**ids, "op": "speed", "value": 2}, callback=True)
    owner.emit("control", {**ids, "op": "play"}, callback=True)
    wait_for(owner, lambda f: f["t_ms"] > 100)
    first.extensions["playground"].changed(first.extensions["playground"].get(made["session"]))
    die(first)

    second = start()
    watcher = socketio.test_client(second)
    assert watcher.emit("join", {"session": made["session"]}, callback=True)["ok"]
    session = second.extensions["playground"].get(made["session"])
    assert session.playing and session.speed == 2
    at = session.sim.now
    wait_for(watcher, lambda f: f["t_ms"] * 1000 > at)


def test_closing_deletes_the_record_and_an_old_record_is_not_rebuilt(process):
    start, die = process
    app = start()
    client = socketio.test_client(app)
    registry, store = app.extensions["playground"], app.extensions["playground_store"]
    closed = client.emit("create", {"scenario": SCENARIO}, callback=True)["session"]
    registry.close(closed)
    assert store.get(PREFIX + closed) is None
    old = client.emit("create", {"scenario": SCENARIO}, callback=True)["session"]
    record = json.loads(store.get(PREFIX + old))
    store.put(PREFIX + old, json.dumps({**record, "saved_at": time.time() - 10_000}).encode())
    die(app)

    again = start()
    answer = socketio.test_client(again).emit("join", {"session": old}, callback=True)
    assert answer["ok"] is False and "no session" in answer["error"]
    assert again.extensions["playground_store"].get(PREFIX + old) is None
    for damaged in (b"{", json.dumps({**record, "share": "1.AAAA"}).encode()):
        again.extensions["playground_store"].put(PREFIX + old, damaged)
        assert again.extensions["playground"].get(old) is None


def _create(app, scenario=SCENARIO):
    client = socketio.test_client(app)
    made = client.emit("create", {"scenario": scenario}, callback=True)
    ids = {"session": made["session"], "token": made["token"]}
    assert client.emit("join", ids, callback=True)["ok"]
    return client, ids


def test_a_compare_pair_comes_back_through_either_run(process):
    start, die = process
    first = start()
    owner, ids = _create(first, "compare-heartbeat-hysteresis")
    assert owner.emit("control", {**ids, "op": "step", "value": 2500}, callback=True)["ok"]
    assert owner.emit("control", {**ids, "op": "seek", "value": 1200}, callback=True)["ok"]
    a = first.extensions["playground"].get(ids["session"])
    b_id = a.twin.id
    expected = (a.sim.now, a.history.frontier, T.sha256(a.sim.trace),
                T.sha256(a.twin.sim.trace))
    die(first)

    second = start()
    watcher = socketio.test_client(second)
    joined = watcher.emit("join", {"session": b_id}, callback=True)  # run b's watch link
    assert joined["ok"] and joined["resumed"] is True, joined
    registry = second.extensions["playground"]
    a2 = registry.sessions[ids["session"]]
    assert registry.sessions[b_id] is a2.twin
    assert (a2.sim.now, a2.history.frontier, T.sha256(a2.sim.trace),
            T.sha256(a2.twin.sim.trace)) == expected
    assert a2.scenario["compare"] == presets()["compare-heartbeat-hysteresis"]["compare"]
    assert watcher.emit("control", {**ids, "op": "step", "value": 100}, callback=True)["ok"]
    assert a2.twin.sim.now == a2.sim.now == 1_300_000
    registry.close(ids["session"])
    store = second.extensions["playground_store"]
    assert store.get(PREFIX + ids["session"]) is None and store.get(PREFIX + b_id) is None


def test_of_two_processes_that_find_an_orphan_one_takes_it_over(process):
    start, die = process
    first = start()
    _owner, ids = _create(first)
    die(first)
    store = first.extensions["playground_store"]
    found = json.loads(store.get(PREFIX + ids["session"]))  # what both read
    assert found["owner"] == first.extensions["playground"].process
    second, third = start(), start()
    taken = second.extensions["playground"].get(ids["session"])
    assert taken is not None and taken.resumed
    assert third.extensions["playground"].records.claim(ids["session"], found) is False
    # The record names its new owner now: should that one die, it is taken over again.
    saved = json.loads(store.get(PREFIX + ids["session"]))
    assert saved["owner"] == second.extensions["playground"].process
    assert third.extensions["playground"].records.claim(ids["session"], saved) is True


def test_watchers_get_a_resumed_event(process):
    start, die = process
    first = start()
    _owner, ids = _create(first)
    die(first)
    second = start()
    watcher = socketio.test_client(second)
    registry = second.extensions["playground"]
    sid = registry.manager.sid_from_eio_sid(watcher.eio_sid, "/")
    registry.manager.enter_room(sid, "/", room_of(ids["session"]))  # as if it watched
    assert registry.get(ids["session"]) is not None
    events = [p["args"][0] for p in watcher.get_received() if p["name"] == "resumed"]
    assert events == [{"session": ids["session"], "t_ms": 0.0}]


@pytest.fixture(scope="module")
def redis_url():
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server (Debian package redis-server)")
    proc, url = start_redis()
    try:
        yield url
    finally:
        stop(proc)


def resumed_events(client) -> list[dict]:
    return [p["args"][0] for p in client.get_received() if p["name"] == "resumed"]


@pytest.fixture
def given_up(tmp_path, redis_url):
    """A process with a directory on Redis (as MESSAGE_QUEUE gives it; Flask-SocketIO's
    test client refuses a message queue, so records stay in the SQLite store), a session
    it runs, its presenter and a watcher, and ``take_over()``: what process "b" does
    while this one is stalled past HOST_TTL (it rebuilds the session from its record and
    runs it: the record and the directory entry name b, and b beats)."""
    (tmp_path / "play.html").write_text("x")
    app = create_app({"ASYNC": "threading", "TEMPLATE_FOLDER": str(tmp_path),
                      "TESTING": True, "DATA_DIR": str(tmp_path / "data")})
    registry, store = app.extensions["playground"], app.extensions["playground_store"]
    registry.directory = Directory(redis_url)
    presenter, watcher = socketio.test_client(app), socketio.test_client(app)
    made = presenter.emit("create", {"scenario": SCENARIO}, callback=True)
    ids = {"session": made["session"], "token": made["token"]}
    assert presenter.emit("join", ids, callback=True)["role"] == "control"
    assert watcher.emit("join", {"session": ids["session"]}, callback=True)["ok"]
    assert presenter.emit("control", {**ids, "op": "step", "value": 300}, callback=True)["ok"]

    def take_over() -> bytes:
        record = json.loads(store.get(PREFIX + ids["session"]))
        assert record["owner"] == registry.process
        taken = json.dumps({**record, "owner": "b", "t_ms": 250.0}).encode()
        store.put(PREFIX + ids["session"], taken)
        key = DIRECTORY_PREFIX + ids["session"]
        entry = json.loads(registry.directory.redis.get(key))
        registry.directory.redis.set(key, json.dumps({**entry, "host": "b"}))
        registry.directory.beat("b")
        for client in (presenter, watcher):
            client.get_received()
        return taken

    yield SimpleNamespace(app=app, registry=registry, store=store, ids=ids,
                          presenter=presenter, watcher=watcher, take_over=take_over)
    for session_id in list(registry.sessions):
        registry.close(session_id)
    registry.directory = None  # its upkeep goes on in the background: not with this Redis


def test_a_process_given_up_for_dead_stops_its_copy_at_a_control_and_its_clients_move(
        given_up):
    """The presenter's next control finds the session taken: refused, the copy stops
    without touching b's record, and this process's clients are told to join again; a
    join finds the session on b (it is not rebuilt here from b's record)."""
    g = given_up
    copy = g.registry.sessions[g.ids["session"]]
    taken = g.take_over()
    refused = g.presenter.emit("control", {**g.ids, "op": "step", "value": 100},
                               callback=True)
    assert refused["ok"] is False and "taken over" in refused["error"], refused
    assert copy.closed and g.ids["session"] not in g.registry.sessions
    for client in (g.presenter, g.watcher):
        assert resumed_events(client) == [{"session": g.ids["session"], "moved": True}]
    assert g.store.get(PREFIX + g.ids["session"]) == taken  # b's record stays b's
    assert json.loads(g.registry.directory.redis.get(
        DIRECTORY_PREFIX + g.ids["session"]))["host"] == "b"  # and its entry
    again = g.presenter.emit("join", g.ids, callback=True)
    assert again["role"] == "watch" and "another server process" in again["note"]
    assert g.registry.get(g.ids["session"]) is None
    assert g.watcher.emit("join", {"session": g.ids["session"]}, callback=True)["ok"]


def test_a_process_given_up_for_dead_notices_by_itself_at_its_next_save(given_up):
    """Nobody acts: the upkeep's next round of saves (every SAVE_EVERY, at once after a
    lapsed heartbeat) finds the session taken and tells the watcher."""
    g = given_up
    g.take_over()
    deadline = time.monotonic() + SAVE_EVERY + 5
    events = []
    while not events and time.monotonic() < deadline:
        events = resumed_events(g.watcher)
        time.sleep(0.05)
    assert events == [{"session": g.ids["session"], "moved": True}]
    assert g.ids["session"] not in g.registry.sessions
