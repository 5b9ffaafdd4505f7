"""Scenario validation: every refusal names the field and says what is wrong."""

import re

import pytest

from playground.engine.errors import ScenarioError
from playground.scenarios.schema import MAX_BYTES, validate

GOOD = {"model": "toy", "seed": 1}


def refused(obj) -> str:
    with pytest.raises(ScenarioError) as info:
        validate(obj)
    return str(info.value)


def test_defaults_are_filled_in():
    s = validate(GOOD)
    assert s["nodes"] == 3 and s["duration_ms"] == 10_000
    assert s["variant"] == {"extra_pong": False}
    assert s["params"] == {"interval_ms": 100}
    assert s["network"] == {"latency_ms": [10, 15], "loss": 0.0, "duplicate": 0.0}


def test_commands_are_sorted_stably_by_time():
    s = validate({**GOOD, "commands": [{"at_ms": 5, "type": "crash", "node": "n1"},
                                       {"at_ms": 1, "type": "pause", "node": "n2"},
                                       {"at_ms": 5, "type": "restart", "node": "n1"}]})
    assert [c["type"] for c in s["commands"]] == ["pause", "crash", "restart"]


@pytest.mark.parametrize("obj, words", [
    ([], "a scenario is a JSON object"),
    ({"seed": 1}, "'model' is a required property"),
    ({**GOOD, "seed": -1}, "seed"),
    ({**GOOD, "seed": "x"}, "seed"),
    ({**GOOD, "model": "nope"}, "unknown model 'nope'"),
    ({**GOOD, "nodes": 500}, "nodes"),
    ({**GOOD, "colour": "red"}, "colour"),
    ({**GOOD, "variant": {"warp": True}}, "variant"),
    ({**GOOD, "variant": {"extra_pong": "yes"}}, "variant.extra_pong"),
    ({**GOOD, "params": {"interval_ms": 0}}, "params.interval_ms"),
    ({**GOOD, "duration_ms": 10**9}, "duration_ms"),
    ({**GOOD, "commands": [{"type": "crash"}]}, "commands[0]: 'node' is a required"),
    ({**GOOD, "commands": [{"type": "crash", "node": "n9"}]}, "commands[0]: unknown node 'n9'"),
    ({**GOOD, "commands": [{"type": "explode", "node": "n1"}]}, "commands[0].type: unknown command"),
    ({**GOOD, "commands": [{"type": "crash", "node": "n1", "at_ms": -5}]}, "commands[0].at_ms"),
    ({**GOOD, "commands": [{"type": "crash", "node": "n1", "at_ms": 20_000}]}, "after the end"),
    ({**GOOD, "commands": [{"type": "heal", "from": "n1"}]}, "heal names both"),
    ({**GOOD, "commands": [{"type": "partition", "groups": [["n1"], ["n1", "n2"]]}]},
     "in two partition groups"),
    ({**GOOD, "commands": [{"type": "drift", "node": "n1", "rate": 0}]}, "commands[0].rate"),
    ({**GOOD, "commands": [{"type": "poke", "times": 0}]}, "commands[0].times"),
    ({**GOOD, "network": {"latency_ms": [20, 10]}}, "low ≤ high"),
    ({**GOOD, "narrative": [{"at_ms": 1}]}, "'text' is a required property"),
    ({**GOOD, "claims": ["C99"]}, "claims[0]"),
    ({**GOOD, "expected": {"violations": ["nope"]}}, "no invariant 'nope'"),
    ({**GOOD, "expected": {"metrics": {"x": {"about": 1}}}}, "expected.metrics.x"),
    ({**GOOD, "expected": {"spread": [{"of": ["x"], "le": 1}]}}, "expected.spread[0].of"),
    ({**GOOD, "expected": {"spread": [{"of": ["x", "y"]}]}}, "'le' is a required property"),
])
def test_bad_scenarios_are_refused_with_the_field_named(obj, words):
    assert words in refused(obj)


