"""Bounded work per session: slices, superseded work, slowed sessions, budgets."""

from __future__ import annotations

import threading
import time

from playground.engine import trace as T
from playground.scenarios import build
from playground.scenarios.schema import validate
from playground.web import session as session_module
from tests.web.conftest import frames, toy_scenario, wait_for


def create(client, scenario=None) -> dict:
    made = client.emit("create", {"scenario": scenario or toy_scenario()}, callback=True)
    assert made["ok"], made
    ids = {"session": made["session"], "token": made["token"]}
    client.emit("join", ids, callback=True)
    return ids


def test_a_long_step_runs_in_slices_and_ends_where_one_call_would(connect, app, monkeypatch):
    monkeypatch.setattr(session_module, "SLICE_SECONDS", 0)  # yield after every call
    monkeypatch.setattr(session_module, "CALL_SECONDS", (0, 0))  # calls shrink to 16 entries
    client = connect()
    ids = create(client)
    session = app.extensions["playground"].get(ids["session"])
    yields = []
    session._yield = lambda: yields.append(session.sim.now)
    answer = client.emit("control", {**ids, "op": "step", "value": 5000}, callback=True)
    assert answer == {"ok": True, "t_ms": 5000.0}
    assert len(yields) > 20 and yields == sorted(yields) and yields[-1] <= 5_000_000
    whole = build(validate(toy_scenario()))
    whole.run_until(5_000_000)
    assert T.sha256(session.sim.trace) == T.sha256(whole.trace)


def test_a_newer_request_supersedes_long_work(connect, app, monkeypatch):
    monkeypatch.setattr(session_module, "SLICE_SECONDS", 0)
    monkeypatch.setattr(session_module, "PROGRESS_EVERY", 0)
    client, other = connect(), connect()
    ids = create(client)
    session = app.extensions["playground"].get(ids["session"])
    answers = {}

    def pause_now():  # another client of the session, while the step is under way
        answers["pause"] = other.emit("control", {**ids, "op": "pause"}, callback=True)

    def arrives():  # at the step's first turn of the loop, a pause comes in
        if "thread" not in answers:
            before = session.generation
            answers["thread"] = threading.Thread(target=pause_now)
            answers["thread"].start()
            deadline = time.monotonic() + 10
            while session.generation == before and time.monotonic() < deadline:
                time.sleep(0.001)

    session._yield = arrives
    step = client.emit("control", {**ids, "op": "step", "value": 60_000}, callback=True)
    answers["thread"].join(10)
    assert step["ok"] and step["superseded"] is True and step["t_ms"] < 60_000
    assert answers["pause"] == {"ok": True, "t_ms": step["t_ms"]}
    got = frames(client)
    assert any(f.get("busy") and f["busy"]["op"] == "step" for f in got)  # progress shown
    assert [f["busy"] for f in got if "busy" in f][-1] is None  # and cleared


def test_a_session_that_cannot_keep_up_is_slowed_and_others_are_not(connect, app,
                                                                      monkeypatch):
    monkeypatch.setattr(session_module, "SLICE_SECONDS", 0)  # one engine call per tick
    slow_client, quick_client = connect(), connect()
    slow = create(slow_client)
    quick = create(quick_client)
    session = app.extensions["playground"].get(slow["session"])
    session._call = lambda work: work(1)  # one queue entry a tick: it cannot keep up
    for client, ids, speed in ((slow_client, slow, 100), (quick_client, quick, 1)):
        client.emit("control", {**ids, "op": "speed", "value": speed}, callback=True)
        client.emit("control", {**ids, "op": "play"}, callback=True)
    got = wait_for(slow_client, lambda f: f.get("slowed"))
    shown = [f["slowed"] for f in got if f.get("slowed")][-1]
    assert 0 < shown["speed"] < 100
    seen = wait_for(quick_client, lambda f: f["t_ms"] >= 300)
    assert not any(f.get("slowed") for f in seen)
    del session._call  # back to the tuned calls, at a speed it keeps up with
    slow_client.emit("control", {**slow, "op": "speed", "value": 0.1}, callback=True)
    wait_for(slow_client, lambda f: "slowed" in f and f["slowed"] is None)


def test_a_session_past_its_memory_budget_stops_and_says_why(connect, app):
    app.extensions["playground"].config["SESSION_MEMORY_MB"] = 0.1
    client = connect()
    ids = create(client)
    client.emit("control", {**ids, "op": "speed", "value": "max"}, callback=True)
    client.emit("control", {**ids, "op": "play"}, callback=True)
    got = wait_for(client, lambda f: f.get("notice"))
    notice = [f["notice"] for f in got if f.get("notice")][-1]
    assert "MiB" in notice and "seek back and fork" in notice
    assert [f["playing"] for f in got if "playing" in f][-1] is False
    step = client.emit("control", {**ids, "op": "step", "value": 1000}, callback=True)
    assert step["ok"] is False and "MiB" in step["error"]
    # Forking early on frees what lay beyond: the session runs again.
    assert client.emit("control", {**ids, "op": "seek", "value": 0}, callback=True)["ok"]
    assert client.emit("control", {**ids, "op": "fork"}, callback=True)["ok"]
    session = app.extensions["playground"].get(ids["session"])
    assert session.history.memory_bytes() < session.memory_budget
    assert client.emit("control", {**ids, "op": "step", "value": 10}, callback=True)["ok"]


def test_a_scenario_beyond_the_event_budget_is_refused_up_front(connect, app):
    app.extensions["playground"].config["MAX_EVENT_RATE"] = 50
    answer = connect().emit("create", {"scenario": toy_scenario()}, callback=True)
    assert answer["ok"] is False
    assert "events per simulated second" in answer["error"] and "50" in answer["error"]
