"""Random schedules against the idempotency model: the fixes hold, the broken modes are found.

Each schedule is a seeded workload (two clients paying five times a second, some payments
double-submitted), random loss on the links, and a random fault schedule from
``playground.engine.faults`` (crashes, pauses, cuts, partitions, clock skew and drift).
"""

from __future__ import annotations

from playground.engine.faults import random_schedule
from playground.engine.rng import Stream
from playground.scenarios import run
from playground.scenarios.schema import validate

NODES = ["c1", "c2", "server", "keys", "ledger"]
CLIENTS = ["c1", "c2"]
SAFE_RUNS = 500
SEARCH_LIMIT = 40  # schedules a broken mode may take to be caught


def schedule(seed, mode, *, workers=4, double_submit=0.2, targets=NODES, all_nodes=NODES,
             kinds=None, lossy_links=None, recovery="none", processor="keyed",
             ledger_link=None):
    """One random scenario; ``lossy_links`` limits the random loss to those links;
    ``ledger_link`` sets the server's link to the ledger (both ways)."""
    rng = Stream.for_purpose(seed, "idempotency-test")
    loss = round(rng.random() * 0.2, 3)
    extra = {} if kinds is None else {"kinds": kinds}
    commands = random_schedule(seed, targets, 1500, faults=4, all_nodes=all_nodes,
                               max_down=1, **extra)
    network = {"latency_ms": [5, 20], "loss": loss}
    if ledger_link is not None:
        commands = [{"at_ms": 0, "type": "link", "from": "server", "to": "ledger",
                     **ledger_link}] + commands
    if lossy_links is not None:
        network["loss"] = 0.0
        commands = [{"at_ms": 0, "type": "link", "from": a, "to": b, "loss": loss}
                    for a, b in lossy_links] + commands
    return validate({
        "model": "idempotency", "seed": seed, "nodes": 5, "duration_ms": 2000,
        "variant": {"mode": mode, "recovery": recovery, "processor": processor},
        "network": network,
        "commands": commands,
        "params": {"workers": workers, "payments_per_second": 5,
                   "double_submit_fraction": double_submit, "client_timeout_ms": 200,
                   "charge_ms": 50, "server_timeout_ms": 150, "retry_backoff_ms": 80,
                   "lock_timeout_ms": 200},
    })


def violations(scenario):
    sim, report = run(scenario)
    return report["violations"], report["metrics"]


def assert_safe(make):
    charges = conflicts = 0
    for seed in range(SAFE_RUNS):
        found, metrics = violations(make(seed))
        assert found == [], f"seed {seed}: {found}"
        charges += metrics["charges"]
        conflicts += metrics["conflicts"]
    assert charges > SAFE_RUNS  # the schedules did charge, so the property was exercised
    return conflicts


def first_violation(make):
    for seed in range(SEARCH_LIMIT):
        found, _ = violations(make(seed))
        if found:
            return seed, found
    return None, []


def test_unique_insert_never_charges_twice():
    conflicts = assert_safe(lambda seed: schedule(seed, "unique_insert"))
    assert conflicts > 0  # concurrent requests with one key met and were stopped


def test_conditional_put_never_charges_twice():
    conflicts = assert_safe(lambda seed: schedule(seed, "conditional_put"))
    assert conflicts > 0


def client_side(seed, mode, workers):
    """Faults and loss only between clients and server: lost requests and lost receipts."""
    return schedule(seed, mode, workers=workers, double_submit=0.0, targets=CLIENTS,
                    all_nodes=CLIENTS + ["server"],
                    kinds=("crash", "pause", "cut", "skew", "drift", "heal"),
                    lossy_links=[(c, "server") for c in CLIENTS], processor="plain")


def test_keys_without_concurrency_never_charge_twice_when_replies_are_lost():
    """Check-then-act with one worker: safe while the faults are between client and server."""
    assert_safe(lambda seed: client_side(seed, "naive", 1))


def test_search_finds_the_double_charge_without_keys():
    seed, found = first_violation(lambda seed: schedule(seed, "none", double_submit=0.0))
    assert seed is not None, f"no violation in {SEARCH_LIMIT} schedules"
    assert {v["invariant"] for v in found} == {"at_most_one_charge"}


def test_search_finds_the_check_then_act_race():
    """The client-side schedules one worker survives break four: a retry races its original."""
    seed, found = first_violation(lambda seed: client_side(seed, "naive", 4))
    assert seed is not None, f"no violation in {SEARCH_LIMIT} schedules"
    assert {v["invariant"] for v in found} == {"at_most_one_charge"}
    assert violations(client_side(seed, "naive", 1))[0] == []


def test_search_finds_naive_under_random_faults_and_loss():
    seed, found = first_violation(lambda seed: schedule(seed, "naive", double_submit=0.0,
                                                        processor="plain"))
    assert seed is not None, f"no violation in {SEARCH_LIMIT} schedules"


def test_search_finds_that_one_naive_worker_is_not_enough_under_server_faults():
    """A charge whose confirmation or save is lost leaves no key: the retry charges again."""
    seed, found = first_violation(lambda seed: schedule(seed, "naive", workers=1,
                                                        double_submit=0.0, processor="plain"))
    assert seed is not None, f"no violation in {SEARCH_LIMIT} schedules"


def test_taking_stale_keys_over_with_the_key_passed_on_never_charges_twice():
    """Recovery by takeover is safe once the ledger dedups by key: both fixes, 250 each."""
    takeovers = 0
    for seed in range(SAFE_RUNS):
        mode = "unique_insert" if seed % 2 else "conditional_put"
        found, metrics = violations(schedule(seed, mode, recovery="expire"))
        assert found == [], f"seed {seed} {mode}: {found}"
        takeovers += metrics["takeovers"]
    assert takeovers > 0  # stale keys were met and taken over


def test_search_finds_that_expiring_locks_charges_twice_at_a_plain_processor():
    seed, found = first_violation(lambda s: schedule(s, "unique_insert", recovery="expire",
                                                     processor="plain"))
    assert seed is not None, f"no violation in {SEARCH_LIMIT} schedules"
    assert {v["invariant"] for v in found} == {"at_most_one_charge"}


LEDGER_LINK = {"duplicate": 0.2, "loss": 0.1, "oneway": False}


def test_the_fixes_survive_duplication_and_loss_between_server_and_processor():
    """The key travels to a keyed processor: copies and resends of a charge charge once."""
    dedups = 0
    for seed in range(SAFE_RUNS):
        mode = "unique_insert" if seed % 2 else "conditional_put"
        found, metrics = violations(schedule(seed, mode, ledger_link=LEDGER_LINK,
                                             recovery="expire" if seed % 3 else "none"))
        assert found == [], f"seed {seed} {mode}: {found}"
        dedups += metrics["processor_dedups"]
    assert dedups > 0  # copies reached the ledger and were absorbed


def test_search_finds_that_a_plain_processor_charges_a_duplicated_charge_twice():
    for mode in ("unique_insert", "conditional_put"):
        seed, found = first_violation(lambda s: schedule(s, mode, processor="plain",
                                                         ledger_link=LEDGER_LINK))
        assert seed is not None, f"{mode}: no violation in {SEARCH_LIMIT} schedules"
        assert {v["invariant"] for v in found} == {"at_most_one_charge"}
