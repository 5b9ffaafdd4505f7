"""The scenario format and its validation.

A scenario is one JSON document that fixes a run completely: the model, its variant
switches and parameters, the node count, the seed, the network's defaults, the timed
commands and an optional narrative for lectures with its pace (``lecture_speed``, the
simulated seconds per wall second a lecture plays at). A recording that left its script
carries ``diverged_ms``: from then on its captions describe the original run. Presets add ``name``, ``title``,
``claims`` (IDs from SEED_CLAIMS.md) and ``expected`` (the invariants that must fire,
metric conditions that show the phenomenon, and ``spread`` conditions that compare
metrics with each other: ``{"of": ["detection_ms_crashed", "detection_ms_cut"], "le":
100}`` holds when the largest of the named metrics exceeds the smallest by at most 100).

Validation is layered: the document schema (JSON Schema 2020-12, checked by
``jsonschema``), then the chosen model's own schemas for variants, parameters and
client commands, then what no schema can say (named nodes exist, times fit the
duration). Every refusal is a :class:`ScenarioError` naming the field, e.g.
``commands[2].node: unknown node 'n9' (nodes are n1, n2, n3)``.

The presets shipped in the package are checked against the schemas by the test suite;
loading one by name skips that layer (``schema=False``), and with it the 50 ms import
of ``jsonschema``, which a command-line run of a preset would otherwise spend.
"""

from __future__ import annotations

import json
import math

from ..engine import commands as C
from ..engine.errors import ScenarioError
from ..models import MODELS

MAX_BYTES = 64 * 1024
MAX_NODES = 101
MAX_DURATION_MS = 3_600_000
MAX_COMMANDS = 1000
MAX_CAPTIONS = 200
MAX_DEPTH = 32  # levels of nested objects and arrays in any document or request
MIN_LECTURE_SPEED = 0.01  # simulated seconds per wall second (the server's slowest speed)
MAX_LECTURE_SPEED = 100.0
OPS = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "ge": lambda a, b: a >= b,
       "gt": lambda a, b: a > b, "le": lambda a, b: a <= b, "lt": lambda a, b: a < b}

_LATENCY = {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 600_000},
            "minItems": 2, "maxItems": 2}
_PROB = {"type": "number", "minimum": 0, "maximum": 1}
_METRIC_CONDITION = {
    "type": "object", "minProperties": 1, "additionalProperties": False,
    "properties": {op: {"type": ["number", "boolean"]} for op in OPS},
}

_EXPECTED = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "violations": {"type": "array", "uniqueItems": True,
                       "items": {"type": "string", "maxLength": 80}},
        "metrics": {"type": "object", "maxProperties": 50,
                    "additionalProperties": _METRIC_CONDITION},
        "spread": {"type": "array", "maxItems": 10,
                   "items": {"type": "object", "additionalProperties": False,
                             "required": ["of", "le"],
                             "properties": {"of": {"type": "array", "minItems": 2,
                                                   "maxItems": 20, "uniqueItems": True,
                                                   "items": {"type": "string",
                                                             "maxLength": 80}},
                                            "le": {"type": "number", "minimum": 0}}}},
    },
}

MAX_CHOICES = 8
# A question a caption (or the presenter, on the spot) puts to the audience of a room:
# ``choices`` default to the node ids; ``answer``, when given, is one of them.
ASK_SCHEMA = {
    "type": "object", "required": ["question"], "additionalProperties": False,
    "properties": {"question": {"type": "string", "minLength": 1, "maxLength": 200},
                   "choices": {"type": "array", "minItems": 2, "maxItems": MAX_CHOICES,
                               "uniqueItems": True,
                               "items": {"type": "string", "minLength": 1, "maxLength": 60}},
                   "answer": {"type": "string", "minLength": 1, "maxLength": 60}},
}

