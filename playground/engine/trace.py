"""The trace as data: compact storage, its canonical hash and its JSON form.

A trace record is ``(time, kind, node, cause, data)`` (see ``simulation``). A long run
has millions of them, so :class:`Trace` stores them by column: times and causes in
64-bit arrays, kinds and node ids as small codes, and the ``data`` tuples of the kinds
that repeat (deliveries, drops, timers, starts) interned, so one record costs about 30
bytes plus its message, and the garbage collector has almost nothing to traverse.
Reading ``trace[i]`` rebuilds the same tuple that was appended. Its canonical
text is ``repr`` of the record, one per line: every value in a record is an int, a
string, a float, None, a tuple, a list, a dict built in a deterministic order, an enum
or a dataclass, whose reprs are the same in every process whatever ``PYTHONHASHSEED``
is. The SHA-256 of that text identifies a run.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from array import array

KINDS = ("start", "send", "deliver", "drop", "timer", "command", "note", "violation")
_CODE = {kind: code for code, kind in enumerate(KINDS)}
_INTERNED = frozenset(_CODE[k] for k in ("start", "deliver", "drop", "timer"))


class Trace:
    """An append-only sequence of trace records, stored by column."""

    __slots__ = ("_t", "_k", "_n", "_c", "_x", "_nodes", "_node_code", "_interned")

    def __init__(self):
        self._t = array("q")
        self._k = array("B")
        self._n = array("H")
        self._c = array("q")
        self._x: list = []
        self._nodes: list = [None]
        self._node_code: dict = {None: 0}
        self._interned: dict = {}

    def append(self, rec) -> None:
        self.add(*rec)

    def add(self, time: int, kind: str, node, cause: int, data) -> int:
        """Append the record ``(time, kind, node, cause, data)``; return its index."""
        code = _CODE[kind]
        k = self._k
        index = len(k)
        self._t.append(time)
        k.append(code)
        n = self._node_code.get(node)
        if n is None:
            n = self._node_code[node] = len(self._nodes)
            self._nodes.append(node)
        self._n.append(n)
        self._c.append(cause)
        if code in _INTERNED:
            data = self._interned.setdefault(data, data)
        self._x.append(data)
        return index

    def __len__(self) -> int:
        return len(self._k)

    def _record(self, i: int) -> tuple:
        return (self._t[i], KINDS[self._k[i]], self._nodes[self._n[i]], self._c[i], self._x[i])

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._record(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("trace index out of range")
        return self._record(index)

    def __iter__(self):
        return (self._record(i) for i in range(len(self)))

    def __eq__(self, other) -> bool:
        if isinstance(other, Trace):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return list(self) == other

    def truncate(self, n: int) -> None:
        """Forget every record from index ``n`` on."""
        for column in (self._t, self._k, self._n, self._c, self._x):
            del column[n:]

    def copy(self) -> "Trace":
        out = Trace()
        out._t, out._k, out._n, out._c = self._t[:], self._k[:], self._n[:], self._c[:]
        out._x = self._x[:]
        out._nodes, out._node_code = self._nodes[:], dict(self._node_code)
        out._interned = self._interned
        return out

    def extend_from(self, other: "Trace", end: int) -> None:
        """Append ``other``'s records from this trace's length up to ``end``.

        ``other`` is a longer trace of the same timeline (see ``History``).
        """
        start = len(self)
        if self._nodes != other._nodes[:len(self._nodes)]:
            for i in range(start, end):
                self.append(other._record(i))
            return
        for node in other._nodes[len(self._nodes):]:
            self._node_code[node] = len(self._nodes)
            self._nodes.append(node)
        self._t.extend(other._t[start:end])
        self._k.extend(other._k[start:end])
        self._n.extend(other._n[start:end])
        self._c.extend(other._c[start:end])
        self._x.extend(other._x[start:end])


def sha256(trace, start: int = 0, end: int | None = None) -> str:
    """The hex SHA-256 of the canonical text of ``trace[start:end]``."""
    end = len(trace) if end is None else end
    if isinstance(trace, Trace):
        return _sha256_columns(trace, start, end)
    h = hashlib.sha256()
    chunk = []
    for rec in (trace[i] for i in range(start, end)):
        chunk.append(repr(rec))
        if len(chunk) >= 4096:
            h.update(("\n".join(chunk) + "\n").encode())
            chunk = []
    if chunk:
        h.update(("\n".join(chunk) + "\n").encode())
    return h.hexdigest()


_SEND = _CODE["send"]


def _sha256_columns(trace: Trace, start: int, end: int) -> str:
    """``sha256`` of a :class:`Trace`, read by column: the same text, built faster.

    Each line is ``repr`` of the record tuple, spelled out as ``"(t, kind, node, cause,
    data)"``; the reprs of kinds, nodes, interned data and messages (a message object
    sent to several nodes) are computed once. Cached by ``id``: every object stays alive
    in the trace while it is hashed.
    """
    h = hashlib.sha256()
    kinds = [repr(k) for k in KINDS]
    nodes = [repr(n) for n in trace._nodes]
    cache: dict = {}  # id(object) -> repr, for interned data and messages
    chunk = []
    t, k, n, c, x = trace._t, trace._k, trace._n, trace._c, trace._x
    for i in range(start, end):
        code = k[i]
        data = x[i]
        if code in _INTERNED:
            text = cache.get(id(data))
            if text is None:
                text = cache[id(data)] = repr(data)
        elif code == _SEND and type(data) is tuple and len(data) == 3:
            msg = data[2]
            body = cache.get(id(msg))
            if body is None:
                body = cache[id(msg)] = repr(msg)
            text = f"({data[0]!r}, {data[1]!r}, {body})"
        else:
            text = repr(data)
        chunk.append(f"({t[i]!r}, {kinds[code]}, {nodes[n[i]]}, {c[i]!r}, {text})")
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
