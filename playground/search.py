"""Counterexample search: random fault schedules until an invariant breaks, then shrink.

``search`` runs a base scenario under seeded random fault schedules (see
``engine.faults``), each try with its own scenario seed and schedule seed, and returns
the first run that violates an invariant (any, or one of those asked for). ``shrink``
then makes the schedule small and plain: it removes commands one at a time, keeping each
removal after which the same invariant still breaks, pass after pass until no single
command can go; then it rounds times and simplifies values (a latency, a loss, an
offset) while the failure stays. What is left is a short schedule a student can read,
and its share link reproduces the failure exactly.

**Swarm testing** (Groce et al., 2012): with ``swarm``, each try draws its own subset of
the fault kinds and its own number of faults, so that some tries are all crashes, some
all lossy links, some a single clock jump; a bug that one kind of fault reveals and
another masks is then found far sooner than with every kind mixed in every try. Faults
on one node aim, half of the time, at a role the model offers (the leader, the lease
holder) instead of a fixed node. With ``aim``, half of the cuts isolate one node (or a
role) from its peers, the other nodes of its model role, and client commands come in
bursts at one node, around a fault on it: a new or deposed leader asked to read, a
crashed server asked to leave. ``script=False`` drops the base scenario's own scripted
commands and searches from its bare configuration.

This is Hypothesis's "random faults plus a safety property" on the engine's own terms,
and the property tests of the models use it to show that each broken variant is caught.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .engine.faults import ALL_KINDS, DEFAULT_KINDS, random_schedule
from .engine.errors import ScenarioError
from .engine.rng import Stream
from .models import MODELS
from .scenarios import run
from .scenarios.schema import validate


@dataclass
class Found:
    """A scenario that breaks an invariant, and what the checker said."""

    scenario: dict
    report: dict
    tries: int

    @property
    def invariants(self) -> list[str]:
        return sorted({v["invariant"] for v in self.report["violations"]})


def node_ids(scenario: dict) -> list[str]:
    cls = MODELS[scenario["model"]]
    return cls(scenario["nodes"], scenario["params"], scenario["variant"]).node_ids()


def with_schedule(base: dict, attempt: int, *, targets=None, faults: int = 6,
                  kinds=DEFAULT_KINDS, max_down=None, all_nodes=None, swarm: bool = False,
                  roles: bool = False, script: bool = True, aim: bool = False) -> dict:
    """The base scenario with try number ``attempt``'s seed and random fault schedule.

    ``swarm``: this try's own subset of ``kinds`` and 1 to ``faults`` faults; ``roles``:
    faults may aim at the model's addressable roles; ``script`` False: without the base
    scenario's own commands; ``aim``: cuts may isolate one node from its peers (the nodes
    of its model role) and client commands probe the node a fault hit (``random_schedule``'s
    ``peers`` and ``probes``)."""
    targets = list(targets or node_ids(base))
    seed = base["seed"] * 7919 + attempt
    if swarm:
        draw = Stream.for_purpose(seed, "swarm")
        kinds = [k for k in kinds if draw.random() < 0.5] or [draw.choice(list(kinds))]
        faults = draw.randint(1, faults)
    cls = MODELS[base["model"]]
    schedule = random_schedule(seed, targets, base["duration_ms"], faults=faults,
                               kinds=kinds, max_down=max_down, all_nodes=all_nodes or targets,
                               roles=cls.addressable_roles if roles else (),
                               network=base.get("network"),
                               clients=client_commands(base) if "client" in kinds else (),
                               peers=peer_groups(base, targets) if aim else (), probes=aim)
    own = base.get("commands", []) if script else []
    commands = sorted(own + schedule, key=lambda c: c["at_ms"])
    kept = {k: v for k, v in base.items() if k not in ("name", "claims", "expected")}
    return validate({**kept, "seed": base["seed"] + attempt, "commands": commands})


def peer_groups(scenario: dict, targets) -> list[list[str]]:
    """The ``targets`` grouped by the model role they play, the groups of three or more
    (the servers of a cluster): what a cut may isolate one node from."""
    model = MODELS[scenario["model"]](scenario["nodes"], scenario["params"],
                                      scenario["variant"])
    groups: dict[str, list[str]] = {}
    for node in targets:
        groups.setdefault(model.role_of(node), []).append(node)
    return [g for g in groups.values() if len(g) >= 3]


def judged(model, scenario: dict, report: dict) -> list[dict]:
    """The violations that count: all but those of an invariant the model promises only
    without a fault that ``scenario`` holds (``Model.assumes``: a lease's single holder
    under a clock jump is broken by design, not a counterexample)."""
    faults = {c["type"] for c in scenario["commands"]}
    assumes = model.assumes()
    return [v for v in report["violations"]
            if not faults & set(assumes.get(v["invariant"], ()))]


def search(base: dict, tries: int, *, invariants=None, deadline=None,
           **schedule) -> Found | None:
    """The first of ``tries`` random schedules that violates an invariant (any, or one of
    ``invariants``) in a way the model promises not to, or None; ``deadline()`` returning
    True stops it early."""
    for attempt in range(tries):
        if deadline is not None and deadline():
            return None
        scenario = with_schedule(base, attempt, **schedule)
        sim, report = run(scenario)
        fired = {v["invariant"] for v in judged(sim.model, scenario, report)}
        if fired and (invariants is None or fired & set(invariants)):
            return Found(scenario, report, attempt + 1)
    return None


def client_commands(scenario: dict) -> list[tuple[str, list, dict]]:
    """The model's client commands as ``(type, required fields, {field: choices})``, with
    a few values for each field drawn from its JSON schema: the nodes a ``node`` field's
    pattern admits (or, when the command goes to the node it names, the nodes whose role
    handles it), a handful of keys, small amounts, every value of an enum."""
    cls = MODELS[scenario["model"]]
    model = cls(scenario["nodes"], scenario["params"], scenario["variant"])
    ids = model.node_ids()
    out = []
    for kind, spec in sorted(cls.commands.items()):
        required = list(spec.get("required", []))
        choices = {}
        for name, schema in {"node": {}, **spec.get("properties", {})}.items():
            values = _values(name, schema, ids, model, kind)
            if values:
                choices[name] = values
            elif name in required:
                break  # a field this cannot fill: leave the command out
        else:
            if "node" in choices and "node" not in spec.get("properties", {}) \
                    and "node" not in required:
                del choices["node"]
            out.append((kind, required, choices))
    return out


def _values(name: str, schema: dict, ids: list, model, kind: str) -> list:
    if "enum" in schema:
        return list(schema["enum"])
    if name == "node":
        pattern = schema.get("pattern")
        if pattern:
            return [n for n in ids if re.fullmatch(pattern, n)]
        if not model.roles:
            return list(ids)
        return [n for n in ids if kind in model.role_objects[model.role_of(n)].commands]
    kind_ = schema.get("type")
    if kind_ == "integer":
        lo = int(schema.get("minimum", 0))
        hi = int(min(schema.get("maximum", lo + 100), lo + 100))
        return sorted({lo, (lo + hi) // 2, hi})
    if kind_ == "number":
        lo = schema.get("minimum", 0)
        hi = min(schema.get("maximum", lo + 100), lo + 100)
        return sorted({lo, round((lo + hi) / 2, 3), hi})
    if kind_ == "string":
        return ["k1", "k2", "k3"]
    if kind_ == "boolean":
        return [False, True]
    return []


# every fault kind, swarmed, aimed at roles, isolating one node, probing the nodes hit
BROAD = {"kinds": ALL_KINDS, "swarm": True, "roles": True, "aim": True}


# Broken variants whose bug the model's defaults cannot show: (the bare configuration it
# needs, the search settings). Raft's membership bug: with every server a member, two
# single-server changes leave overlapping majorities, and a client busy with requests
# has the new leader commit an entry of its term at once, which is what the fix waits
# for. It takes a leader's change cut off with it, a rival leader's change, then an
# election on the first side: thirty partitions, heals and client commands (leadership
# transfers and changes among them) per schedule, aimed at the nodes a partition hits.
NEEDS = {
    ("raft", "change_before_term_commit"): (
        {"nodes": 5, "duration_ms": 6000,
         "params": {"initial_members": 4, "requests_per_second": 0, "storage_write_ms": 0}},
        {"kinds": ("partition", "client", "heal"), "faults": 30, "roles": True,
         "aim": True}),
}


def bare(model: str, variant: str, value, seed: int = 1) -> tuple[dict, dict]:
    """A broken variant's bare configuration (the model's defaults with the switch set, or
    what ``NEEDS`` says), and the search settings to use from it (``BROAD`` by default)."""
    config, settings = NEEDS.get((model, variant), ({}, BROAD))
    base = validate({"model": model, "seed": seed, **config, "variant": {variant: value}})
    return base, settings


def shrink(found: Found, budget: int = 300, progress=None) -> Found:
    """Remove commands while the same invariant still fires, pass after pass, until no
    single command can go; then round times and simplify values (at most ``budget``
    runs in all). ``progress(runs, best)`` is called before each run."""
    target = set(found.invariants)
    best = found
    runs = 0

    def attempt(commands) -> bool:
        nonlocal best, runs
        if progress is not None:
            progress(runs, best)
        runs += 1
        try:
            candidate = validate({**best.scenario, "commands": commands})
        except ScenarioError:  # a simplification that makes no valid scenario: not taken
            return False
        _sim, report = run(candidate)
        if target & {v["invariant"] for v in report["violations"]}:
            best = Found(candidate, report, best.tries)
            return True
        return False

    changed = True
    while changed and runs < budget:
        changed = False
        i = len(best.scenario["commands"]) - 1
        while i >= 0 and runs < budget:
            commands = best.scenario["commands"]
            changed |= attempt(commands[:i] + commands[i + 1:])
            i -= 1
    for i in range(len(best.scenario["commands"])):
        for simpler in _simpler(best.scenario["commands"][i]):
            if runs >= budget:
                return best
            commands = list(best.scenario["commands"])
            commands[i] = simpler
            if attempt(sorted(commands, key=lambda c: c["at_ms"])):
                break
    return best


def _simpler(cmd: dict):
    """Plainer versions of one command, plainest first: its time rounded to a second, a
    tenth, a hundredth of one; its values rounded (a clock rate, an offset, a latency)."""
    at = cmd["at_ms"]
    for step in (1000, 100, 10):
        rounded = float(round(at / step) * step)
        if rounded != at:
            yield {**cmd, "at_ms": rounded}
    for key, step in (("offset_ms", 100), ("by_ms", 100)):
        if key in cmd and cmd[key] % step:
            yield {**cmd, key: float(round(cmd[key] / step) * step)}
    if "latency_ms" in cmd:
        lo, hi = cmd["latency_ms"]
        if lo != hi:
            yield {**cmd, "latency_ms": [hi, hi]}
