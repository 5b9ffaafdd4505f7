"""A compare pair: two runs that move as one, each with its own frames (threading client)."""

from __future__ import annotations

import time

from playground.compare import first_difference
from playground.scenarios import presets, run
from playground.web.pair import PairSession, Twin
from tests.web.conftest import frames, status_of

PRESET = "compare-heartbeat-hysteresis"


def pair(connect, app, scenario=PRESET, **extra):
    owner = connect()
    made = owner.emit("create", {"scenario": scenario, **extra}, callback=True)
    assert made["ok"], made
    a = app.extensions["playground"].get(made["session"])
    joined = owner.emit("join", {"session": a.id, "token": made["token"]}, callback=True)
    assert joined["ok"] and joined["scenario"]["pair"]["b"] == a.twin.id
    watcher = connect()
    assert watcher.emit("join", {"session": a.twin.id}, callback=True)["ok"]
    return owner, watcher, a, {"session": a.id, "token": made["token"]}


def until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("the condition did not hold in time")


def test_a_compare_preset_opens_two_runs_that_move_and_act_as_one(connect, app):
    owner, watcher, a, ids = pair(connect, app)
    b = a.twin
    assert isinstance(a, PairSession) and isinstance(b, Twin)
    assert b.scenario["variant"]["no_hysteresis"] is False
    assert b.scenario["expected"] == presets()[PRESET]["compare"]["expected"]
    assert owner.emit("control", {**ids, "op": "step", "value": 700}, callback=True)["ok"]
    assert a.sim.now == b.sim.now == 700_000
    acted = owner.emit("act", {**ids, "action": {"type": "crash", "node": "w3"}},
                       callback=True)
    assert acted["ok"], acted
    assert str(a.sim.nodes["w3"].status) == str(b.sim.nodes["w3"].status) == "crashed"
    times = [t for t, _ in b.history.kept_commands()]
    assert times == [t for t, _ in a.history.kept_commands()] and 700_000 in times
    seen = frames(watcher)
    crashed = [status_of(f, "w3") for f in seen if status_of(f, "w3")]
    assert crashed and crashed[-1] == "crashed"
    assert [f["pair"]["side"] for f in seen if "side" in f.get("pair", {})][-1] == "b"
    refused = watcher.emit("control", {"session": b.id, "token": ids["token"], "op": "play"},
                           callback=True)
    assert not refused["ok"] and "run b of a comparison" in refused["error"]
    assert owner.emit("control", {**ids, "op": "seek", "value": 300}, callback=True)["ok"]
    assert a.sim.now == b.sim.now == 300_000


def test_the_first_difference_and_a_violation_show_on_their_own_side(connect, app):
    owner, watcher, a, ids = pair(connect, app)
    assert owner.emit("control", {**ids, "op": "speed", "value": "max"}, callback=True)["ok"]

    def played_to_the_end():  # pausing captions stop it on the way
        if not a.playing and not a.finished:
            assert owner.emit("control", {**ids, "op": "play"}, callback=True)["ok"]
        return a.finished and a.twin.finished

    until(played_to_the_end)
    state = a.pair_state("a", slow=True)
    expected = first_difference(run(presets()[PRESET])[0].trace,
                                run(a.twin.scenario)[0].trace)
    assert state["first_difference"] == expected and expected is not None
    assert state["deltas"]["flaps"]["a"] >= 4 and state["deltas"]["flaps"]["b"] == 0
    assert {v.invariant for v in a.sim.violations} == {"no_flapping"}
    assert not a.twin.sim.violations
    shown = [f for f in frames(watcher) if f.get("violations") is not None]
    assert all(not f["violations"] for f in shown)
    last = [f["pair"] for f in frames(owner) if f.get("pair")]
    assert last and last[-1]["first_difference"]["event"] == expected["event"]


def test_any_session_compares_by_a_switch_and_its_share_link_replays_the_pair(connect, app):
    owner = connect()
    plain = owner.emit("create", {"scenario": "raft-election"}, callback=True)
    made = owner.emit("create", {"scenario": plain["share_url"],
                                 "compare": {"prevote": True}}, callback=True)
    assert made["ok"], made
    registry = app.extensions["playground"]
    a = registry.get(made["session"])
    assert a.twin.scenario["variant"]["prevote"] is True
    by_param = owner.emit("create", {"scenario": "raft-election",
                                     "compare": {"heartbeat_ms": 80}}, callback=True)
    assert registry.get(by_param["session"]).twin.scenario["params"]["heartbeat_ms"] == 80
    again = owner.emit("create", {"scenario": made["share_url"]}, callback=True)
    assert isinstance(registry.get(again["session"]), PairSession)
    for payload, words in [({"compare": {"nope": 1}}, "no switch or parameter 'nope'"),
                           ({"compare": {}}, "names no switch"),
                           ({"compare": {"prevote": False}}, "must differ")]:
        answer = owner.emit("create", {"scenario": "raft-election", **payload},
                            callback=True)
        assert not answer["ok"] and words in answer["error"], (payload, answer)
    registry.close(a.twin.id)
    assert a.id not in registry.sessions and a.twin.id not in registry.sessions
    assert a.closed and a.twin.closed


def test_going_back_to_the_script_takes_both_runs_back(connect, app):
    owner, watcher, a, ids = pair(connect, app)
    assert owner.emit("control", {**ids, "op": "step", "value": 1200}, callback=True)["ok"]
    acted = owner.emit("act", {**ids, "action": {"type": "crash", "node": "w1"}},
                       callback=True)
    assert acted["ok"], acted
    assert str(a.twin.sim.nodes["w1"].status) == "crashed"
    back = owner.emit("control", {**ids, "op": "script"}, callback=True)
    assert back["ok"], back
    assert a.sim.now == a.twin.sim.now == 1_200_000
    assert str(a.sim.nodes["w1"].status) == str(a.twin.sim.nodes["w1"].status) != "crashed"
    assert a.twin.scenario["variant"]["no_hysteresis"] is False


def test_run_b_exports_its_trace_to_run_a_owner(connect, app, http):
    owner, watcher, a, ids = pair(connect, app)
    assert owner.emit("control", {**ids, "op": "step", "value": 500}, callback=True)["ok"]
    answer = http.get(f"/api/sessions/{a.twin.id}/trace.json?token={ids['token']}")
    assert answer.status_code == 200 and len(answer.get_json()) == len(a.twin.sim.trace)
    assert http.get(f"/api/sessions/{a.twin.id}/trace.json?token={a.twin.token}"
                    ).status_code == 403
