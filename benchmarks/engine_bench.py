"""Engine benchmark: raw event rate, and seek latency and memory over a long run.

    python benchmarks/engine_bench.py [--minutes 10] [--seeks 200] [--preset raft-bench]

Prints figures, asserts nothing. The seek figures use a 5-node run of ``--preset``
(raft-bench by default; the engine's test model ``toy`` when that preset is absent),
advanced through :class:`History` for ``--minutes`` of simulated time, then sought to
random moments. Memory is the checkpoint bytes held, and the process's resident-set
growth while the run was built (trace + checkpoints + live state).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playground.engine.history import History  # noqa: E402
from playground.engine.rng import Stream  # noqa: E402
from playground.scenarios import build, presets  # noqa: E402
from playground.scenarios.schema import validate  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def scenario_for(name: str) -> dict:
    if name in presets():
        return presets()[name]
    import tests.engine.toy  # noqa: F401  (registers the test model)
    print(f"(preset {name!r} not found: using the engine's test model 'toy')")
    return validate({"model": "toy", "seed": 1, "nodes": 5, "duration_ms": 3_600_000,
                     "params": {"interval_ms": 50}})


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--seeks", type=int, default=200)
    ap.add_argument("--preset", default="raft-bench")
    args = ap.parse_args()
    scenario = dict(scenario_for(args.preset), commands=[])
    horizon = int(args.minutes * 60 * 1_000_000)

    sim = build(scenario)
    start = time.perf_counter()
    sim.run_until(horizon)
    raw = time.perf_counter() - start
    print(f"model {scenario['model']}, {scenario['nodes']} nodes, {args.minutes:g} simulated "
          f"minutes: {sim.events} events, {len(sim.trace)} trace records")
    print(f"raw run: {raw:.2f} s wall, {sim.events / raw:,.0f} events/s, "
          f"{horizon / 1e6 / raw:,.0f} simulated s per wall s")
    del sim
    gc.collect()

    before = rss_mb()
    sim = build(scenario)
    history = History(sim)
    start = time.perf_counter()
    history.advance(horizon)
    with_history = time.perf_counter() - start
    grown = rss_mb() - before
    print(f"with checkpoints: {with_history:.2f} s wall ({with_history / raw:.2f}× the raw run);"
          f" {len(history.blobs)} checkpoints, {history.bytes_held / 2**20:.1f} MB; process "
          f"grew {grown:.1f} MB (trace, checkpoints and state)")

    rng = Stream(2024)
    for label, freeze in (("default GC", False), ("after gc.freeze()", True)):
        if freeze:
            gc.freeze()
        times = []
        for _ in range(args.seeks):
            t = rng.randint(0, horizon)
            start = time.perf_counter()
            history.seek(t)
            times.append((time.perf_counter() - start) * 1000)
        print(f"seek to a random moment ({label}), {args.seeks} seeks: p50 {pct(times, 50):.1f}"
              f" ms, p90 {pct(times, 90):.1f} ms, p99 {pct(times, 99):.1f} ms, max "
              f"{max(times):.1f} ms")


if __name__ == "__main__":
    main()
