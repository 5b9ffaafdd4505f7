"""Crash, restart, pause and resume; and the random fault-schedule generator."""

import hypothesis.strategies as st
from hypothesis import given, settings

from playground.engine import commands as C
from playground.engine.faults import random_schedule
from playground.scenarios.schema import validate

from .helpers import records, toy_sim

SEEDS = st.integers(0, 2**63 - 1)  # any scenario seed


def test_crash_keeps_durable_state_and_loses_the_rest():
    sim = toy_sim(nodes=2)
    sim.run_until(1_000_000)
    st = sim.nodes["n1"].state
    pings, pongs = st.pings_sent, st.pongs
    assert pings and pongs
    sim.apply(C.Crash("n1"))
    node = sim.nodes["n1"]
    assert node.status == "crashed"
    assert node.state.pings_sent == pings  # durable
    assert node.state.pongs == 0 and node.state.timer_fires == []  # volatile
    assert node.timers == {}


def test_a_crashed_node_receives_nothing_and_runs_no_timer():
    sim = toy_sim(nodes=2, commands=[{"at_ms": 150, "type": "crash", "node": "n2"}])
    sim.run_until(1_000_000)
    after = [r for r in sim.trace if r[0] > 150_000 and r[2] == "n2" and r[1] in
             ("deliver", "timer", "send")]
    assert after == []
    assert any(r[4][2] == "n2 is crashed" for r in records(sim, "drop"))


def test_restart_runs_on_start_from_the_durable_state():
    sim = toy_sim(nodes=2, commands=[{"at_ms": 150, "type": "crash", "node": "n2"},
                                     {"at_ms": 500, "type": "restart", "node": "n2"}])
    sim.run_until(1_000_000)
    st = sim.nodes["n2"].state
    assert st.starts == 1  # a fresh volatile state, started once since the restart
    assert [r for r in records(sim, "start", "n2") if r[0] == 500_000]
    assert [r for r in records(sim, "timer", "n2") if r[0] > 500_000]


def test_pause_freezes_and_resume_processes_what_waited_in_order():
    sim = toy_sim(nodes=2, commands=[{"at_ms": 150, "type": "pause", "node": "n2"},
                                     {"at_ms": 650, "type": "resume", "node": "n2"}])
    sim.run_until(649_000)
    frozen = [r for r in sim.trace if r[0] > 150_000 and r[2] == "n2" and r[1] in
              ("deliver", "timer")]
    assert frozen == []
    assert sim.nodes["n2"].backlog
    sim.run_until(650_000)
    at_resume = [r for r in sim.trace if r[0] == 650_000 and r[2] == "n2"]
    assert [r for r in at_resume if r[1] == "timer"], "timers due while paused fire late"
    delivered = [r for r in at_resume if r[1] == "deliver"]
    assert len(delivered) >= 4
    sends = [r[3] for r in delivered]
    assert sends == sorted(sends), "queued messages are processed in arrival order"


def test_crash_while_paused_drops_the_backlog():
    sim = toy_sim(nodes=2, commands=[{"at_ms": 150, "type": "pause", "node": "n2"},
                                     {"at_ms": 400, "type": "crash", "node": "n2"}])
    sim.run_until(500_000)
    assert any("crashed with it queued" in r[4][2] for r in records(sim, "drop"))
    assert sim.nodes["n2"].backlog == []


def test_client_command_to_a_crashed_node_is_refused_in_the_trace():
    sim = toy_sim(commands=[{"at_ms": 10, "type": "crash", "node": "n1"},
                            {"at_ms": 20, "type": "poke", "node": "n1"}])
    sim.run_until(30_000)
    assert any("refused" in r[4][0] for r in records(sim, "note"))
    assert "pokes" not in sim.counters


def test_random_schedule_is_deterministic_and_valid():
    ids = ["n1", "n2", "n3", "n4", "n5"]
    a = random_schedule(3, ids, 10_000, faults=12)
    assert a == random_schedule(3, ids, 10_000, faults=12)
    assert a != random_schedule(4, ids, 10_000, faults=12)
    validate({"model": "toy", "seed": 1, "nodes": 5, "duration_ms": 10_000, "commands": a})


@given(seed=SEEDS)
def test_random_schedule_respects_max_down_and_repairs_everything(seed):
    ids = ["n1", "n2", "n3", "n4", "n5"]
    cmds = random_schedule(seed, ids, 6_000, faults=10)
    down: set = set()
    for c in cmds:
        if c["type"] in ("crash", "pause"):
            down.add(c["node"])
            assert len(down) <= 2, c
        elif c["type"] in ("restart", "resume"):
            down.discard(c["node"])
    assert down == set()
    assert cmds[-1]["at_ms"] <= 4_000 and any(c["type"] == "heal" for c in cmds)


@given(seed=SEEDS)
@settings(max_examples=20)
def test_random_schedules_run_without_breaking_the_toy_model(seed):
    sim = toy_sim(nodes=4, duration_ms=3000,
                  commands=random_schedule(seed, ["n1", "n2", "n3", "n4"], 3000))
    sim.run_until(3_000_000)
    assert sim.violations == []


def test_a_pause_with_a_duration_ends_by_itself_and_the_recording_replays_it():
    from playground.engine.history import History
    from playground.scenarios import build, recorded, run

    sc = validate({"model": "toy", "seed": 3, "nodes": 3, "duration_ms": 2000,
                   "commands": [{"at_ms": 300, "type": "pause", "node": "n2", "for_ms": 400}]})
    sim = build(sc)
    sim.run_until(699_999)
    assert sim.nodes["n2"].status == "paused"
    sim.run_until(700_000)
    assert sim.nodes["n2"].status == "alive"
    resumed = [r for r in records(sim, "command") if r[4][0]["type"] == "resume"]
    assert [(r[0], r[2], r[4][0]) for r in resumed] == \
        [(700_000, "n2", {"type": "resume", "node": "n2", "after_ms": 400.0})]
    sim.run_until(2_000_000)
    assert recorded(sc, sim)["commands"] == sc["commands"]  # the end is not a command
    assert run(recorded(sc, sim))[1]["trace_sha256"] == run(sc)[1]["trace_sha256"]
    history = History(build(sc), every_events=50)  # checkpoints keep the pending end
    history.advance(2_000_000)
    history.seek(500_000)
    history.advance(2_000_000)
    assert len(history.sim.trace) == len(sim.trace)


def test_an_earlier_pause_ending_does_not_end_a_later_pause():
    sim = toy_sim(nodes=3, commands=[
        {"at_ms": 100, "type": "pause", "node": "n2", "for_ms": 500},
        {"at_ms": 200, "type": "resume", "node": "n2"},
        {"at_ms": 300, "type": "pause", "node": "n2"}])
    sim.run_until(1_000_000)
    assert sim.nodes["n2"].status == "paused"
    assert not [r for r in records(sim, "command") if r[4][0].get("after_ms")]


def test_a_pause_duration_must_be_positive():
    import pytest

    from playground.engine.errors import ScenarioError

    with pytest.raises(ScenarioError, match="for_ms"):
        validate({"model": "toy", "seed": 1, "commands": [
            {"at_ms": 1, "type": "pause", "node": "n1", "for_ms": 0}]})
