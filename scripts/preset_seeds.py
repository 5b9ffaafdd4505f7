"""How many seeds each preset holds on: every preset whose name starts with a prefix, run
with its own seed replaced by each of seeds 1..11, judged by its own expectation (and, for
a compare preset, both sides by theirs).

    python3 scripts/preset_seeds.py heartbeat-            # the heartbeat presets
    python3 scripts/preset_seeds.py lease- --seeds 1-20   # another range

Prints one line per preset (matches / seeds, and the seeds that missed with the first
mismatch of each); exits 1 if a preset matches on fewer than ``--need`` seeds (default 9).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playground.compare import compare  # noqa: E402
from playground.scenarios import presets, run  # noqa: E402


def mismatches(scenario: dict) -> list[str]:
    """Why ``scenario`` does not match its expectation (empty when it matches)."""
    if "compare" in scenario:
        out = compare(scenario)
        return out["a"]["mismatches"] + [f"(second side) {m}" for m in out["b"]["mismatches"]]
    return run(scenario)[1]["mismatches"]


def seeds_arg(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefix", help="preset names starting with this")
    parser.add_argument("--seeds", type=seeds_arg, default=seeds_arg("1-11"))
    parser.add_argument("--need", type=int, default=9, help="seeds each preset must hold on")
    args = parser.parse_args(argv)
    short = []
    for name, scenario in sorted(presets().items()):
        if not name.startswith(args.prefix):
            continue
        missed = {}
        for seed in args.seeds:
            problems = mismatches({**scenario, "seed": seed})
            if problems:
                missed[seed] = problems[0]
        held = len(args.seeds) - len(missed)
        print(f"{name:<40} {held:>2}/{len(args.seeds)}", flush=True)
        for seed, problem in missed.items():
            print(f"    seed {seed}: {problem}")
        if held < args.need:
            short.append(name)
    if short:
        print(f"below {args.need}: {', '.join(short)}")
    return 1 if short else 0


if __name__ == "__main__":
    sys.exit(main())
