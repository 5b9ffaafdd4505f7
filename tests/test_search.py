"""Counterexample search: finds a broken variant, shrinks the schedule, replays exactly."""

import json

from playground import search
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
