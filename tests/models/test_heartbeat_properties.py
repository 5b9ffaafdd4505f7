"""Property tests: random fault schedules against the heartbeat model.

What the correct detector honestly guarantees, and what is tested here:

* its view honours the hysteresis (``no_flapping``) under any faults, in both modes and
  with either detector;
* accuracy under synchrony: while the registry itself is healthy (never stalled, crashed
  or overloaded, its clock at true speed) and no worker's clock jumps, no live, reachable
  worker is ever marked down, even with workers crashing, stalling, being cut off and
  drifting (rates 0.5 to 2). Stalls of the registry and clock jumps on a worker do cause
  false deaths: that is the phenomenon, not a bug, so those schedules only check the
  invariant;
* the broken ``no_hysteresis`` is caught by the search within a few schedules.
"""

from __future__ import annotations

from playground.engine.faults import random_schedule
from playground.models.heartbeat.messages import REGISTRY
from playground.scenarios import run
from playground.scenarios.schema import validate

WORKERS = ["w1", "w2", "w3"]
NODES = [REGISTRY] + WORKERS
NO_JUMPS = ("crash", "pause", "cut", "partition", "drift", "heal")
DURATION_MS = 3000


def run_schedule(seed, variant, *, targets, kinds=None):
    commands = random_schedule(seed, targets, DURATION_MS, faults=6, all_nodes=NODES,
                               **({"kinds": kinds} if kinds else {}))
    scenario = validate({"model": "heartbeat", "seed": seed, "nodes": len(NODES),
                         "duration_ms": DURATION_MS, "variant": variant,
                         "commands": commands})
    return run(scenario)


def test_the_hysteresis_holds_under_any_faults_in_both_modes():
    checked = 0
    for mode in ("push", "pull"):
        for seed in range(250):
            sim, report = run_schedule(seed, {"mode": mode}, targets=NODES)
            assert report["violations"] == [], (mode, seed, report["violations"][:2])
            checked += 1
    assert checked == 500


def test_the_phi_detector_honours_the_hysteresis_too():
    for seed in range(100):
        _, report = run_schedule(seed, {"detector": "phi"}, targets=NODES)
        assert report["violations"] == [], (seed, report["violations"][:2])


def test_no_false_death_while_the_registry_is_healthy_and_no_clock_jumps():
    marked = late = 0
    for mode in ("push", "pull"):
        for seed in range(250):
            _, report = run_schedule(seed, {"mode": mode}, targets=WORKERS, kinds=NO_JUMPS)
            m = report["metrics"]
            assert m["false_suspicions"] == 0, (mode, seed)
            marked += m["marked_down"]
            late += m["late_detections"]
    assert marked > 100 and late > 0  # the schedules really took workers down


def test_registry_stalls_and_clock_jumps_do_cause_false_deaths():
    found = [seed for seed in range(200)
             if run_schedule(seed, {"mode": "push"}, targets=NODES)[1]["metrics"]
             ["false_suspicions"]]
    assert found  # the accuracy above depends on its conditions


def test_the_search_catches_the_detector_without_hysteresis():
    for seed in range(20):
        _, report = run_schedule(seed, {"no_hysteresis": True}, targets=NODES)
        if any(v["invariant"] == "no_flapping" for v in report["violations"]):
            return
    raise AssertionError("no_hysteresis survived 20 random schedules")


def test_the_search_catches_the_registry_that_trusts_the_workers_clocks():
    for seed in range(100):
        _, report = run_schedule(seed, {"sender_clock": True}, targets=NODES)
        if any(v["invariant"] == "down_means_silent" for v in report["violations"]):
            return
    raise AssertionError("sender_clock survived 100 random schedules")
