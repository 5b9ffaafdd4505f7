"""Invariants are checked after every event and each distinct violation is recorded once."""

from playground.scenarios import run

from .helpers import toy_scenario, toy_sim


def test_correct_model_violates_nothing():
    sim, out = run(toy_scenario())
    assert sim.violations == [] and out["violations"] == []


def test_broken_variant_is_caught_with_time_event_and_sentence():
    sim = toy_sim(variant={"extra_pong": True})
    sim.run_until(1_000_000)
    assert sim.violations
    v = sim.violations[0]
    assert v.invariant == "pong_after_ping"
    assert 0 < v.at <= 1_000_000
    assert sim.trace[v.event][1] == "violation"
    assert "pongs for" in v.detail


def test_each_distinct_violation_is_recorded_once():
    sim = toy_sim(variant={"extra_pong": True})
    sim.run_until(3_000_000)
    keys = [(v.invariant, v.detail) for v in sim.violations]
    assert len(keys) == len(set(keys))


def test_violation_record_points_at_the_event_that_caused_it():
    sim = toy_sim(variant={"extra_pong": True})
    sim.run_until(1_000_000)
    v = sim.violations[0]
    cause = sim.trace[sim.trace[v.event][3]]
    assert cause[1] == "deliver" and cause[4][1] == "Pong"
