"""The command line: run scenarios headless, list presets, make share links.

    python -m playground run SCENARIO [--until SECONDS] [--json]
    python -m playground scenarios [--json]
    python -m playground share SCENARIO       # the short link, then the self-contained one
    python -m playground compare SCENARIO [--set NAME=VALUE ...] [--until S] [--json]
    python -m playground seeds [NAME ...] [--workers K] [--json]   # hold on other seeds?
    python -m playground soak [--minutes M] [--schedules N] [--workers K] [--models a,b]
    python -m playground search SCENARIO [--tries N] [--faults K] [--targets n1,n2]
                                         [--invariant NAME] [--no-script] [--json]

SCENARIO is a preset name, a scenario file (.json), or a share string or link. Bad
input exits with status 2 and one line on stderr. Models outside the package join through
``PLAYGROUND_EXTRA_MODELS`` (comma-separated modules; see ``playground.models``).
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import sys

from . import compare, search, soak
from .engine.errors import ScenarioError
from .models import MODELS, ModelImportError, import_models
from .scenarios import links, load, presets, run, seeds, share
from .scenarios.schema import MAX_DURATION_MS


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"playground: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m playground",
                     description="Run distributed-systems scenarios headless.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p_run = sub.add_parser("run", help="run a scenario and print what happened")
    p_run.add_argument("scenario", help="preset name, scenario file, or share link")
    p_run.add_argument("--until", type=float, metavar="SECONDS",
                       help="simulated seconds to run (default: the scenario's duration)")
    p_run.add_argument("--json", action="store_true", help="print one JSON object")
    p_list = sub.add_parser("scenarios", help="list the presets")
    p_list.add_argument("--json", action="store_true", help="print JSON")
    p_share = sub.add_parser("share", help="print the share link path of a scenario")
    p_share.add_argument("scenario", help="preset name, scenario file, or share link")
    p_search = sub.add_parser("search", help="random fault schedules until an invariant "
                              "breaks; print the shrunk counterexample")
    p_search.add_argument("scenario", help="the base scenario (its own commands are kept)")
    p_search.add_argument("--tries", type=int, default=200, help="schedules to try (≤ 10000)")
    p_search.add_argument("--faults", type=int, default=6, help="faults per schedule (≤ 100)")
    p_search.add_argument("--targets", help="comma-separated nodes to fault (default: all)")
    p_search.add_argument("--invariant", action="append", metavar="NAME",
                          help="only a violation of this invariant counts (repeatable)")
    p_search.add_argument("--no-script", action="store_true",
                          help="drop the scenario's own commands: search from its bare "
                               "configuration")
    p_search.add_argument("--json", action="store_true", help="print JSON")
    p_cmp = sub.add_parser("compare", help="run a scenario twice, with one switch or "
                           "parameter changed, and show where the runs part")
    p_cmp.add_argument("scenario", help="preset name, scenario file, or share link")
    p_cmp.add_argument("--set", action="append", metavar="NAME=VALUE", dest="settings",
                       help="a variant switch or parameter to change (VALUE is JSON; "
                            "repeatable; default: a compare preset's own)")
    p_cmp.add_argument("--until", type=float, metavar="SECONDS",
                       help="simulated seconds to run (default: the scenario's duration)")
    p_cmp.add_argument("--json", action="store_true", help="print one JSON object")
    p_seeds = sub.add_parser("seeds", help="run presets on their seed and the next ones; "
                             "print on how many each matches its expectation")
    p_seeds.add_argument("names", nargs="*", metavar="NAME", help="presets (default: all)")
    p_seeds.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                         help="worker processes (≤ 64)")
    p_seeds.add_argument("--json", action="store_true", help="print JSON")
    p_soak = sub.add_parser("soak", help="random schedules of every correct configuration "
                            "of every model; print schedules run and violations")
    p_soak.add_argument("--minutes", type=float, default=1.0, help="wall time (≤ 1440)")
    p_soak.add_argument("--schedules", type=int, default=1_000_000,
                        help="at most this many schedules per model")
    p_soak.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="worker processes (≤ 64)")
    p_soak.add_argument("--models", help="comma-separated models (default: all)")
    p_soak.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _print_summary(out: dict) -> None:
    print(f"{out['name'] or out['model']}: model {out['model']}, seed {out['seed']}, "
          f"{out['nodes']} nodes, {out['sim_time_ms'] / 1000:g} s simulated")
    msgs = out["messages"]
    print(f"  {out['events']} events; messages sent {msgs['sent']}, delivered "
          f"{msgs['delivered']}, dropped {msgs['dropped']}")
    if out["violations"]:
        print(f"  {len(out['violations'])} invariant violation(s):")
        for v in out["violations"][:20]:
            print(f"    at {v['at_ms']:.3f} ms  {v['invariant']}: {v['detail']}")
    else:
        print("  no invariant violated")
    print("  metrics:")
    for name, value in out["metrics"].items():
        print(f"    {name}: {json.dumps(value)}")
    if out["claims"]:
        print(f"  claims: {', '.join(out['claims'])}")
    if out["matches_expected"] is not None:
        verdict = "yes" if out["matches_expected"] else "NO: " + "; ".join(out["mismatches"])
        print(f"  matches expected: {verdict}")
    print(f"  trace sha256: {out['trace_sha256']}")


def _search(scenario: dict, args) -> int:
    if not 1 <= args.tries <= 10_000 or not 1 <= args.faults <= 100:
        raise ScenarioError("--tries is 1 to 10000 and --faults 1 to 100")
    targets = None
    if args.targets:
        targets = [t.strip() for t in args.targets.split(",") if t.strip()]
        unknown = [t for t in targets if t not in search.node_ids(scenario)]
        if unknown:
            raise ScenarioError(f"--targets: unknown node(s) {', '.join(unknown)}")
    invariants = args.invariant
    if invariants:
        known = [i.name for i in MODELS[scenario["model"]].invariants]
        unknown = [i for i in invariants if i not in known]
        if unknown:
            raise ScenarioError(f"--invariant: model '{scenario['model']}' has no invariant "
                                f"{', '.join(unknown)} (it has {', '.join(known)})")
    found = search.search(scenario, args.tries, targets=targets, faults=args.faults,
                          invariants=invariants, script=not args.no_script, **search.BROAD)
    if found is None:
        result = {"found": False, "tries": args.tries}
        print(json.dumps(result) if args.json else
              f"no invariant violated in {args.tries} random fault schedules")
        return 0
    small = search.shrink(found)
    result = {"found": True, "tries": found.tries, "invariants": small.invariants,
              "violations": small.report["violations"], "scenario": small.scenario,
              "share": share.link_path(small.scenario)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"try {found.tries}: {', '.join(small.invariants)} violated; shrunk from "
              f"{len(found.scenario['commands'])} to {len(small.scenario['commands'])} "
              "commands:")
        for cmd in small.scenario["commands"]:
            print("  " + json.dumps(cmd))
        for v in small.report["violations"][:5]:
            print(f"  at {v['at_ms']:.3f} ms  {v['invariant']}: {v['detail']}")
        print(f"replay: {result['share']}")
    return 0


def _compare(scenario: dict, args) -> int:
    if args.until is not None and not 0 < args.until * 1000 <= MAX_DURATION_MS:
        raise ScenarioError(f"--until must be between 0 and {MAX_DURATION_MS // 1000} "
                            "seconds")
    settings = dict(compare.parse_setting(s) for s in args.settings) if args.settings \
        else None
    out = compare.compare(scenario, settings, None if args.until is None else args.until * 1000)
    if args.json:
        print(json.dumps(out))
        return 0
    first = out["first_difference"]
    print(f"a: {json.dumps(scenario['variant'])}")
    print("b: " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in out["set"].items()))
    for side in ("a", "b"):
        fired = sorted({v["invariant"] for v in out[side]["violations"]})
        print(f"  {side}: {out[side]['events']} events, "
              f"{'violated ' + ', '.join(fired) if fired else 'no invariant violated'}")
    if first is None:
        print("the two runs are the same, record for record")
    else:
        print(f"first difference: record {first['event']} at {first['at_ms']:.3f} ms")
        for side in ("a", "b"):
            rec = first[side]
            print(f"  {side}: " + ("(the run had ended)" if rec is None else json.dumps(
                {k: v for k, v in rec.items() if k not in ("i", "cause")})))
    print("metrics that differ:")
    for metric, row in out["deltas"].items():
        delta = f"  ({row['delta']:+g})" if "delta" in row else ""
        print(f"  {metric}: {json.dumps(row['a'])} -> {json.dumps(row['b'])}{delta}")
    return 0


def _soak(args) -> int:
    if not 0 < args.minutes <= 1440 or not 1 <= args.workers <= 64 or args.schedules < 1:
        raise ScenarioError("--minutes is above 0 and at most 1440, --workers 1 to 64, "
                            "--schedules at least 1")
    models = list(MODELS)
    if args.models:
        models = [m.strip() for m in args.models.split(",") if m.strip()]
        unknown = [m for m in models if m not in MODELS]
        if unknown:
            raise ScenarioError(f"--models: unknown model(s) {', '.join(unknown)} (models "
                                f"are {', '.join(MODELS)})")

    def progress(model, count, found):
        for v in found:
            print(f"VIOLATION {model} {json.dumps(v['variant'])} {', '.join(v['invariants'])}"
                  f": {v['detail']}\n  replay: {v['share']}", file=sys.stderr, flush=True)

    tally = soak.soak(models, schedules=args.schedules, seconds=args.minutes * 60,
                      workers=args.workers, on_batch=progress)
    rows = {m: {"schedules": tally.runs[m], "violations": len(tally.violations[m]),
                "first": tally.violations[m][:3]} for m in models}
    if args.json:
        print(json.dumps(rows))
    else:
        for m, row in rows.items():
            print(f"{m:<12} {row['schedules']:>8} schedules  {row['violations']:>5} violations")
    return 1 if any(row["violations"] for row in rows.values()) else 0


def _seeds(args) -> int:
    names = args.names or sorted(presets())
    unknown = [n for n in names if n not in presets()]
    if unknown:
        raise ScenarioError(f"unknown preset(s) {', '.join(unknown)} (python -m playground "
                            "scenarios lists them)")
    if not 1 <= args.workers <= 64:
        raise ScenarioError("--workers is 1 to 64")
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        results = dict(pool.imap_unordered(seeds.held_by_name, names))
    rows = {}
    for name in names:
        per_seed = results[name]
        rows[name] = {"held": sum(not p for p in per_seed.values()), "of": len(per_seed),
                      "required": seeds.required(presets()[name]),
                      "missed": {seed: p for seed, p in per_seed.items() if p}}
    if args.json:
        print(json.dumps(rows))
    else:
        for name, row in rows.items():
            mark = "" if row["held"] >= row["required"] else "  BELOW " + str(row["required"])
            missed = ", ".join(f"{seed}: {p[0]}" for seed, p in row["missed"].items())
            print(f"{name:<36} {row['held']:>2}/{row['of']}{mark}"
                  + (f"\n    missed on {missed[:400]}" if missed else ""))
    return 1 if any(row["held"] < row["required"] for row in rows.values()) else 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        import_models()
        if args.command == "scenarios":
            rows = [{"name": name, "model": s["model"], "title": s["title"],
                     "claims": s["claims"], "expected": s["expected"]}
                    for name, s in presets().items()]
            if args.json:
                print(json.dumps(rows, indent=1))
            else:
                for row in rows:
                    print(f"{row['name']:<32} {row['model']:<12} {','.join(row['claims']):<12}"
                          f" {row['title']}")
            return 0
        if args.command == "soak":
            return _soak(args)
        if args.command == "seeds":
            return _seeds(args)
        scenario = load(args.scenario)
        if args.command == "search":
            return _search(scenario, args)
        if args.command == "compare":
            return _compare(scenario, args)
        if args.command == "share":
            from .store import open_store

            sid = links.save(open_store(os.environ.get("MESSAGE_QUEUE")), scenario)
            print(f"/s/{sid}")
            print(share.link_path(scenario))
            return 0
        if args.until is not None and not 0 < args.until * 1000 <= MAX_DURATION_MS:
            raise ScenarioError(f"--until must be between 0 and {MAX_DURATION_MS // 1000} "
                                "seconds")
        # One run, then the process ends: nothing it builds needs the cycle collector,
        # whose full passes over a long run's trace would cost more than the hash.
        gc.disable()
        _sim, out = run(scenario, None if args.until is None else args.until * 1000)
        if args.json:
            print(json.dumps(out))
        else:
            _print_summary(out)
        return 0
    except (ScenarioError, ModelImportError) as exc:
        print(f"playground: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    code = main()
    # The work is done and printed: leave without tearing down a run's millions of
    # objects one by one (a tenth of a second and more after a long run).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
