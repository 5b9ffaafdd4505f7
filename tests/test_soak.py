"""The soak: every correct configuration under every fault kind, and what it counts."""

from __future__ import annotations

import json

from playground import search, soak
from playground.__main__ import main
from playground.models import MODELS
from playground.scenarios import run
from playground.scenarios.schema import validate

SCHEDULES = 500  # per model, the bound CI runs; docs/engine.md records a longer run


def test_every_correct_configuration_survives_random_schedules_of_every_fault_kind():
    models = [m for m in MODELS if m != "toy"]
    tally = soak.soak(models, schedules=SCHEDULES, seconds=1200, workers=2)
    assert tally.runs == {m: SCHEDULES for m in models}
    assert tally.violations == {m: [] for m in models}, \
        {m: v[:2] for m, v in tally.violations.items() if v}


def test_configurations_are_the_defaults_and_each_correct_switch_alone():
    configs = soak.configurations("raft")
    assert configs[0]["variant"] == {v.name: v.default for v in MODELS["raft"].variants}
    changed = [{k for k, v in c["variant"].items() if v != configs[0]["variant"][k]}
               for c in configs[1:]]
    assert {"prevote"} in changed and {"check_quorum"} in changed
    assert all(len(c) == 1 for c in changed)
    for c in configs:
        for var in MODELS["raft"].variants:
            assert c["variant"][var.name] not in var.broken


def test_a_violation_counts_unless_the_model_voids_that_promise_under_a_fault_present():
    base = {"model": "lease", "seed": 1, "duration_ms": 3000, "variant": {"step_down": False}}
    crash = validate({**base, "commands": [{"at_ms": 1000, "type": "pause",
                                            "node": {"role": "holder"}},
                                           {"at_ms": 2500, "type": "resume", "node": "n1"},
                                           {"at_ms": 2500, "type": "resume", "node": "n2"},
                                           {"at_ms": 2500, "type": "resume", "node": "n3"}]})
    sim, report = run(crash)
    assert {v["invariant"] for v in report["violations"]} == {"single_holder"}
    assert search.judged(sim.model, crash, report) == report["violations"]
    drift = validate({**crash, "commands": crash["commands"] +
                      [{"at_ms": 10, "type": "drift", "node": "n1", "rate": 1.0}]})
    assert search.judged(sim.model, drift, report) == []


def test_cli_soak_prints_a_row_per_model(capsys):
    assert main(["soak", "--models", "saga,twopc", "--schedules", "20", "--workers", "1",
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == {"saga": {"schedules": 20, "violations": 0, "first": []},
                    "twopc": {"schedules": 20, "violations": 0, "first": []}}


def test_cli_soak_refuses_an_unknown_model(capsys):
    assert main(["soak", "--models", "paxos"]) == 2
    assert "unknown model(s) paxos" in capsys.readouterr().err
