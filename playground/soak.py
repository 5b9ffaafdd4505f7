"""Soak: random fault schedules over every correct configuration of every model.

A *correct configuration* is a model's defaults, or its defaults with one variant switch
set to another value that the model does not mark ``broken`` (PreVote on, a lease read
mode, hysteresis off is broken and so left out). Each schedule is the search's broad
draw (``search.BROAD``: every fault kind, swarmed, client commands, role aiming) on one
configuration, with its own seed; configurations take turns within a model. No
invariant may fire on any of them (except one whose promise the model documents as void
under a fault the schedule holds, ``Model.assumes``: a lease under clock jumps): a
violation is a bug in a model or a checker, and the soak prints the share link that
replays it.

Work is spread over worker processes (``multiprocessing``), one batch of schedules of one
model per task, until the number of schedules or the time is used up.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass, field

from . import search
from .models import MODELS
from .scenarios import run, share
from .scenarios.schema import validate

BATCH = 20  # schedules per task


def configurations(model: str) -> list[dict]:
    """The model's defaults, then each non-broken value of each variant switch alone."""
    cls = MODELS[model]
    out = [validate({"model": model, "seed": 1})]
    for variant in cls.variants:
        for value in variant.choices:
            if value != variant.default and value not in variant.broken:
                out.append(validate({"model": model, "seed": 1,
                                     "variant": {variant.name: value}}))
    return out


def _batch(task: tuple[str, int, int]) -> tuple[str, int, list[dict]]:
    """Run schedules ``first`` … ``first + count − 1`` of ``model``; the violations."""
    model, first, count = task
    configs = configurations(model)
    found = []
    for i in range(first, first + count):
        base = configs[i % len(configs)]
        scenario = search.with_schedule(base, i // len(configs), **search.BROAD)
        sim, report = run(scenario)
        broken = search.judged(sim.model, scenario, report)
        if broken:
            found.append({"schedule": i, "variant": base["variant"],
                          "invariants": sorted({v["invariant"] for v in broken}),
                          "detail": broken[0]["detail"], "share": share.link_path(scenario)})
    return model, count, found


@dataclass
class Tally:
    """Schedules run and violations found, per model."""

    runs: dict = field(default_factory=dict)
    violations: dict = field(default_factory=dict)


def soak(models, *, schedules: int, seconds: float, workers: int, on_batch=None) -> Tally:
    """Up to ``schedules`` schedules per model within ``seconds`` of wall time."""
    tally = Tally({m: 0 for m in models}, {m: [] for m in models})
    tasks = [(m, first, min(BATCH, schedules - first)) for first in range(0, schedules, BATCH)
             for m in models]
    stop = time.monotonic() + seconds
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for model, count, found in pool.imap_unordered(_batch, tasks):
            tally.runs[model] += count
            tally.violations[model] += found
            if on_batch is not None:
                on_batch(model, count, found)
            if time.monotonic() > stop:
                pool.terminate()
                break
    return tally
