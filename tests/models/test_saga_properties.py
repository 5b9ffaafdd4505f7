"""Random schedules against the saga model: every saga ends all-or-nothing, money is kept.

Each schedule is a seeded workload (twelve purchases, overlapping, a quarter of the
rejectable steps refused), random loss and duplication on the network, and a random fault
schedule from ``playground.engine.faults`` (crashes, pauses, cuts, partitions, clock skew
and drift) over the first half of the run; the second half settles, so ``check_final``
judges finished sagas.
"""

from __future__ import annotations

from playground.engine.faults import random_schedule
from playground.engine.rng import Stream
from playground.models.saga.messages import ORCHESTRATOR, SERVICES
from playground.scenarios import run
from playground.scenarios.schema import validate

NODES = [ORCHESTRATOR, *SERVICES]
SAFE_RUNS = 500
SEARCH_LIMIT = 40  # schedules the broken variant may take to be caught
DURATION_MS = 4000


def schedule(seed, broken=False):
    rng = Stream.for_purpose(seed, "saga-test")
    network = {"latency_ms": [5, 20], "loss": round(rng.random() * 0.1, 3),
               "duplicate": round(rng.random() * 0.1, 3)}
    commands = random_schedule(seed, NODES, DURATION_MS, faults=8,
                               settle_ms=DURATION_MS // 2, max_down=2)
    return validate({
        "model": "saga", "seed": seed, "nodes": 5, "duration_ms": DURATION_MS,
        "variant": {"no_compensation_retry": broken}, "network": network,
        "commands": commands,
        "params": {"sagas": 12, "start_interval_ms": 120, "reject_probability": 0.25},
    })


def test_random_faults_never_leave_a_saga_half_done():
    totals = {"sagas_compensated": 0, "sagas_completed": 0, "retries": 0,
              "steps_timed_out": 0, "duplicate_requests": 0}
    for seed in range(SAFE_RUNS):
        _sim, report = run(schedule(seed))
        assert report["violations"] == [], f"seed {seed}: {report['violations']}"
        metrics = report["metrics"]
        finished = metrics.get("sagas_completed", 0) + metrics.get("sagas_compensated", 0)
        assert finished == 12, f"seed {seed}: {finished} sagas finished"
        for key in totals:
            totals[key] += metrics.get(key, 0)
    # The faults were felt: steps timed out, requests were repeated and absorbed.
    assert all(v > SAFE_RUNS // 10 for v in totals.values()), totals


def test_search_finds_the_half_undone_saga_without_compensation_retries():
    for seed in range(SEARCH_LIMIT):
        _sim, report = run(schedule(seed, broken=True))
        fired = {v["invariant"] for v in report["violations"]}
        if fired:
            break
    else:
        raise AssertionError(f"no violation in {SEARCH_LIMIT} schedules")
    assert "saga_atomicity" in fired
    assert fired <= {"saga_atomicity", "money_conserved", "reverse_order"}
    _sim, report = run(schedule(seed))  # the same schedule with retries is fine
    assert report["violations"] == []
