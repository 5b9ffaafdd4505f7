"""Every preset: valid, narrated, matching its expectation; every seed claim demonstrated."""

import json
import re
from pathlib import Path

import pytest

from playground.compare import compare
from playground.engine import trace as T
from playground.engine.history import History
from playground.models import MODELS
from playground.scenarios import PRESET_DIR, build, check_expected, presets, run
from playground.scenarios.schema import validate

CLAIMS_FILE = Path(__file__).resolve().parents[3] / "shared" / "SEED_CLAIMS.md"
ALL_CLAIMS = [f"C{i:02d}" for i in range(1, 23)]
PRESETS = sorted(presets())


def test_every_preset_file_belongs_to_a_registered_model():
    for path in PRESET_DIR.glob("*.json"):
        assert json.loads(path.read_text())["model"] in MODELS, path.name
    assert len(PRESETS) == len(list(PRESET_DIR.glob("*.json")))


@pytest.mark.parametrize("name", PRESETS)
def test_preset_file_passes_the_full_schema_and_loads_as_it_validates(name):
    """Loading a preset by name skips the JSON Schema layer; this is where it is checked."""
    raw = json.loads((PRESET_DIR / f"{name}.json").read_text())
    assert validate({**raw, "name": name}) == presets()[name]


def test_every_claim_is_demonstrated_by_a_preset():
    if CLAIMS_FILE.exists():
        assert re.findall(r"\*\*(C\d\d)", CLAIMS_FILE.read_text()) == ALL_CLAIMS
    covered = {claim for s in presets().values() for claim in s["claims"]}
    assert sorted(covered) == ALL_CLAIMS, f"missing: {sorted(set(ALL_CLAIMS) - covered)}"


def test_every_claim_has_a_preset_whose_outcome_is_a_checked_number_or_invariant():
    for claim in ALL_CLAIMS:
        checked = [s for s in presets().values() if claim in s["claims"]
                   and (s["expected"].get("metrics") or s["expected"].get("violations"))]
        assert checked, claim


@pytest.mark.parametrize("name", PRESETS)
def test_preset_matches_its_expectation(name):
    scenario = presets()[name]
    assert scenario["title"] and scenario["description"] and scenario.get("narrative"), name
    _sim, report = run(scenario)
    assert report["matches_expected"], report["mismatches"]


COMPARES = [name for name in PRESETS if "compare" in presets()[name]]


def test_there_are_compare_presets_and_only_they_are_named_compare():
    assert len(COMPARES) >= 6
    # an incident with a broken and a fixed form is told as a compare too
    assert all(name.startswith(("compare-", "incident-")) for name in COMPARES)
    assert all("compare" in presets()[name] for name in PRESETS if name.startswith("compare-"))


@pytest.mark.parametrize("name", COMPARES)
def test_compare_preset_both_sides_match_and_they_differ(name):
    out = compare(presets()[name])
    assert out["a"]["matches_expected"], out["a"]["mismatches"]
    assert out["b"]["matches_expected"], out["b"]["mismatches"]
    assert out["first_difference"] is not None and out["deltas"]
    scenario = presets()[name]
    wants = {"a": scenario["expected"], "b": scenario["compare"]["expected"]}
    crossed = [check_expected(wants[other], [v["invariant"] for v in out[side]["violations"]],
                              out[side]["metrics"])
               for side, other in (("a", "b"), ("b", "a"))]
    assert any(crossed), "a compare preset shows a difference its expectations name"


@pytest.mark.parametrize("name", PRESETS)
def test_preset_panels_are_json_and_seeking_back_replays_the_same_run(name):
    """What the UI shows is plain JSON, and time travel reproduces the run exactly."""
    scenario = presets()[name]
    sim = build(scenario)
    history = History(sim, every_events=200)
    end = min(scenario["duration_ms"], 4_000) * 1000
    history.advance(end)
    json.dumps(sim.model.panel(sim))
    for nid, node in sim.nodes.items():
        json.dumps({"role": sim.model.role(node.state),
                    "summary": sim.model.summary(nid, node.state)})
    back = end * 2 // 3
    history.seek(back)
    fresh = build(scenario)
    fresh.run_until(back)
    assert T.sha256(sim.trace) == T.sha256(fresh.trace)
    assert sim.metrics() == fresh.metrics()
    assert [v.detail for v in sim.violations] == [v.detail for v in fresh.violations]


def test_every_listed_model_loads_and_registers_under_its_name():
    for name in MODELS:
        assert MODELS[name].name == name
    with pytest.raises(KeyError):
        MODELS["no-such-model"]


@pytest.mark.parametrize("name", PRESETS)
def test_preset_sets_a_lecture_speed_that_gives_each_caption_seconds_on_screen(name):
    """At its lecture speed the typical stretch between two captions lasts seconds of wall
    time: long enough to watch, short enough not to wait."""
    scenario = presets()[name]
    speed = scenario["lecture_speed"]
    times = [c["at_ms"] for c in scenario["narrative"]]
    gaps = sorted(b - a for a, b in zip(times, times[1:]) if b > a)
    median_gap_s = gaps[len(gaps) // 2] / 1000 if gaps else scenario["duration_ms"] / 4000
    assert 1.5 <= median_gap_s / speed <= 20, (name, speed, median_gap_s)


def test_a_raft_election_takes_two_to_four_seconds_at_the_lecture_speed():
    scenario = presets()["raft-election"]
    sim, _report = run(scenario)
    elected = next(t for t, kind, _node, _cause, data in sim.trace
                   if kind == "fact" and type(data).__name__ == "BecameLeader")
    assert 2.0 <= elected / 1e6 / scenario["lecture_speed"] <= 4.0


def test_lecture_speed_is_validated():
    raw = json.loads((PRESET_DIR / "raft-election.json").read_text())
    for bad in (0, 0.001, 1000, "fast"):
        with pytest.raises(Exception, match="lecture_speed"):
            validate({**raw, "lecture_speed": bad})


def test_presets_of_raft_and_of_other_models_ask_the_room_a_question():
    asking = [s for s in presets().values() if any("ask" in c for c in s["narrative"])]
    raft = [s["name"] for s in asking if s["model"] == "raft"]
    other = [s["name"] for s in asking if s["model"] != "raft"]
    assert len(raft) >= 3 and len(other) >= 2, (raft, other)
    for scenario in asking:
        for caption in scenario["narrative"]:
            if "ask" in caption:
                assert caption["pause"] and caption["ask"]["answer"] in caption["ask"]["choices"]
