"""Summaries of samples, shared by the engine's metrics and the models' own.

One neutral module below both layers: the engine summarizes the distributions a run
observes (``ctx.observe``), and a model that keeps samples of its own (a saga's
inconsistency windows, a relay's lag) summarizes them the same way.
"""

from __future__ import annotations


def percentile(ordered: list, p: float):
    """The nearest-rank ``p``-th percentile of an ascending, non-empty list."""
    n = len(ordered)
    return ordered[min(n - 1, max(0, -(-n * p // 100) - 1))]


def summarize(values: list) -> dict:
    """count, mean, p50, p90, p99 and max of a list of samples (nearest-rank)."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    n = len(ordered)
    return {"count": n, "mean": round(sum(ordered) / n, 3),
            "p50": percentile(ordered, 50), "p90": percentile(ordered, 90),
            "p99": percentile(ordered, 99), "max": ordered[-1]}
