"""Counterexample search: random fault schedules until an invariant breaks, then shrink.

``search`` runs a base scenario under seeded random fault schedules (see
``engine.faults``), each try with its own scenario seed and schedule seed, and returns
the first run that violates an invariant. ``shrink`` then removes commands one at a
time, keeping each removal that still violates the same invariant, pass after pass
until no single command can go: what is left is a short, replayable schedule a student can read, and
its share link reproduces the failure exactly.

This is Hypothesis's "random faults plus a safety property" on the engine's own terms,
and the property tests of the models use it to show that each broken variant is caught.
"""

from __future__ import annotations

from dataclasses import dataclass

from .engine.faults import DEFAULT_KINDS, random_schedule
from .models import MODELS
from .scenarios import run
from .scenarios.schema import validate


@dataclass
class Found:
    """A scenario that breaks an invariant, and what the checker said."""

    scenario: dict
    report: dict
    tries: int

    @property
    def invariants(self) -> list[str]:
        return sorted({v["invariant"] for v in self.report["violations"]})


def node_ids(scenario: dict) -> list[str]:
    cls = MODELS[scenario["model"]]
    return cls(scenario["nodes"], scenario["params"], scenario["variant"]).node_ids()


def with_schedule(base: dict, attempt: int, *, targets=None, faults: int = 6,
                  kinds=DEFAULT_KINDS, max_down=None, all_nodes=None) -> dict:
    """The base scenario with try number ``attempt``'s seed and random fault schedule."""
    targets = list(targets or node_ids(base))
    schedule = random_schedule(base["seed"] * 7919 + attempt, targets, base["duration_ms"],
                               faults=faults, kinds=kinds, max_down=max_down,
                               all_nodes=all_nodes or targets)
    commands = sorted(base.get("commands", []) + schedule, key=lambda c: c["at_ms"])
    kept = {k: v for k, v in base.items() if k not in ("name", "claims", "expected")}
    return validate({**kept, "seed": base["seed"] + attempt, "commands": commands})


def search(base: dict, tries: int, *, invariants=None, **schedule) -> Found | None:
    """The first of ``tries`` random schedules that violates an invariant (any, or one of
    ``invariants``), or None."""
    for attempt in range(tries):
        scenario = with_schedule(base, attempt, **schedule)
        _sim, report = run(scenario)
        fired = {v["invariant"] for v in report["violations"]}
        if fired and (invariants is None or fired & set(invariants)):
            return Found(scenario, report, attempt + 1)
    return None


def shrink(found: Found, budget: int = 300) -> Found:
    """Remove commands while the same invariant still fires, pass after pass, until no
    single command can go (or ``budget`` runs are spent)."""
    target = set(found.invariants)
    best = found
    runs = 0
    changed = True
    while changed and runs < budget:
        changed = False
        i = len(best.scenario["commands"]) - 1
        while i >= 0 and runs < budget:
            commands = best.scenario["commands"]
            candidate = validate({**best.scenario, "commands": commands[:i] + commands[i + 1:]})
            _sim, report = run(candidate)
            runs += 1
            if target & {v["invariant"] for v in report["violations"]}:
                best = Found(candidate, report, best.tries)
                changed = True
            i -= 1
    return best
