"""Raft benchmark: simulated seconds per wall second, and the cost per message as clusters grow.

    python benchmarks/raft_scaling.py [--seconds 1000] [--scale-seconds 60] [--repeat 3]
                                      [--commands 5]

Prints figures, asserts nothing. Four parts, the first three measured in this process:

1. ``raft-bench`` (5 servers, 10-15 ms RPCs, 100-200 ms election timeout, 50 ms
   heartbeats, a client request every 100 ms, one entry per AppendEntries, no faults) run
   for ``--seconds`` simulated seconds with every invariant checked: simulated seconds per
   wall second, events and messages per wall second.
2. What ``python -m playground run raft-bench --until SECONDS --json`` spends besides the
   run: the trace SHA-256 over every record, and the report.
3. The same workload with 5, 9, 15, 25 and 51 servers: wall time per delivered message
   and its ratio to the 5-server figure.
4. The whole command, ``python -m playground run raft-bench --until SECONDS --json``, run
   ``--commands`` times as a child process (interpreter start, imports, run, hash and
   output all counted), beside a bare interpreter start measured alternately with it.

Wall times are the best of ``--repeat`` runs (the machine is shared; the best run is the
least disturbed one); CPU times are shown beside them.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playground.engine import trace as T  # noqa: E402
from playground.scenarios import build, presets, report  # noqa: E402
from playground.scenarios.schema import validate  # noqa: E402

SIZES = (5, 9, 15, 25, 51)


def timed_run(scenario: dict, seconds: float, repeat: int):
    """(best wall s, best cpu s, sim) of running ``scenario`` for ``seconds``."""
    best_wall = best_cpu = float("inf")
    sim = None
    for _ in range(repeat):
        sim = build(scenario)
        wall, cpu = time.perf_counter(), time.process_time()
        sim.run_until(int(seconds * 1_000_000))
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu, sim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1000.0,
                        help="simulated seconds of raft-bench (default 1000)")
    parser.add_argument("--scale-seconds", type=float, default=60.0,
                        help="simulated seconds per cluster size (default 60)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best kept)")
    parser.add_argument("--commands", type=int, default=5,
                        help="runs of the whole command line (default 5)")
    args = parser.parse_args()
    bench = presets()["raft-bench"]

    wall, cpu, sim = timed_run(bench, args.seconds, args.repeat)
    print(f"raft-bench, {args.seconds:g} simulated s, every invariant checked:")
    print(f"  run          {wall:7.3f} s wall ({cpu:.3f} s cpu)  "
          f"{args.seconds / wall:7.0f} simulated s per wall s")
    print(f"  events       {sim.events:9d}  ({sim.events / wall:,.0f} per wall s, "
          f"{wall / sim.events * 1e6:.2f} µs each)")
    print(f"  messages     {sim.delivered:9d} delivered ({sim.delivered / args.seconds:.0f} "
          f"per simulated s); trace records {len(sim.trace)}")
    print(f"  violations   {len(sim.violations)}")

    cpu = time.process_time()
    T.sha256(sim.trace)
    hashing = time.process_time() - cpu
    cpu = time.process_time()
    report(bench, sim)  # what --json prints: metrics, and the hash once more
    reporting = time.process_time() - cpu
    print(f"  trace SHA-256 alone {hashing:.3f} s cpu; the whole --json report "
          f"{reporting:.3f} s cpu (run + report: hash and report are "
          f"{100 * reporting / (wall + reporting):.0f}%; add interpreter start and imports)")

    print(f"\ncluster size, {args.scale_seconds:g} simulated s each (same workload):")
    print("  servers  messages   µs/message wall (ratio to 5)   µs/message cpu (ratio to 5)")
    base = None
    for n in SIZES:
        scenario = validate({**{k: v for k, v in bench.items()
                                if k not in ("name", "expected", "title", "description",
                                             "narrative", "claims")}, "nodes": n})
        wall, cpu, sim = timed_run(scenario, args.scale_seconds, args.repeat)
        per = (wall / sim.delivered * 1e6, cpu / sim.delivered * 1e6)
        base = base or per
        print(f"  {n:7d}  {sim.delivered:8d}   {per[0]:15.2f} ({per[0] / base[0]:.2f})"
              f"   {per[1]:18.2f} ({per[1] / base[1]:.2f})")

    command = [sys.executable, "-m", "playground", "run", "raft-bench", "--until",
               f"{args.seconds:g}", "--json"]
    root = Path(__file__).resolve().parents[1]
    walls, bare = [], []
    for _ in range(args.commands):
        for argv, into in ((command, walls), ([sys.executable, "-c", "pass"], bare)):
            start = time.perf_counter()
            subprocess.run(argv, cwd=root, check=True, stdout=subprocess.DEVNULL)
            into.append(time.perf_counter() - start)
    print(f"\nthe whole command, {args.commands} runs: {' '.join(command[2:])}")
    print(f"  wall         min {min(walls):.3f} s, median {statistics.median(walls):.3f} s, "
          f"max {max(walls):.3f} s")
    print(f"  rate         {args.seconds / statistics.median(walls):.0f} simulated s per wall s "
          f"(median run; best {args.seconds / min(walls):.0f})")
    print(f"  of which a bare interpreter start: median {statistics.median(bare):.3f} s")


if __name__ == "__main__":
    main()
