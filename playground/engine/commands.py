"""The command vocabulary: every fault and user action as plain data.

One vocabulary serves scenario files, the command line and the websocket protocol.
On the wire a command is a JSON object with a ``type`` and its fields
(``{"type": "cut", "from": "n1", "to": "n3", "oneway": true}``); inside the engine it
is one of the frozen dataclasses below, or a :class:`ClientCommand` carrying a model's
own request. ``parse`` is the single way from one to the other and ``to_json`` the way
back, so a recorded session turns into a scenario that replays it exactly.

Faults follow turmoil's vocabulary: crash, restart (bounce), pause/resume (a GC
stall), cut/heal (one way or both), partition, per-link latency and loss, and clock
skew, drift and jumps. Times on the wire are milliseconds; inside, microseconds.

A fault may name a **role** instead of a node id wherever it names a node it breaks
(``{"type": "crash", "node": {"role": "leader"}}``, a cut's or a link's ends, a member
of a partition group): a :class:`RoleRef` that the engine resolves when the command
applies, through the model's ``resolve_role``, and records in the trace with the node it
hit. A preset can then aim at whoever leads (holds the lease, coordinates) on any seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from .errors import ScenarioError

_NODE = {"type": "string", "minLength": 1, "maxLength": 40}
_ROLE = {"type": "object", "properties": {"role": {"type": "string", "minLength": 1,
                                                   "maxLength": 40}},
         "required": ["role"], "additionalProperties": False}
_NODE_OR_ROLE = {"anyOf": [_NODE, _ROLE]}
_ROLE_FIELDS = ("node", "from", "to")
_PROB = {"type": "number", "minimum": 0, "maximum": 1}
_LATENCY = {
    "type": "array",
    "items": {"type": "number", "minimum": 0, "maximum": 600_000},
    "minItems": 2,
    "maxItems": 2,
}


@dataclass(frozen=True, slots=True)
class RoleRef:
    """Whichever node plays ``role`` when the command applies (see the module docstring)."""

    role: str


@dataclass(frozen=True, slots=True)
class Crash:
    """Stop a node: volatile state, timers and queued input are lost."""

    node: str


@dataclass(frozen=True, slots=True)
class Restart:
    """Start a crashed node again from its durable state."""

    node: str


@dataclass(frozen=True, slots=True)
class Pause:
    """Freeze a node (a GC stall): nothing runs, messages wait, timers fire late; with a
    ``duration`` (µs) it resumes by itself after it."""

    node: str
    duration: int | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    """Unfreeze a paused node; what waited is processed now, in order."""

    node: str


@dataclass(frozen=True, slots=True)
class Cut:
    """Cut the link between two nodes, both ways or only ``src`` → ``dst``."""

    src: str
    dst: str
    oneway: bool = False


@dataclass(frozen=True, slots=True)
class Heal:
    """Repair one link (both ways), or with no nodes every cut and partition."""

    src: str | None = None
    dst: str | None = None


@dataclass(frozen=True, slots=True)
class Partition:
    """Split the nodes into groups; messages between groups are dropped.

    Nodes named in no group form one more group together.
    """

    groups: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class DropMessage:
    """Lose one chosen message in flight."""

    message: int


@dataclass(frozen=True, slots=True)
class SetLink:
    """Set latency, loss or duplication on one link (both ways unless ``oneway``)."""

    src: str
    dst: str
    latency: tuple[int, int] | None = None  # µs
    loss: float | None = None
    duplicate: float | None = None
    oneway: bool = False


@dataclass(frozen=True, slots=True)
class SetNetwork:
    """Set the default latency, loss and duplication of every link."""

    latency: tuple[int, int] | None = None  # µs
    loss: float | None = None
    duplicate: float | None = None


@dataclass(frozen=True, slots=True)
class SkewClock:
    """Set a node's clock to read true time plus ``offset`` µs (rate unchanged)."""

    node: str
    offset: int


@dataclass(frozen=True, slots=True)
class DriftClock:
    """Set a node's clock rate (1.0 is true speed; 0.9 runs 10% slow)."""

    node: str
    rate: float


@dataclass(frozen=True, slots=True)
class JumpClock:
    """Jump a node's clock forward (or back) by ``by`` µs."""

    node: str
    by: int


@dataclass(frozen=True, slots=True)
class ClientCommand:
    """A model's own client request, addressed by the model (see Model.commands)."""

    type: str
    fields: dict = field(default_factory=dict)


