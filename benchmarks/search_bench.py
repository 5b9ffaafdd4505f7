"""Counterexample search benchmark: every broken variant, found from its bare configuration.

    python benchmarks/search_bench.py [--tries 3000] [--seconds 60] [--seeds N] [--json]

For every model and every value of a variant that the model marks ``broken``, the base
scenario is the model's defaults with only that switch changed (no scripted faults, the
default duration and seed 1). The search draws random fault schedules over every fault
kind, swarmed (``search.BROAD``), until an invariant fires; the schedule is then shrunk.
A bug that the defaults cannot show has its own bare configuration and search settings
(``search.NEEDS``: Raft's membership bug needs a server outside the configuration, quiet
clients, and partitions, heals and client commands aimed at the nodes they hit).
Printed per variant: tries and wall time to the first violation, the invariants it
broke, and how many commands the shrunk schedule keeps. With ``--seeds N`` each variant is
searched from seeds 1 to N, and the medians per variant are printed too. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playground import search  # noqa: E402
from playground.models import MODELS  # noqa: E402
from playground.scenarios.schema import validate  # noqa: E402


def broken_variants():
    for name in MODELS:
        cls = MODELS[name]
        for variant in cls.variants:
            for value in variant.broken:
                yield name, variant.name, value


def one(model: str, variant: str, value, seed: int, args) -> dict:
    """Search one broken variant from its bare configuration with ``seed``; shrink."""
    base, settings = search.bare(model, variant, value, seed)
    start = time.perf_counter()
    stop = start + args.seconds
    found = search.search(base, args.tries, deadline=lambda: time.perf_counter() > stop,
                          **settings)
    elapsed = time.perf_counter() - start
    row = {"model": model, "variant": f"{variant}={json.dumps(value)}", "seed": seed,
           "found": found is not None, "seconds": round(elapsed, 2)}
    if found is not None:
        small = search.shrink(found)
        row.update(tries=found.tries, invariants=small.invariants,
                   faults=len(small.scenario["commands"]),
                   shrink_seconds=round(time.perf_counter() - start - elapsed, 2))
    if not args.json:
        what = (f"{row['tries']:>5} tries {row['seconds']:>7.2f} s  {row['faults']:>2} "
                f"faults  {', '.join(row['invariants'])}" if found else
                f"NOT FOUND in {row['seconds']:.1f} s")
        seed_note = f" seed {seed:<3}" if args.seeds > 1 else ""
        print(f"{model:<12} {row['variant']:<36}{seed_note} {what}", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tries", type=int, default=3000)
    ap.add_argument("--seconds", type=float, default=60.0, help="per variant")
    ap.add_argument("--only", help="model name or model.variant to run alone")
    ap.add_argument("--seeds", type=int, default=1, help="search from seeds 1..N")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    for model, variant, value in broken_variants():
        if args.only and args.only not in (model, f"{model}.{variant}"):
            continue
        mine = [one(model, variant, value, seed, args) for seed in range(1, args.seeds + 1)]
        rows += mine
        if args.seeds > 1 and not args.json:
            hits = [r for r in mine if r["found"]]
            print(f"{model:<12} {mine[0]['variant']:<36} found from {len(hits)} of "
                  f"{len(mine)} seeds; median {statistics.median(r['seconds'] for r in mine)} s, "
                  f"median shrunk faults "
                  f"{statistics.median(r['faults'] for r in hits) if hits else '-'}", flush=True)
    found = [r for r in rows if r["found"]]
    summary = {"variants": len(rows), "found": len(found),
               "median_seconds": statistics.median(r["seconds"] for r in rows) if rows else None,
               "median_faults": statistics.median(r["faults"] for r in found) if found else None}
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary}, indent=1))
    else:
        print(f"found {summary['found']} of {summary['variants']}; median time to a "
              f"violation (not found counts its full time) {summary['median_seconds']} s; "
              f"median shrunk faults {summary['median_faults']}")


if __name__ == "__main__":
    main()
