"""Scenarios: where they come from (presets, files, share links), and running them.

``load`` turns whatever a user typed (a preset name, a path, a share string or link)
into a validated scenario; ``build`` makes the simulation it describes; ``report``
summarises a finished run in the one JSON shape the command line, the tests and the
web layer share.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path

from ..engine import commands as C
from ..engine import trace as T
from ..engine.errors import ScenarioError
from ..engine.simulation import Simulation
from ..models import MODELS
from . import links, share
from .schema import OPS, parse, validate

PRESET_DIR = Path(__file__).parent / "presets"


@lru_cache(maxsize=1)
def _preset_files() -> dict[str, Path]:
    """Preset name -> file, for the models this build has."""
    out = {}
    for path in sorted(PRESET_DIR.glob("*.json")):
        if json.loads(path.read_text()).get("model") in MODELS:
            out[path.stem] = path
    return out


@lru_cache(maxsize=None)
def preset(name: str) -> dict:
    """One preset, validated (a broken preset file is a bug: it raises)."""
    path = _preset_files()[name]
    scenario = validate({**json.loads(path.read_text()), "name": name}, schema=False)
    for key in ("title", "claims", "expected"):
        if key not in scenario:
            raise ValueError(f"preset {path.name} has no '{key}'")
    return scenario


def presets() -> dict[str, dict]:
    """Every preset by name, validated."""
    return {name: preset(name) for name in _preset_files()}


def load(source: str) -> dict:
    """A validated scenario from a preset name, a file path, a share string or a link."""
    if not isinstance(source, str) or not source.strip():
        raise ScenarioError("name a preset, a scenario file, or a share link")
    source = source.strip()
    path = Path(source)
    if source in _preset_files():
        return preset(source)
    if len(source) < 1024 and path.suffix == ".json":
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise ScenarioError(f"no scenario file '{source}'") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"cannot read '{source}': {exc.__class__.__name__}") from None
        return validate(parse(text, f"'{source}'"))
    short = re.search(r"(?:^|/)s/([a-z2-7]+)/?$", source)
    if short and links.is_short_id(short.group(1)):
        from ..store import open_store  # the command line's store: the embedded default

        return links.resolve(open_store(os.environ.get("MESSAGE_QUEUE")), short.group(1))
    if share.looks_like_share(source):
        return share.decode(source)
    raise ScenarioError(f"no preset named '{source[:80]}' (see 'python -m playground "
                        "scenarios'), and it is neither a .json file nor a share link")


def build(scenario: dict) -> Simulation:
    """The simulation a validated scenario describes, at time 0."""
    cls = MODELS[scenario["model"]]
    model = cls(scenario["nodes"], dict(scenario["params"]), dict(scenario["variant"]))
    ids = model.node_ids()
    timed = [(int(round(c["at_ms"] * 1000)), C.parse(c, ids, cls.commands,
                                                      cls.addressable_roles))
             for c in scenario["commands"]]
    lo, hi = scenario["network"]["latency_ms"]
    return Simulation(model, scenario["seed"], latency=(int(lo * 1000), int(hi * 1000)),
                      loss=scenario["network"]["loss"],
                      duplicate=scenario["network"]["duplicate"], commands=timed)


PROBE_ENTRIES = 3000  # queue entries a cost estimate runs
PROBE_US = 2_000_000  # simulated time it covers at most


def event_rate(scenario: dict) -> float:
    """Events per simulated second the scenario runs, estimated up front from a short
    probe run of a fresh copy (at most ``PROBE_ENTRIES`` queue entries, or its first
    ``PROBE_US``): the nodes × the rates of their timers and messages, as they run."""
    sim = build(scenario)
    start = sim.events
    sim.run_until(PROBE_US, PROBE_ENTRIES)
    return (sim.events - start) * 1e6 / max(sim.now, 1000)


def recorded(scenario: dict, sim: Simulation) -> dict:
    """The scenario with the simulation's command list (live actions included)."""
    out = dict(scenario)
    out["commands"] = [{"at_ms": at / 1000, **C.to_json(cmd)} for at, cmd in sim.timeline()]
    return out


def check_expected(expected: dict, fired: list[str], metrics: dict) -> list[str]:
    """Why a run does not match its expectation (empty when it matches)."""
    problems = []
    want = sorted(expected.get("violations", []))
    if sorted(set(fired)) != want:
        problems.append(f"invariants fired {sorted(set(fired))}, expected {want}")
    for name, conditions in expected.get("metrics", {}).items():
        value = metrics.get(name)
        for op, bound in conditions.items():
            if not isinstance(value, (int, float)) or not OPS[op](value, bound):
                problems.append(f"metric {name} = {value!r}, expected {op} {bound}")
    for spread in expected.get("spread", []):
        values = {name: metrics.get(name) for name in spread["of"]}
        if not all(isinstance(v, (int, float)) for v in values.values()):
            problems.append(f"spread of {values}: every metric must be a number")
        elif max(values.values()) - min(values.values()) > spread["le"]:
            problems.append(f"spread of {values} is "
                            f"{max(values.values()) - min(values.values()):g}, expected le "
                            f"{spread['le']}")
    return problems


def report(scenario: dict, sim: Simulation) -> dict:
    """The run's summary: the shape of ``python -m playground run --json``."""
    metrics = sim.metrics()
    fired = [v.invariant for v in sim.violations]
    out = {
        "model": scenario["model"],
        "name": scenario.get("name"),
        "seed": scenario["seed"],
        "nodes": scenario["nodes"],
        "variant": scenario["variant"],
        "sim_time_ms": sim.now / 1000,
        "events": sim.events,
        "trace_records": len(sim.trace),
        "messages": {"sent": sim.sent, "delivered": sim.delivered, "dropped": sim.dropped},
        "violations": [{"invariant": v.invariant, "at_ms": v.at / 1000, "event": v.event,
                        "node": v.node, "detail": v.detail} for v in sim.violations],
        "metrics": metrics,
        "trace_sha256": T.sha256(sim.trace),
        "claims": scenario.get("claims", []),
        "expected": scenario.get("expected"),
    }
    if "expected" in scenario:
        problems = check_expected(scenario["expected"], fired, metrics)
        out["matches_expected"] = not problems
        out["mismatches"] = problems
    else:
        out["matches_expected"] = None
    return out


def run(scenario: dict, until_ms: float | None = None) -> tuple[Simulation, dict]:
    """Run a scenario to its end (or ``until_ms``), check final invariants, report."""
    sim = build(scenario)
    end = scenario["duration_ms"] if until_ms is None else until_ms
    sim.run_until(int(round(end * 1000)))
    sim.finish()
    return sim, report(scenario, sim)