SCENARIO_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["model", "seed"],
    "additionalProperties": False,
    "properties": {
        "version": {"const": 1},
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"},
        "title": {"type": "string", "maxLength": 200},
        "description": {"type": "string", "maxLength": 4000},
        "model": {"type": "string", "maxLength": 40},
        "claims": {"type": "array", "maxItems": 22, "uniqueItems": True,
                   "items": {"type": "string", "pattern": "^C(0[1-9]|1[0-9]|2[0-2])$"}},
        "expected": _EXPECTED,
        "compare": {"type": "object", "additionalProperties": False, "required": ["set"],
                    "properties": {"set": {"type": "object", "minProperties": 1,
                                           "maxProperties": 4},
                                   "expected": _EXPECTED}},
        "seed": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
        "nodes": {"type": "integer", "minimum": 1, "maximum": MAX_NODES},
        "variant": {"type": "object", "maxProperties": 40},
        "params": {"type": "object", "maxProperties": 60},
        "network": {"type": "object", "additionalProperties": False,
                    "properties": {"latency_ms": _LATENCY, "loss": _PROB, "duplicate": _PROB}},
        "duration_ms": {"type": "integer", "minimum": 1, "maximum": MAX_DURATION_MS},
        "lecture_speed": {"type": "number", "minimum": MIN_LECTURE_SPEED,
                          "maximum": MAX_LECTURE_SPEED},
        "diverged_ms": {"type": "number", "minimum": 0},
        "commands": {"type": "array", "maxItems": MAX_COMMANDS,
                     "items": {"type": "object", "required": ["type"],
                               "properties": {"type": {"type": "string", "maxLength": 40},
                                              "at_ms": {"type": "number", "minimum": 0}}}},
        "seeds": {"type": "object", "additionalProperties": False, "required": ["held", "why"],
                  "properties": {"held": {"type": "integer", "minimum": 1, "maximum": 11},
                                 "why": {"type": "string", "minLength": 20,
                                         "maxLength": 600}}},
        "sources": {"type": "array", "maxItems": 10,
                    "items": {"type": "object", "required": ["title", "url"],
                              "additionalProperties": False,
                              "properties": {"title": {"type": "string", "minLength": 1,
                                                       "maxLength": 200},
                                             "url": {"type": "string", "maxLength": 500,
                                                     "pattern": "^https?://[^\\s]+$"}}}},
        "narrative": {"type": "array", "maxItems": MAX_CAPTIONS,
                      "items": {"type": "object", "required": ["at_ms", "text"],
                                "additionalProperties": False,
                                "properties": {"at_ms": {"type": "number", "minimum": 0},
                                               "text": {"type": "string", "minLength": 1,
                                                        "maxLength": 600},
                                               "pause": {"type": "boolean"},
                                               "ask": ASK_SCHEMA}}},
    },
}
_VALIDATORS: dict = {}  # "scenario" and each fault type -> validator, built on first use
_MODEL_VALIDATORS: dict[str, tuple] = {}


def _validators() -> dict:
    if not _VALIDATORS:
        from jsonschema import Draft202012Validator
        _VALIDATORS.update({k: Draft202012Validator(C.fault_schema(k))
                            for k in C.FAULT_TYPES})
        _VALIDATORS["scenario"] = Draft202012Validator(SCENARIO_SCHEMA)
        _VALIDATORS["ask"] = Draft202012Validator(ASK_SCHEMA)
    return _VALIDATORS

DEFAULT_DURATION_MS = 10_000
DEFAULT_LATENCY_MS = (10, 15)


def plain(value, where: str = "") -> None:
    """Refuse what JSON parsers let through but no scenario or request holds: nesting
    deeper than ``MAX_DEPTH``, numbers that are not finite (Python's parser accepts NaN
    and Infinity), strings with a lone surrogate (``"\\ud800"``: not text, and not
    encodable as UTF-8), and keys that are not strings. Iterative, so any depth is
    refused with this error rather than a RecursionError."""
    stack = [(value, where, 0)]
    while stack:
        item, at, depth = stack.pop()
        if isinstance(item, str):
            if not _is_text(item):
                raise ScenarioError(f"{_at(at)}: the string holds a lone surrogate "
                                    "(an escape such as \\ud800 that is not a character)")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ScenarioError(f"{_at(at)}: {item} is not a finite number")
        elif isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                raise ScenarioError(f"{_at(at)}: nested more than {MAX_DEPTH} levels "
                                    "deep")
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str) or not _is_text(key):
                        raise ScenarioError(f"{_at(at)}: a key is not a string of text")
                    stack.append((child, f"{at}.{key[:40]}" if at else key[:40], depth + 1))
            else:
                for i, child in enumerate(item):
                    stack.append((child, f"{at}[{i}]", depth + 1))


