"""Does a preset hold on other seeds? A phenomenon that shows on one lucky seed proves little.

A preset's seed fixes every random choice: message delays, election timeouts, who
acquires a lease first. ``held`` runs the preset on its own seed and on the next ones
(``SEEDS`` in all) and says, per seed, why the run does not match its expectation (an
empty list when it matches; both sides of a compare preset are judged). A preset is
expected to hold on at least ``MIN_HELD`` of them; one that cannot, for a reason inherent
to what it shows, says so in its ``seeds`` field (``{"held": 7, "why": "..."}``), and the
test holds it to that lower figure instead.

``python -m playground seeds [NAME ...]`` prints the figure for each preset.
"""

from __future__ import annotations

from . import presets, run

SEEDS = 11      # the preset's own seed and the ten after it
MIN_HELD = 9    # of SEEDS


def reseeded(scenario: dict, seed: int) -> dict:
    """``scenario`` with another seed (everything else, the script included, unchanged)."""
    return {**scenario, "seed": seed}


def mismatches(scenario: dict) -> list[str]:
    """Why ``scenario`` does not match its expectation (both sides of a compare preset)."""
    from ..compare import changed

    problems = list(run(scenario)[1]["mismatches"])
    if "compare" in scenario:
        other = run(changed(scenario, scenario["compare"]["set"]))[1]
        problems += [f"second side: {p}" for p in other["mismatches"]]
    return problems


def held(scenario: dict, seeds: int = SEEDS) -> dict[int, list[str]]:
    """Per seed, from the scenario's own on, why the run misses its expectation."""
    return {seed: mismatches(reseeded(scenario, seed))
            for seed in range(scenario["seed"], scenario["seed"] + seeds)}


def required(scenario: dict) -> int:
    """How many of ``SEEDS`` seeds the preset must hold on."""
    return scenario.get("seeds", {}).get("held", MIN_HELD)


def held_by_name(name: str) -> tuple[str, dict[int, list[str]]]:
    """``held`` for the preset called ``name`` (a picklable task for a process pool)."""
    return name, held(presets()[name])