# Wire name -> (class, JSON schema of the fields besides "type" and "at_ms").
_WIRE: dict[str, tuple[type, dict]] = {
    "crash": (Crash, {"node": _NODE_OR_ROLE}),
    "restart": (Restart, {"node": _NODE}),
    "pause": (Pause, {"node": _NODE_OR_ROLE,
                      "for_ms": {"type": "number", "exclusiveMinimum": 0,
                                 "maximum": 3_600_000}}),
    "resume": (Resume, {"node": _NODE}),
    "cut": (Cut, {"from": _NODE_OR_ROLE, "to": _NODE_OR_ROLE,
                  "oneway": {"type": "boolean"}}),
    "heal": (Heal, {"from": _NODE, "to": _NODE}),
    "partition": (Partition, {"groups": {
        "type": "array", "minItems": 1, "maxItems": 101,
        "items": {"type": "array", "minItems": 1, "maxItems": 101,
                  "items": _NODE_OR_ROLE}}}),
    "drop": (DropMessage, {"message": {"type": "integer", "minimum": 0}}),
    "link": (SetLink, {"from": _NODE_OR_ROLE, "to": _NODE_OR_ROLE, "latency_ms": _LATENCY, "loss": _PROB,
                       "duplicate": _PROB, "oneway": {"type": "boolean"}}),
    "network": (SetNetwork, {"latency_ms": _LATENCY, "loss": _PROB, "duplicate": _PROB}),
    "skew": (SkewClock, {"node": _NODE_OR_ROLE, "offset_ms": {"type": "number", "minimum": -3_600_000,
                                                      "maximum": 3_600_000}}),
    "drift": (DriftClock, {"node": _NODE_OR_ROLE, "rate": {"type": "number", "minimum": 0.01,
                                                   "maximum": 100}}),
    "jump": (JumpClock, {"node": _NODE_OR_ROLE, "by_ms": {"type": "number", "minimum": -3_600_000,
                                                  "maximum": 3_600_000}}),
}
_REQUIRED = {
    "crash": ["node"], "restart": ["node"], "pause": ["node"], "resume": ["node"],
    "cut": ["from", "to"], "heal": [], "partition": ["groups"], "drop": ["message"],
    "link": ["from", "to"], "network": [], "skew": ["node", "offset_ms"],
    "drift": ["node", "rate"], "jump": ["node", "by_ms"],
}
_CLASS_TO_WIRE = {cls: name for name, (cls, _) in _WIRE.items()}
FAULT_TYPES = tuple(_WIRE)


def fault_schema(kind: str) -> dict:
    """The JSON schema of one fault's wire form (with ``type`` and optional ``at_ms``)."""
    _, props = _WIRE[kind]
    return {
        "type": "object",
        "properties": {"type": {"const": kind}, "at_ms": {"type": "number", "minimum": 0},
                       **props},
        "required": ["type", *_REQUIRED[kind]],
        "additionalProperties": False,
    }


def _us(ms) -> int:
    return int(round(ms * 1000))