def parse(text, what: str):
    """The JSON document in ``text`` (str or bytes), or a ScenarioError that names
    ``what`` (e.g. "'run.json'"): never a RecursionError, however deep it nests."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ScenarioError(f"{what} nests more than {MAX_DEPTH} levels deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{what} is not valid JSON: {str(exc)[:120]}") from None
    return value


def _at(where: str) -> str:
    where = where or "value"
    return where if len(where) <= 80 else where[:79] + "…"


def _is_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _path(prefix: str, error) -> str:
    out = prefix
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "scenario"


def _validate(validator, obj, prefix: str) -> None:
    from jsonschema.exceptions import best_match
    error = best_match(validator.iter_errors(obj))
    if error is not None:
        message = error.message
        if len(message) > 200:
            message = message[:200] + "…"
        raise ScenarioError(f"{_path(prefix, error)}: {message}")


def _model_validators(name: str):
    found = _MODEL_VALIDATORS.get(name)
    if found is None:
        from jsonschema import Draft202012Validator
        cls = MODELS[name]
        variant_schema = {
            "type": "object", "additionalProperties": False,
            "properties": {v.name: {"enum": list(v.choices)} for v in cls.variants},
        }
        params_schema = {
            "type": "object", "additionalProperties": False,
            "properties": {p.name: p.schema for p in cls.params},
        }
        command_schemas = {}
        for kind, spec in cls.commands.items():
            command_schemas[kind] = Draft202012Validator({
                "type": "object", "additionalProperties": False,
                "required": ["type", *spec.get("required", [])],
                "properties": {"type": {"const": kind},
                               "at_ms": {"type": "number", "minimum": 0},
                               "node": {"type": "string", "maxLength": 40},
                               **spec.get("properties", {})},
            })
        found = (Draft202012Validator(variant_schema), Draft202012Validator(params_schema),
                 command_schemas)
        _MODEL_VALIDATORS[name] = found
    return found


def command(model: str, obj, node_ids, where: str = "action", *, schema: bool = True):
    """One wire command (a fault or one of the model's client requests), checked against
    its schema (unless ``schema`` is False) and the nodes that exist, as a command
    object; else ScenarioError."""
    if not isinstance(obj, dict):
        raise ScenarioError(f"{where}: a command is a JSON object with a 'type'")
    plain(obj, where)
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise ScenarioError(f"{where}.type: a command's 'type' is a string such as 'crash'")
    cls = MODELS[model]
    if kind in cls.commands:
        if schema:
            _validate(_model_validators(model)[2][kind], obj, where)
    elif kind in C.FAULT_TYPES:
        if schema:
            _validate(_validators()[kind], obj, where)
    else:
        raise ScenarioError(f"{where}.type: unknown command '{kind[:40]}' (faults are "
                            f"{', '.join(C.FAULT_TYPES)}; model '{model}' adds "
                            f"{', '.join(cls.commands) or 'none'})")
    try:
        return C.parse(obj, node_ids, cls.commands, cls.addressable_roles)
    except ScenarioError as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def question(obj, node_ids, where: str = "ask", *, schema: bool = True) -> dict:
    """A question for a room's audience (see ``ASK_SCHEMA``), its choices filled in with
    ``node_ids`` when it names none; else ScenarioError naming the field."""
    if not isinstance(obj, dict):
        raise ScenarioError(f"{where}: a question is a JSON object with a 'question'")
    plain(obj, where)
    if schema:
        _validate(_validators()["ask"], obj, where)
    out = {"question": obj["question"], "choices": list(obj.get("choices") or node_ids)}
    if "answer" in obj:
        out["answer"] = obj["answer"]
    if not 2 <= len(out["choices"]) <= MAX_CHOICES:
        raise ScenarioError(f"{where}.choices: a question offers 2 to {MAX_CHOICES} choices; "
                            f"name them (this run has {len(out['choices'])} nodes)")
    _check_answer(out, where)
    return out


def unanswered(caption: dict) -> dict:
    """A caption as an audience may see it: its question without the answer."""
    if "answer" not in caption.get("ask", {}):
        return caption
    return {**caption, "ask": {k: v for k, v in caption["ask"].items() if k != "answer"}}


def _check_answer(ask: dict, where: str) -> None:
    if "answer" in ask and ask["answer"] not in ask["choices"]:
        raise ScenarioError(f"{where}.answer: '{ask['answer'][:60]}' is not one of the "
                            "choices")


def validate(obj, *, schema: bool = True) -> dict:
    """A complete, normalised copy of a scenario, or ScenarioError naming the field.

    ``schema=False`` skips the JSON Schema layer: only for the package's own presets,
    which the test suite checks against it."""
    if not isinstance(obj, dict):
        raise ScenarioError("a scenario is a JSON object")
    plain(obj, "")
    size = len(json.dumps(obj, separators=(",", ":")))
    if size > MAX_BYTES:
        raise ScenarioError(f"the scenario is {size} bytes; the limit is {MAX_BYTES}")
    if schema:
        _validate(_validators()["scenario"], obj, "")
    name = obj["model"]
    if name not in MODELS:
        raise ScenarioError(f"model: unknown model '{name}' (models are "
                            f"{', '.join(sorted(MODELS))})")
    cls = MODELS[name]
    if schema:
        variant_v, params_v, _commands = _model_validators(name)
        _validate(variant_v, obj.get("variant", {}), "variant")
        _validate(params_v, obj.get("params", {}), "params")
    nodes = obj.get("nodes", cls.default_nodes)
    if not cls.min_nodes <= nodes <= cls.max_nodes:
        raise ScenarioError(f"nodes: model '{name}' runs with {cls.min_nodes} to "
                            f"{cls.max_nodes} nodes, not {nodes}")
    out = {
        "version": 1,
        "model": name,
        "seed": obj["seed"],
        "nodes": nodes,
        "variant": {v.name: obj.get("variant", {}).get(v.name, v.default) for v in cls.variants},
        "params": {p.name: obj.get("params", {}).get(p.name, p.default) for p in cls.params},
        "network": {"latency_ms": list(obj.get("network", {}).get("latency_ms",
                                                                  DEFAULT_LATENCY_MS)),
                    "loss": obj.get("network", {}).get("loss", 0.0),
                    "duplicate": obj.get("network", {}).get("duplicate", 0.0)},
        "duration_ms": obj.get("duration_ms", DEFAULT_DURATION_MS),
        "commands": [],
        "narrative": sorted((dict(c) for c in obj.get("narrative", [])),
                            key=lambda c: c["at_ms"]),
    }
    lo, hi = out["network"]["latency_ms"]
    if lo > hi:
        raise ScenarioError("network.latency_ms: [low, high] needs low ≤ high")
    for key in ("name", "title", "description", "claims", "expected", "sources",
                "lecture_speed", "diverged_ms", "seeds"):
        if key in obj:
            out[key] = obj[key]
    if out.get("diverged_ms", 0) > out["duration_ms"]:
        raise ScenarioError(f"diverged_ms: {out['diverged_ms']} is after the end of the "
                            f"scenario (duration_ms {out['duration_ms']})")
    node_ids = cls(nodes, out["params"], out["variant"]).node_ids()
    for i, caption in enumerate(out["narrative"]):
        if "ask" in caption:
            if not caption.get("pause"):
                raise ScenarioError(f"narrative[{i}].ask: a caption that asks a question "
                                    "pauses the run (\"pause\": true)")
            question(caption["ask"], node_ids, f"narrative[{i}].ask", schema=schema)
    for i, cmd in enumerate(obj.get("commands", [])):
        where = f"commands[{i}]"
        command(name, cmd, node_ids, where, schema=schema)
        at = cmd.get("at_ms", 0)
        if at > out["duration_ms"]:
            raise ScenarioError(f"{where}.at_ms: {at} is after the end of the scenario "
                                f"(duration_ms {out['duration_ms']})")
        out["commands"].append({**cmd, "at_ms": at})
    out["commands"].sort(key=lambda c: c["at_ms"])
    for metric in obj.get("expected", {}).get("metrics", {}):
        if not isinstance(metric, str) or len(metric) > 80:
            raise ScenarioError("expected.metrics: metric names are short strings")
    for where in ("expected", "compare.expected"):
        expected = obj.get("compare", {}).get("expected", {}) if "." in where \
            else obj.get("expected", {})
        for inv in expected.get("violations", []):
            if inv not in {i.name for i in cls.invariants}:
                raise ScenarioError(f"{where}.violations: model '{name}' has no invariant "
                                    f"'{inv}'")
    if "compare" in obj:
        out["compare"] = _compare(obj, out, cls, schema)
    return out


def _compare(obj: dict, out: dict, cls, schema: bool) -> dict:
    """A compare scenario's second side: each setting names a switch or parameter of the
    model and gives it a value it accepts, different from the first side's."""
    settings = obj["compare"]["set"]
    other = {k: v for k, v in obj.items() if k not in ("compare", "expected", "name")}
    for key, value in settings.items():
        where = ("variant" if key in {v.name for v in cls.variants} else
                 "params" if key in {p.name for p in cls.params} else None)
        if where is None:
            raise ScenarioError(f"compare.set: model '{cls.name}' has no switch or parameter "
                                f"{str(key)[:40]!r}")
        if out[where][key] == value:
            raise ScenarioError(f"compare.set.{key}: the second run must differ from the "
                                f"first ({key} is {json.dumps(value)} in both)")
        other[where] = {**other.get(where, {}), key: value}
    try:
        validate(other, schema=schema)
    except ScenarioError as exc:
        raise ScenarioError(f"compare: {exc}") from None
    return {k: v for k, v in obj["compare"].items()}
