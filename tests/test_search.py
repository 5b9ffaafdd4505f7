"""Counterexample search: finds a broken variant, shrinks the schedule, replays exactly."""

import json

from playground import search
from playground.engine.errors import ScenarioError
from playground.__main__ import main
from playground.scenarios import run, share
from playground.scenarios.schema import validate

BROKEN = validate({"model": "toy", "seed": 3, "duration_ms": 2000,
                   "variant": {"extra_pong": True}})
CORRECT = validate({"model": "toy", "seed": 3, "duration_ms": 2000})


def test_search_finds_the_broken_variant_and_not_the_correct_one():
    found = search.search(BROKEN, 20)
    assert found is not None and found.invariants == ["pong_after_ping"]
    assert search.search(CORRECT, 20) is None


def test_schedules_differ_per_try_and_are_reproducible():
    a, b = search.with_schedule(CORRECT, 0), search.with_schedule(CORRECT, 1)
    assert a["commands"] != b["commands"] and a["seed"] != b["seed"]
    assert search.with_schedule(CORRECT, 1) == b


def test_shrunk_counterexample_still_fails_and_every_command_is_needed():
    small = search.shrink(search.search(BROKEN, 20))
    assert small.invariants == ["pong_after_ping"]
    commands = small.scenario["commands"]
    for i in range(len(commands)):
        fewer = validate({**small.scenario, "commands": commands[:i] + commands[i + 1:]})
        assert not run(fewer)[1]["violations"], f"command {i} was not needed"


def test_cli_search_prints_a_replayable_share_link(capsys, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(BROKEN))
    assert main(["search", str(path), "--tries", "10", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["found"] and result["invariants"] == ["pong_after_ping"]
    replayed = run(share.decode(result["share"]))[1]
    assert replayed["violations"] == result["violations"]


def test_cli_search_refuses_unknown_targets(capsys, tmp_path):
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(CORRECT))
    assert main(["search", str(path), "--targets", "n1,zz"]) == 2
    assert "unknown node(s) zz" in capsys.readouterr().err


# -- every fault kind, swarm, roles, targeting ------------------------------------------------
def kinds_drawn(base, attempts, **settings):
    return {c["type"] for a in attempts
            for c in search.with_schedule(base, a, **settings)["commands"]}


def test_a_broad_search_draws_every_fault_kind_and_the_models_client_commands():
    base = validate({"model": "raft", "seed": 1, "duration_ms": 3000})
    drawn = kinds_drawn(base, range(40), **search.BROAD)
    assert {"crash", "restart", "pause", "resume", "cut", "partition", "heal", "skew",
            "drift", "jump", "link", "network", "put", "get", "timeout_now"} <= drawn
    for model, role in (("raft", "leader"), ("lease", "holder")):
        scenario = validate({"model": model, "seed": 1, "duration_ms": 3000})
        aimed = [c["node"] for a in range(40)
                 for c in search.with_schedule(scenario, a, **search.BROAD)["commands"]
                 if isinstance(c.get("node"), dict)]
        assert aimed and all(node == {"role": role} for node in aimed), model
    plain = [c for a in range(40)
             for c in search.with_schedule(base, a, kinds=search.ALL_KINDS)["commands"]
             if isinstance(c.get("node"), dict)]
    assert plain == []  # without roles=True no fault is aimed at a role


def test_swarm_tries_use_different_subsets_of_the_kinds():
    base = validate({"model": "raft", "seed": 1, "duration_ms": 3000})
    subsets = {frozenset(c["type"] for c in search.with_schedule(base, a, **search.BROAD)
                         ["commands"]) for a in range(20)}
    assert len(subsets) >= 10


def test_the_settle_phase_puts_every_link_and_the_network_back():
    base = validate({"model": "raft", "seed": 1, "duration_ms": 3000,
                     "network": {"latency_ms": [5, 9], "loss": 0, "duplicate": 0}})
    for a in range(30):
        sc = search.with_schedule(base, a, kinds=("link", "network"), faults=5)
        sim, _ = run(sc)
        assert sim.default_link.lo == 5000 and sim.default_link.hi == 9000
        assert sim.default_link.loss == 0 and sim.default_link.duplicate == 0
        assert all((l.lo, l.hi, l.loss, l.duplicate) == (5000, 9000, 0, 0)
                   for l in sim.links.values())


def test_a_broad_search_finds_a_bug_that_needs_client_commands_from_the_bare_config():
    base = validate({"model": "idempotency", "seed": 1, "variant": {"mode": "none"}})
    found = search.search(base, 200, **search.BROAD)
    assert found is not None and "at_most_one_charge" in found.invariants


def test_no_script_drops_the_scenarios_own_commands():
    base = validate({**CORRECT, "commands": [{"at_ms": 1, "type": "crash", "node": "n1"}]})
    with_script = search.with_schedule(base, 0)["commands"]
    without = search.with_schedule(base, 0, script=False)["commands"]
    assert {"at_ms": 1, "type": "crash", "node": "n1"} in with_script
    assert without == [c for c in with_script if c != {"at_ms": 1, "type": "crash",
                                                       "node": "n1"}]


def test_a_search_for_one_invariant_ignores_the_others():
    base = validate({"model": "raft", "seed": 1, "duration_ms": 3000,
                     "variant": {"multiple_votes_per_term": True}})
    assert search.search(base, 5, invariants=["fencing"], **search.BROAD) is None
    found = search.search(base, 50, invariants=["election_safety"], **search.BROAD)
    assert found is not None and "election_safety" in found.invariants


def test_shrinking_rounds_times_where_the_failure_stays():
    small = search.shrink(search.search(BROKEN, 20))
    assert small.invariants == ["pong_after_ping"]
    for i, cmd in enumerate(small.scenario["commands"]):
        if cmd["at_ms"] % 1000:  # a rounder time must lose the failure
            rounder = dict(cmd, at_ms=float(round(cmd["at_ms"] / 1000) * 1000))
            commands = sorted(small.scenario["commands"][:i] + [rounder] +
                              small.scenario["commands"][i + 1:], key=lambda c: c["at_ms"])
            try:
                again = validate({**small.scenario, "commands": commands})
            except ScenarioError:
                continue
            assert not run(again)[1]["violations"]


def test_cli_search_names_an_unknown_invariant(capsys, tmp_path):
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(CORRECT))
    assert main(["search", str(path), "--invariant", "nope"]) == 2
    assert "no invariant nope" in capsys.readouterr().err
