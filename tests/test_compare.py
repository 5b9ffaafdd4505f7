"""Compare: the same run with one switch or parameter changed, and where the two part."""

from __future__ import annotations

import json

import pytest

from playground import compare
from playground.__main__ import main
from playground.engine.errors import ScenarioError
from playground.engine.trace import Trace
from playground.scenarios import presets, run


def test_the_first_difference_is_the_first_record_the_change_alters():
    base = presets()["raft-oneway-cut"]
    out = compare.compare(base, {"prevote": True}, until_ms=3000)
    first = out["first_difference"]
    a = list(run(base, 3000)[0].trace)
    b = list(run(compare.changed(base, {"prevote": True}), 3000)[0].trace)
    assert first["event"] >= 1 and a[:first["event"]] == b[:first["event"]]
    assert a[first["event"]] != b[first["event"]] and first["a"] != first["b"]
    assert first["at_ms"] * 1000 == min(first["a"]["t_us"], first["b"]["t_us"])
    assert out["b"]["variant"]["prevote"] is True and out["a"]["variant"]["prevote"] is False
    assert out["deltas"]["prevote_rounds"]["b"] > 0


def test_a_run_that_ends_sooner_differs_where_it_ended():
    a, b = Trace(), Trace()
    for t in (a, b):
        t.add(0, "start", "n1", -1, ())
    b.add(5, "start", "n2", -1, ())
    diff = compare.first_difference(a, b)
    assert diff == {"event": 1, "at_ms": 0.005, "a": None,
                    "b": {"i": 1, "t_us": 5, "kind": "start", "node": "n2", "cause": -1}}
    assert compare.first_difference(a, a.copy()) is None


def test_deltas_list_only_what_differs_with_a_signed_difference_for_numbers():
    assert compare.deltas({"x": 1, "y": 2, "s": {"p50": 1}}, {"x": 1, "y": 5, "s": {"p50": 2}}) \
        == {"y": {"a": 2, "b": 5, "delta": 3}, "s": {"a": {"p50": 1}, "b": {"p50": 2}}}


def test_a_setting_the_model_lacks_or_already_has_is_refused_by_name():
    sc = presets()["raft-election"]
    with pytest.raises(ScenarioError, match="no switch or parameter 'warp'.*prevote"):
        compare.changed(sc, {"warp": 1})
    with pytest.raises(ScenarioError, match="already false"):
        compare.changed(sc, {"prevote": False})
    with pytest.raises(ScenarioError, match="NAME=VALUE"):
        compare.parse_setting("prevote")
    assert compare.parse_setting("read_mode=local") == ("read_mode", "local")
    assert compare.parse_setting("heartbeat_ms=25") == ("heartbeat_ms", 25)


def test_cli_compare_prints_both_reports_the_first_difference_and_the_deltas(capsys):
    assert main(["compare", "lease-drift-two-leaders", "--set", "fencing=true",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"no_stale_write"} <= {v["invariant"] for v in out["a"]["violations"]}
    assert "no_stale_write" not in {v["invariant"] for v in out["b"]["violations"]}
    assert out["first_difference"]["event"] > 0
    assert out["deltas"]["stale_writes_rejected"]["delta"] >= 1
    assert main(["compare", "lease-drift-two-leaders", "--set", "fencing=true"]) == 0
    text = capsys.readouterr().out
    assert "first difference: record" in text and "stale_writes_rejected" in text


def test_cli_compare_names_a_bad_setting(capsys):
    assert main(["compare", "raft-election", "--set", "nope=1"]) == 2
    assert "no switch or parameter 'nope'" in capsys.readouterr().err


def test_a_compare_preset_carries_its_own_second_side(capsys):
    assert main(["compare", "compare-outbox-vs-dual-write", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["set"] == {"mode": "outbox"}
    assert out["a"]["matches_expected"] and out["b"]["matches_expected"]
    assert out["b"]["expected"] == presets()["compare-outbox-vs-dual-write"]["compare"][
        "expected"]
    with pytest.raises(ScenarioError, match="not a compare scenario"):
        compare.compare(presets()["raft-election"])
