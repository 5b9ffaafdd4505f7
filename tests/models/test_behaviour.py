"""Every preset, and each under four random fault schedules, behaves as recorded.

``behaviour.json`` holds the behaviour digest (``trace.behaviour_sha256``: every record
but notes and facts) of each run. A change that must not alter what any model does (a
refactoring, more facts told, notes reworded) leaves them all equal; a change that alters
behaviour on purpose regenerates the file with ``python -m tests.models.test_behaviour``
and says in its commit which presets changed and why.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from playground.engine.trace import behaviour_sha256
from playground.scenarios import presets, run
from playground.search import with_schedule

RECORDED = Path(__file__).with_name("behaviour.json")
SCHEDULES = (1, 2, 3, 4)


def digests(scenario: dict) -> list[str]:
    runs = [scenario] + [with_schedule(scenario, attempt) for attempt in SCHEDULES]
    return [behaviour_sha256(run(r)[0].trace) for r in runs]


def _recorded() -> dict:
    return json.loads(RECORDED.read_text()) if RECORDED.exists() else {}


@pytest.mark.parametrize("name", sorted(_recorded()))
def test_preset_behaves_as_recorded(name):
    assert digests(presets()[name]) == _recorded()[name]


def test_every_preset_is_recorded():
    assert set(presets()) <= set(_recorded()), "record new presets: python -m " \
                                               "tests.models.test_behaviour"


if __name__ == "__main__":
    table = {name: digests(sc) for name, sc in sorted(presets().items())}
    RECORDED.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(table)} presets in {RECORDED}", file=sys.stderr)
