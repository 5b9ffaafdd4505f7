"""Every hand-written mutant of a model is caught by its presets or by random schedules.

For each mutant: first the model's presets (caught when one no longer matches its
expectation), then up to ``SCHEDULES`` schedules of the soak (every correct
configuration, every fault kind; caught when one breaks an invariant the model promises
under its faults). The mutation score of each model is printed; the target is every
mutant caught.
"""

from __future__ import annotations

import pytest

from playground import search, soak
from playground.scenarios import presets, run

from . import applied
from .heartbeat import MUTANTS as HEARTBEAT
from .idempotency import MUTANTS as IDEMPOTENCY
from .lease import MUTANTS as LEASE
from .outbox import MUTANTS as OUTBOX
from .raft import MUTANTS as RAFT
from .saga import MUTANTS as SAGA
from .twopc import MUTANTS as TWOPC

MUTANTS = LEASE + IDEMPOTENCY + HEARTBEAT + OUTBOX + TWOPC + SAGA + RAFT
SCHEDULES = 1000


def caught_by(m) -> str | None:
    """What catches mutant ``m`` (a preset's name or a schedule's number), or None."""
    with applied(m):
        for name, scenario in sorted(presets().items()):
            if scenario["model"] == m.model and not run(scenario)[1]["matches_expected"]:
                return f"preset {name}"
        configs = soak.configurations(m.model)
        for i in range(SCHEDULES):
            base = configs[i % len(configs)]
            scenario = search.with_schedule(base, i // len(configs), **search.BROAD)
            sim, report = run(scenario)
            if search.judged(sim.model, scenario, report):
                return f"schedule {i}"
    return None


def test_the_mutants_are_caught_and_the_score_is_printed(capsys):
    score: dict[str, list] = {}
    for m in MUTANTS:
        score.setdefault(m.model, []).append((m.name, caught_by(m)))
    with capsys.disabled():
        for model, rows in score.items():
            caught = sum(1 for _n, by in rows if by)
            print(f"\nmutation score {model}: {caught}/{len(rows)}")
            for name, by in rows:
                print(f"  {name:<36} {'caught by ' + by if by else 'NOT CAUGHT'}")
    missed = [f"{model}.{name}" for model, rows in score.items() for name, by in rows
              if by is None]
    assert not missed, f"mutants not caught: {missed}"


@pytest.mark.parametrize("m", MUTANTS, ids=lambda m: f"{m.model}.{m.name}")
def test_a_mutant_is_undone_after_use(m):
    originals = [cls.__dict__[attr] for cls, attr, _ in m.patches]
    with applied(m):
        assert [cls.__dict__[attr] for cls, attr, _ in m.patches] != originals
    assert [cls.__dict__[attr] for cls, attr, _ in m.patches] == originals
