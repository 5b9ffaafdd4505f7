"""Property tests: random fault schedules against the lease model.

What a lease honestly guarantees, and what is tested here:

* ``no_stale_write`` with fencing, under *any* faults, clock jumps included: the store
  never goes back to an older epoch, whoever believes what;
* ``single_holder`` when the drift margin covers the drift the schedule can produce:
  with clock rates between r_min and r_max, margin ≥ ttl·(1 − r_min/r_max). The margin
  bounds rate drift only, so these schedules have no clock jumps (``skew``); with a zero
  margin the same schedules do produce two leaders, so the margin is doing the work;
* each broken variant is found by the search within a bounded number of schedules.
"""

from __future__ import annotations

from playground.engine.faults import DEFAULT_KINDS, random_schedule
from playground.scenarios import run
from playground.scenarios.schema import validate

NODES = ["lock", "store", "n1", "n2", "n3"]
NO_JUMPS = tuple(k for k in DEFAULT_KINDS if k != "skew")
TTL_MS = 1000
DURATION_MS = 4000


def margin_for(commands) -> float:
    """The drift margin that covers every clock rate in the schedule (plus 1 ms rounding)."""
    rates = [1.0] + [c["rate"] for c in commands if c["type"] == "drift"]
    return TTL_MS * (1 - min(rates) / max(rates)) + 1


def run_schedule(seed, variant, *, kinds=DEFAULT_KINDS, covered=False):
    commands = random_schedule(seed, NODES, DURATION_MS, faults=6, kinds=kinds)
    margin = margin_for(commands) if covered else 0
    scenario = validate({"model": "lease", "seed": seed, "nodes": len(NODES),
                         "duration_ms": DURATION_MS, "variant": variant,
                         "params": {"ttl_ms": TTL_MS, "drift_margin_ms": margin},
                         "commands": commands})
    return run(scenario)


def fired(report) -> set:
    return {v["invariant"] for v in report["violations"]}


def test_fencing_never_lets_a_stale_write_land_under_any_faults():
    two_leaders = 0
    for seed in range(500):
        _, report = run_schedule(seed, {"fencing": True})
        assert "no_stale_write" not in fired(report), (seed, report["violations"][:2])
        two_leaders += "single_holder" in fired(report)
    assert two_leaders > 0  # fencing had real double leaderships to defend against


def test_a_margin_covering_the_drift_keeps_a_single_holder():
    handovers = 0
    for seed in range(500):
        _, report = run_schedule(seed, {"fencing": False}, kinds=NO_JUMPS, covered=True)
        assert fired(report) == set(), (seed, report["violations"][:2])
        handovers += report["metrics"]["handovers"] > 0
    assert handovers > 50


def test_without_the_margin_the_same_schedules_make_two_leaders():
    for seed in range(200):
        _, report = run_schedule(seed, {"fencing": True}, kinds=NO_JUMPS)
        if "single_holder" in fired(report):
            return
    raise AssertionError("no drift schedule broke a lease without a margin")


def test_the_search_catches_the_unfenced_store():
    for seed in range(300):
        _, report = run_schedule(seed, {"fencing": False})
        if "no_stale_write" in fired(report):
            return
    raise AssertionError("fencing off survived 300 random schedules")


def test_the_search_catches_the_holder_that_never_steps_down():
    for seed in range(30):
        _, report = run_schedule(seed, {"step_down": False})
        if "single_holder" in fired(report):
            return
    raise AssertionError("step_down off survived 30 random schedules")
