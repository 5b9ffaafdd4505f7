"""The trace as data: its canonical hash and its JSON form.

A trace record is ``(time, kind, node, cause, data)`` (see ``simulation``). Its canonical
text is ``repr`` of the record, one per line: every value in a record is an int, a
string, a float, None, a tuple, a list, a dict built in a deterministic order, an enum
or a dataclass, whose reprs are the same in every process whatever ``PYTHONHASHSEED``
is. The SHA-256 of that text identifies a run.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib

KINDS = ("start", "send", "deliver", "drop", "timer", "command", "note", "violation")


def sha256(trace, start: int = 0, end: int | None = None) -> str:
    """The hex SHA-256 of the canonical text of ``trace[start:end]``."""
    h = hashlib.sha256()
    chunk = []
    for rec in trace[start:end]:
        chunk.append(repr(rec))
        if len(chunk) >= 4096:
            h.update(("\n".join(chunk) + "\n").encode())
            chunk = []
    if chunk:
        h.update(("\n".join(chunk) + "\n").encode())
    return h.hexdigest()


_FIELDS: dict[type, tuple[str, ...]] = {}


def plain(value):
    """A JSON-ready copy of a message, state value or note field."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value):
        names = _FIELDS.get(type(value))
        if names is None:
            names = _FIELDS[type(value)] = tuple(f.name for f in dataclasses.fields(value))
        return {n: plain(getattr(value, n)) for n in names}
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    return repr(value)


def record_json(index: int, rec) -> dict:
    """One trace record as JSON: what the space-time diagram and the export use."""
    time, kind, node, cause, data = rec
    out = {"i": index, "t_us": time, "kind": kind, "node": node, "cause": cause}
    if kind == "send":
        out.update(to=data[0], msg=data[1], body=plain(data[2]))
    elif kind in ("deliver", "drop"):
        out.update({"from": data[0], "msg": data[1]})
        if kind == "drop":
            out["reason"] = data[2]
    elif kind == "timer":
        out["timer"] = data[0]
    elif kind == "command":
        out["command"] = data[0]
    elif kind == "note":
        out.update(text=data[0], fields=plain(data[1]))
    elif kind == "violation":
        out.update(invariant=data[0], detail=data[1])
    return out
