"""Every preset: valid, narrated, matching its expectation; every seed claim demonstrated."""

import re
from pathlib import Path

import pytest

from playground.models import MODELS
from playground.scenarios import PRESET_DIR, presets, run

CLAIMS_FILE = Path(__file__).resolve().parents[3] / "shared" / "SEED_CLAIMS.md"
ALL_CLAIMS = [f"C{i:02d}" for i in range(1, 23)]
PRESETS = sorted(presets())


def test_every_preset_file_belongs_to_a_registered_model():
    import json
    for path in PRESET_DIR.glob("*.json"):
        assert json.loads(path.read_text())["model"] in MODELS, path.name
    assert len(PRESETS) == len(list(PRESET_DIR.glob("*.json")))


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
