"""Compare: one scenario run twice, with a variant switch or parameter changed.

Both runs share the seed, the network and every command, so the first trace record in
which they differ is the first consequence of the change; ``first_difference`` names it
(its index, its time, and the two records side by side), and ``deltas`` lists the
metrics whose values differ. The command line prints this (``python -m playground
compare``); the browser's split view is built on the same pair of scenarios.

A *compare scenario* carries its second side: ``"compare": {"set": {"prevote": true},
"expected": {...}}`` (the ``compare-*`` presets). Its first side is the scenario itself,
judged by ``expected``; its second is the same with ``set`` applied, judged by
``compare.expected``.
"""

from __future__ import annotations

import json

from .engine.errors import ScenarioError
from .engine.trace import record_json
from .models import MODELS
from .scenarios import run
from .scenarios.schema import validate


def parse_setting(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` with VALUE as JSON (``true``, ``250``, ``"local"``) or a bare word."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise ScenarioError(f"--set takes NAME=VALUE, not {text[:60]!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return name.strip(), value


def changed(scenario: dict, settings: dict) -> dict:
    """``scenario``'s second side: each switch or parameter in ``settings`` set; judged by
    the scenario's ``compare.expected`` when it has one."""
    cls = MODELS[scenario["model"]]
    kept = {k: v for k, v in scenario.items() if k not in ("name", "expected", "compare")}
    for name, value in settings.items():
        where = ("variant" if name in {v.name for v in cls.variants} else
                 "params" if name in {p.name for p in cls.params} else None)
        if where is None:
            raise ScenarioError(
                f"--set: model '{scenario['model']}' has no switch or parameter {name!r} "
                f"(switches: {', '.join(v.name for v in cls.variants) or 'none'}; "
                f"parameters: {', '.join(p.name for p in cls.params) or 'none'})")
        if scenario[where].get(name) == value:
            raise ScenarioError(f"--set: {name} is already {json.dumps(value)}: nothing to "
                                "compare")
        kept[where] = {**kept[where], name: value}
    if "expected" in scenario.get("compare", {}):
        kept["expected"] = scenario["compare"]["expected"]
    return validate(kept)


def first_difference(a, b) -> dict | None:
    """The first trace records that differ, as ``{event, at_ms, a, b}`` (a missing record
    is None: one run ended sooner); None when the traces are the same."""
    for i, (ra, rb) in enumerate(zip(a, b)):
        if ra != rb:
            ja, jb = record_json(i, ra), record_json(i, rb)
            if ja != jb:
                return {"event": i, "at_ms": min(ra[0], rb[0]) / 1000, "a": ja, "b": jb}
    if len(a) != len(b):
        i = min(len(a), len(b))
        longer = a if len(a) > len(b) else b
        rec = record_json(i, longer[i])
        return {"event": i, "at_ms": longer[i][0] / 1000,
                "a": rec if longer is a else None, "b": rec if longer is b else None}
    return None


def deltas(ma: dict, mb: dict) -> dict:
    """The metrics whose values differ: ``{name: {a, b, delta}}`` (delta for numbers)."""
    out = {}
    for name in sorted(set(ma) | set(mb)):
        va, vb = ma.get(name), mb.get(name)
        if va == vb:
            continue
        row = {"a": va, "b": vb}
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)) \
                and not isinstance(va, bool) and not isinstance(vb, bool):
            row["delta"] = round(vb - va, 6)
        out[name] = row
    return out


def compare(scenario: dict, settings: dict | None = None,
            until_ms: float | None = None) -> dict:
    """Run ``scenario`` (a) and the same with ``settings`` (by default its own
    ``compare.set``) applied (b), and compare them."""
    if settings is None:
        if "compare" not in scenario:
            raise ScenarioError("name what to change (--set NAME=VALUE): this scenario is not "
                                "a compare scenario")
        settings = scenario["compare"]["set"]
    other = changed(scenario, settings)
    sim_a, report_a = run(scenario, until_ms)
    sim_b, report_b = run(other, until_ms)
    return {"set": dict(settings), "a": report_a, "b": report_b,
            "first_difference": first_difference(sim_a.trace, sim_b.trace),
            "deltas": deltas(report_a["metrics"], report_b["metrics"])}
