"""Seeded random fault schedules, for property tests and counterexample search.

``random_schedule`` draws a plausible sequence of faults (crash and restart, pause and
resume, cuts, partitions, heals, clock skew and drift) over a time window, from its own
stream of the seed, and ends with a *settle* phase: every node restarted or resumed and
every link healed, so that "eventually" properties can be checked at the end of the run.
It tracks what it broke, so it never restarts a live node or resumes a running one: the
schedule reads like something a person would do.

The result is a list of wire commands (``{"at_ms": ..., "type": ...}``), the same
vocabulary as scenario files, so a failing schedule pastes straight into a scenario.
"""

from __future__ import annotations

from .rng import Stream

DEFAULT_KINDS = ("crash", "pause", "cut", "partition", "skew", "drift", "heal")


def random_schedule(seed: int, targets, duration_ms: int, *, faults: int = 6,
                    kinds=DEFAULT_KINDS, settle_ms: int | None = None,
                    all_nodes=None, max_down: int | None = None) -> list[dict]:
    """About ``faults`` faults on ``targets`` in [0, duration_ms − settle_ms), then repairs.

    ``all_nodes`` (default ``targets``) are the nodes a partition may group; ``max_down``
    bounds how many targets are crashed or paused at once (default: a minority).
    """
    rng = Stream.for_purpose(seed, "faults")
    targets = list(targets)
    all_nodes = list(all_nodes or targets)
    settle_ms = duration_ms // 3 if settle_ms is None else settle_ms
    window = max(1, duration_ms - settle_ms)
    max_down = (len(targets) - 1) // 2 if max_down is None else max_down
    times = sorted(rng.randint(1, max(1, window - 1)) for _ in range(faults))
    down_until: dict[str, float] = {}  # node -> when it is back (inf: only at the end)
    down_kind: dict[str, str] = {}
    out: list[dict] = []
    for at in times:
        kind = rng.choice(list(kinds))
        up = [n for n in targets if down_until.get(n, -1) <= at]
        if kind in ("crash", "pause") and (len(targets) - len(up) >= max_down or not up):
            kind = "heal"
        if kind in ("crash", "pause"):
            node = rng.choice(up)
            out.append({"at_ms": at, "type": kind, "node": node})
            back = at + rng.randint(50, max(60, window // 3))
            if back < window:
                out.append({"at_ms": back, "type": "restart" if kind == "crash" else "resume",
                            "node": node})
            down_until[node] = back if back < window else float("inf")
            down_kind[node] = kind
        elif kind == "cut" and len(all_nodes) >= 2:
            a = rng.choice(all_nodes)
            b = rng.choice([n for n in all_nodes if n != a])
            out.append({"at_ms": at, "type": "cut", "from": a, "to": b,
                        "oneway": rng.random() < 0.3})
        elif kind == "partition" and len(all_nodes) >= 2:
            shuffled = list(all_nodes)
            rng.shuffle(shuffled)
            k = rng.randint(1, len(shuffled) - 1)
            out.append({"at_ms": at, "type": "partition", "groups": [sorted(shuffled[:k])]})
        elif kind == "skew" and targets:
            out.append({"at_ms": at, "type": "skew", "node": rng.choice(targets),
                        "offset_ms": rng.randint(-500, 500)})
        elif kind == "drift" and targets:
            out.append({"at_ms": at, "type": "drift", "node": rng.choice(targets),
                        "rate": rng.choice([0.5, 0.8, 0.9, 0.95, 1.05, 1.1, 1.25, 2.0])})
        else:
            out.append({"at_ms": at, "type": "heal"})
    out.sort(key=lambda c: c["at_ms"])
    end = window
    out.append({"at_ms": end, "type": "heal"})
    for node, until in down_until.items():
        if until == float("inf"):
            out.append({"at_ms": end, "type": "restart" if down_kind[node] == "crash"
                        else "resume", "node": node})
    return out
