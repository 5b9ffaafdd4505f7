"""Random schedules against the outbox model: the outbox loses nothing, naive writes do.

Each schedule is a seeded workload (fifteen orders, one every 80 ms), random loss on the
network, and a random fault schedule from ``playground.engine.faults`` (crashes, pauses,
cuts, partitions, clock skew and drift) over the first half of the run; the second half
settles, so "eventually consumed" is judged on a quiet system.
"""

from __future__ import annotations

from playground.engine.faults import random_schedule
from playground.engine.rng import Stream
from playground.models.outbox import BROKER, CONSUMER, RELAY, SERVICE
from playground.scenarios import run
from playground.scenarios.schema import validate

NODES = [SERVICE, RELAY, BROKER, CONSUMER]
SAFE_RUNS = 500
SEARCH_LIMIT = 40  # schedules a broken setting may take to be caught
DURATION_MS = 3000
ORDERS = 15


def schedule(seed, mode="outbox", idempotent=True, ordered=False):
    rng = Stream.for_purpose(seed, "outbox-test")
    network = {"latency_ms": [5, 20], "loss": round(rng.random() * 0.1, 3)}
    commands = random_schedule(seed, NODES, DURATION_MS, faults=8,
                               settle_ms=DURATION_MS // 2, max_down=2)
    return validate({
        "model": "outbox", "seed": seed, "nodes": 4, "duration_ms": DURATION_MS,
        "variant": {"mode": mode, "idempotent_consumer": idempotent,
                    "ordered_consumer": ordered}, "network": network,
        "commands": commands, "params": {"orders": ORDERS, "order_interval_ms": 80},
    })


def test_the_outbox_loses_nothing_and_an_idempotent_consumer_applies_once():
    totals = {"duplicate_deliveries": 0, "relay_retries": 0, "broker_redeliveries": 0}
    for seed in range(SAFE_RUNS):
        _sim, report = run(schedule(seed))
        assert report["violations"] == [], f"seed {seed}: {report['violations']}"
        metrics = report["metrics"]
        assert metrics["events_consumed"] == metrics["orders_committed"] == ORDERS, \
            f"seed {seed}: {metrics}"
        assert metrics["outbox_rows"] == 0, f"seed {seed}: rows left in the outbox"
        for key in totals:
            totals[key] += metrics.get(key, 0)
    # Duplicates did happen (relay and broker retried), and were absorbed.
    assert all(v > SAFE_RUNS // 10 for v in totals.values()), totals


def test_an_ordered_consumer_applies_in_commit_order_and_loses_nothing():
    """The same schedules, which reorder deliveries, with the consumer resequencing."""
    unordered = held = 0
    for seed in range(SAFE_RUNS):
        _sim, report = run(schedule(seed, ordered=True))
        assert report["violations"] == [], f"seed {seed}: {report['violations']}"
        metrics = report["metrics"]
        assert metrics["events_consumed"] == ORDERS and metrics["out_of_order_applies"] == 0
        held += metrics["held_events"]
        unordered += run(schedule(seed))[1]["metrics"]["out_of_order_applies"] > 0
    assert unordered > SAFE_RUNS // 10 and held > 0, (unordered, held)


def first_violation(**variant):
    for seed in range(SEARCH_LIMIT):
        _sim, report = run(schedule(seed, **variant))
        fired = {v["invariant"] for v in report["violations"]}
        if fired:
            return seed, fired
    raise AssertionError(f"{variant}: no violation in {SEARCH_LIMIT} schedules")


def test_search_finds_the_event_lost_by_dual_write():
    seed, fired = first_violation(mode="dual_write")
    assert fired == {"no_lost_event"}
    _sim, report = run(schedule(seed))
    assert report["violations"] == []  # the outbox survives the same schedule


def test_search_finds_the_phantom_event_of_publish_first():
    seed, fired = first_violation(mode="publish_first")
    assert fired == {"no_phantom_event"}
    _sim, report = run(schedule(seed))
    assert report["violations"] == []


def test_search_finds_the_duplicate_effect_of_a_non_idempotent_consumer():
    seed, fired = first_violation(idempotent=False)
    assert fired == {"exactly_once_effect"}
    _sim, report = run(schedule(seed))
    assert report["violations"] == []