def parse(obj: dict, node_ids, model_commands: dict, roles=()) -> object:
    """Turn a validated wire command into a command object; unknown nodes are refused.

    ``obj`` has already passed the schema (see ``playground.scenarios.schema``); this adds
    the checks a schema cannot express: that named nodes exist, that a heal names both
    ends or neither, that a role a fault names is one of the model's ``roles``.
    """
    kind = obj["type"]
    if kind not in model_commands:
        obj = {k: _role(v, roles) if k in _ROLE_FIELDS else v for k, v in obj.items()}
        if kind == "partition":
            obj["groups"] = [[_role(n, roles) for n in g] for g in obj["groups"]]
    if kind in model_commands:
        node = obj.get("node")
        if node is not None:
            _known(node, node_ids)
        # Keys in sorted order at every depth: a command read from a file, a share link
        # (sorted JSON) or a websocket must reach the model as the same value.
        return ClientCommand(kind, {k: _canonical(obj[k]) for k in sorted(obj)
                                    if k not in ("type", "at_ms")})
    for key in _ROLE_FIELDS:
        if key in obj and type(obj[key]) is not RoleRef:
            _known(obj[key], node_ids)
    if kind == "crash":
        return Crash(obj["node"])
    if kind == "restart":
        return Restart(obj["node"])
    if kind == "pause":
        return Pause(obj["node"], _us(obj["for_ms"]) if "for_ms" in obj else None)
    if kind == "resume":
        return Resume(obj["node"])
    if kind == "cut":
        if obj["from"] == obj["to"]:
            raise ScenarioError("a cut needs two different nodes")
        return Cut(obj["from"], obj["to"], bool(obj.get("oneway", False)))
    if kind == "heal":
        if ("from" in obj) != ("to" in obj):
            raise ScenarioError("heal names both 'from' and 'to', or neither (to heal all)")
        return Heal(obj.get("from"), obj.get("to"))
    if kind == "partition":
        seen: list[str] = []
        for group in obj["groups"]:
            for node in group:
                if type(node) is RoleRef:
                    continue
                _known(node, node_ids)
                if node in seen:
                    raise ScenarioError(f"node '{node}' is in two partition groups")
                seen.append(node)
        return Partition(tuple(tuple(g) for g in obj["groups"]))
    if kind == "drop":
        return DropMessage(obj["message"])
    if kind in ("link", "network"):
        lat = obj.get("latency_ms")
        if lat is not None:
            if lat[0] > lat[1]:
                raise ScenarioError("latency_ms is [low, high] with low ≤ high")
            lat = (_us(lat[0]), _us(lat[1]))
        if kind == "network":
            return SetNetwork(lat, obj.get("loss"), obj.get("duplicate"))
        if obj["from"] == obj["to"]:
            raise ScenarioError("a link joins two different nodes")
        return SetLink(obj["from"], obj["to"], lat, obj.get("loss"), obj.get("duplicate"),
                       bool(obj.get("oneway", False)))
    if kind == "skew":
        return SkewClock(obj["node"], _us(obj["offset_ms"]))
    if kind == "drift":
        return DriftClock(obj["node"], float(obj["rate"]))
    if kind == "jump":
        return JumpClock(obj["node"], _us(obj["by_ms"]))
    raise ScenarioError(f"unknown command type '{kind}'")


def _role(value, roles):
    """A ``{"role": ...}`` as a RoleRef (the role must be one of ``roles``); else as is."""
    if not isinstance(value, dict):
        return value
    role = value.get("role")
    if role not in roles:
        raise ScenarioError(f"unknown role {str(role)[:40]!r} (this model's faults can name "
                            f"{', '.join(roles) or 'no role'})")
    return RoleRef(role)


def roles_in(cmd) -> list[str]:
    """The roles a command names instead of nodes, in field order (empty: none)."""
    out = [v.role for f in fields(cmd) if type(v := getattr(cmd, f.name)) is RoleRef]
    if type(cmd) is Partition:
        out += [n.role for g in cmd.groups for n in g if type(n) is RoleRef]
    return out


def resolved(cmd, nodes: dict):
    """``cmd`` with each role replaced by the node in ``nodes`` (role -> node id)."""
    changes = {f.name: nodes[v.role] for f in fields(cmd)
               if type(v := getattr(cmd, f.name)) is RoleRef}
    if type(cmd) is Partition:
        changes["groups"] = tuple(tuple(nodes[n.role] if type(n) is RoleRef else n for n in g)
                                  for g in cmd.groups)
    return replace(cmd, **changes)


def _canonical(value):
    """A JSON value with every object's keys in sorted order."""
    if isinstance(value, dict):
        return {k: _canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def to_json(cmd) -> dict:
    """The wire form of a command object (without ``at_ms``); a role stays a role."""
    if isinstance(cmd, ClientCommand):
        return {"type": cmd.type, **cmd.fields}
    kind = _CLASS_TO_WIRE[type(cmd)]
    out: dict = {"type": kind}
    for f in fields(cmd):
        value = getattr(cmd, f.name)
        if value is None or (f.name == "oneway" and not value):
            continue
        if type(value) is RoleRef:
            out[{"src": "from", "dst": "to"}.get(f.name, f.name)] = {"role": value.role}
        elif f.name == "src":
            out["from"] = value
        elif f.name == "dst":
            out["to"] = value
        elif f.name == "latency":
            out["latency_ms"] = [value[0] / 1000, value[1] / 1000]
        elif f.name in ("offset", "by"):
            out[f.name + "_ms"] = value / 1000
        elif f.name == "duration":
            out["for_ms"] = value / 1000
        elif f.name == "groups":
            out["groups"] = [[{"role": n.role} if type(n) is RoleRef else n for n in g]
                             for g in value]
        else:
            out[f.name] = value
    return out


def target(cmd) -> str | None:
    """The node a command is about, if any (for the trace and the space-time diagram)."""
    return getattr(cmd, "node", None) or getattr(cmd, "src", None)


def _known(node: str, node_ids) -> None:
    if node not in node_ids:
        raise ScenarioError(f"unknown node '{node}' (nodes are {', '.join(node_ids)})")