def test_size_limit():
    big = {**GOOD, "description": "x" * 3000,
           "narrative": [{"at_ms": i, "text": "y" * 590} for i in range(150)]}
    assert f"the limit is {MAX_BYTES}" in refused(big)


def test_command_count_limit():
    cmds = [{"at_ms": 1, "type": "heal"}] * 1001
    assert "commands" in refused({**GOOD, "commands": cmds})


def test_validation_is_idempotent():
    s = validate({**GOOD, "commands": [{"at_ms": 3, "type": "cut", "from": "n1", "to": "n2"}]})
    assert validate(s) == s


def test_client_command_fields_are_canonical_at_every_depth():
    from playground.engine import commands as C
    a = C.parse({"type": "tx", "rows": {"b": 1, "a": {"y": 2, "x": 1}}, "n": 1}, ["n1"],
                {"tx": {}})
    b = C.parse({"n": 1, "rows": {"a": {"x": 1, "y": 2}, "b": 1}, "type": "tx"}, ["n1"],
                {"tx": {}})
    assert repr(a) == repr(b)


@pytest.mark.parametrize("obj, words", [
    ({**GOOD, "network": {"loss": float("nan")}}, "network.loss: nan is not a finite number"),
    ({**GOOD, "commands": [{"type": "skew", "node": "n1", "offset_ms": float("inf")}]},
     "commands[0].offset_ms: inf is not a finite number"),
    ({**GOOD, "commands": [{"type": "crash", "node": "n1", "at_ms": float("-inf")}]},
     "at_ms: -inf is not a finite number"),
])
def test_non_finite_numbers_are_refused(obj, words):
    assert words in refused(obj)


def test_non_finite_numbers_in_a_file_are_refused(tmp_path):
    from playground.scenarios import load
    path = tmp_path / "nan.json"
    path.write_text('{"model": "toy", "seed": 1, "params": {"interval_ms": NaN}}')
    with pytest.raises(ScenarioError, match="params.interval_ms: nan is not a finite"):
        load(str(path))


def test_a_spread_expectation_compares_metrics_with_each_other():
    from playground.scenarios import check_expected
    spread = {"spread": [{"of": ["a", "b", "c"], "le": 100}]}
    assert check_expected(spread, [], {"a": 500, "b": 600, "c": 550}) == []
    assert check_expected(spread, [], {"a": 500, "b": 601, "c": 550}) == [
        "spread of {'a': 500, 'b': 601, 'c': 550} is 101, expected le 100"]
    assert "every metric must be a number" in check_expected(spread, [], {"a": 1, "b": None,
                                                                          "c": 2})[0]


@pytest.mark.parametrize("ask, error", [
    ({"question": "Who leads?", "choices": ["n1", "n2"], "answer": "n3"},
     "narrative[0].ask.answer: 'n3' is not one of the choices"),
    ({"question": "Who leads?", "answer": "n9"}, "'n9' is not one of the choices"),
    ({"question": "Who leads?", "choices": ["n1"]}, "narrative[0].ask.choices"),
    ({"question": ""}, "narrative[0].ask.question"),
    ({"question": "?", "extra": 1}, "narrative[0].ask"),
])
def test_a_caption_question_is_checked(ask, error):
    scenario = {"model": "raft", "seed": 1, "nodes": 3,
                "narrative": [{"at_ms": 5, "text": "now", "pause": True, "ask": ask}]}
    with pytest.raises(ScenarioError, match=re.escape(error)):
        validate(scenario)


def test_a_caption_question_pauses_the_run_and_its_choices_default_to_the_nodes():
    scenario = {"model": "raft", "seed": 1, "nodes": 3,
                "narrative": [{"at_ms": 5, "text": "now", "ask": {"question": "Who?"}}]}
    with pytest.raises(ScenarioError, match="pauses the run"):
        validate(scenario)
    scenario["narrative"][0]["pause"] = True
    scenario["narrative"][0]["ask"]["answer"] = "n2"
    assert validate(scenario)["narrative"][0]["ask"] == {"question": "Who?", "answer": "n2"}
