"""The trace as data: compact storage, its canonical hash and its JSON form.

A trace record is ``(time, kind, node, cause, data)`` (see ``simulation``). A long run
has millions of them, so :class:`Trace` stores them by column: times and causes in
64-bit arrays, kinds and node ids as small codes, and the ``data`` objects in a list.
A delivery stores no data at all: its ``(source, message kind)`` is read back from the
send it names as cause, and the data of the other kinds that repeat (timers, drops,
starts) is interned by the engine (:meth:`Trace.intern`), so one record costs about
30 bytes plus its message, and the garbage collector has almost nothing to traverse.
Appending is the engine's hot path: a record first lands in a short list of tuples, and
every 4,096 records (or before any read) the list is moved into the columns in bulk.
Reading ``trace[i]`` rebuilds the same tuple that was appended.

The **canonical form** that ``sha256`` digests, version 4: the line ``trace/4``; the
times, causes (little-endian int64), kind codes (uint8) and node codes (uint16, in order
of first appearance) of the records, as bytes; the ``repr`` of the node table; then, one
per line and in record order, the ``repr`` of the data of every record that is neither a
send nor a delivery (a delivery's data is its cause's); the node codes of the sends'
destinations (uint16); and the sent messages: each send's class code (classes in order
of first appearance), then, class by class, the messages' field values column by column
(``_column``: numbers and strings as bytes, tuples flattened, dataclasses by field,
anything else as one ``repr`` per line). Every value in a record is
an int, a string, a float, None, a tuple, a list, a dict built in a deterministic order,
an enum or a dataclass, whose encodings are the same in every process whatever
``PYTHONHASHSEED`` is.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import sys
from array import array
from itertools import chain, compress
from operator import attrgetter, itemgetter

KINDS = ("start", "send", "deliver", "drop", "timer", "command", "note", "violation",
         "fact")
_CODE = {kind: code for code, kind in enumerate(KINDS)}
_DELIVER = _CODE["deliver"]
_FLUSH_AT = 4096


class Trace:
    """An append-only sequence of trace records, stored by column."""

    __slots__ = ("_t", "_k", "_n", "_c", "_x", "_nodes", "_node_code", "_interned", "_tail",
                 "_flushed")

    def __init__(self):
        self._t = array("q")
        self._k = array("B")
        self._n = array("H")
        self._c = array("q")
        self._x: list = []
        self._nodes: list = [None]
        self._node_code: dict = {None: 0}
        self._interned: dict = {}
        self._tail: list = []  # records not yet moved into the columns
        self._flushed = 0  # how many records the columns hold

    def add(self, time: int, kind: str, node, cause: int, data) -> int:
        """Append the record ``(time, kind, node, cause, data)``; return its index."""
        tail = self._tail
        tail.append((time, kind, node, cause, data))
        n = len(tail)
        index = self._flushed + n - 1
        if n >= _FLUSH_AT:
            self._flush()
        return index

    def intern(self, data):
        """One shared copy of ``data`` (a tuple that many records repeat)."""
        return self._interned.setdefault(data, data)

    def _flush(self) -> None:
        """Move the pending records into the columns, in bulk."""
        tail = self._tail
        if not tail:
            return
        times, kinds, nodes, causes, datas = zip(*tail)
        code = self._node_code
        if not code.keys() >= set(nodes):
            for node in nodes:  # first-appearance order: the codes are part of the hash
                if node not in code:
                    code[node] = len(self._nodes)
                    self._nodes.append(node)
        self._t.extend(times)
        self._k.frombytes(bytes(map(_CODE.__getitem__, kinds)))
        self._n.extend(map(code.__getitem__, nodes))
        self._c.extend(causes)
        self._x.extend(datas)
        tail.clear()
        self._flushed = len(self._k)

    def __len__(self) -> int:
        return len(self._k) + len(self._tail)

    def _record(self, i: int) -> tuple:
        kind = self._k[i]
        cause = self._c[i]
        data = self._x[i]
        if kind == _DELIVER:  # (source, message kind), from the send
            data = (self._nodes[self._n[cause]], self._x[cause][1])
        return (self._t[i], KINDS[kind], self._nodes[self._n[i]], cause, data)

    def __getitem__(self, index):
        self._flush()
        if isinstance(index, slice):
            return [self._record(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("trace index out of range")
        return self._record(index)

    def __iter__(self):
        self._flush()
        return (self._record(i) for i in range(len(self)))

    def __eq__(self, other) -> bool:
        if isinstance(other, Trace):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return list(self) == other

    def truncate(self, n: int) -> None:
        """Forget every record from index ``n`` on."""
        self._flush()
        for column in (self._t, self._k, self._n, self._c, self._x):
            del column[n:]
        self._flushed = len(self._k)

    def copy(self) -> "Trace":
        self._flush()
        out = Trace()
        out._t, out._k, out._n, out._c = self._t[:], self._k[:], self._n[:], self._c[:]
        out._x = self._x[:]
        out._nodes, out._node_code = self._nodes[:], dict(self._node_code)
        out._interned = self._interned
        out._flushed = self._flushed
        return out

    def extend_from(self, other: "Trace", end: int) -> None:
        """Append ``other``'s records from this trace's length up to ``end``.

        ``other`` is a longer trace of the same timeline (see ``History``).
        """
        self._flush()
        other._flush()
        start = len(self)
        if self._nodes != other._nodes[:len(self._nodes)]:
            for i in range(start, end):
                time, kind, node, cause, data = other._record(i)
                self.add(time, kind, node, cause, None if kind == "deliver" else data)
            self._flush()
            return
        for node in other._nodes[len(self._nodes):]:
            self._node_code[node] = len(self._nodes)
            self._nodes.append(node)
        self._t.extend(other._t[start:end])
        self._k.extend(other._k[start:end])
        self._n.extend(other._n[start:end])
        self._c.extend(other._c[start:end])
        self._x.extend(other._x[start:end])
        self._flushed = len(self._k)


def sha256(trace: Trace, start: int = 0, end: int | None = None) -> str:
    """The hex SHA-256 of the canonical form of ``trace[start:end]`` (module docstring)."""
    trace._flush()
    end = len(trace) if end is None else end
    h = hashlib.sha256(b"trace/4\n")
    kinds = trace._k[start:end]
    for column in (trace._t[start:end], trace._c[start:end], kinds, trace._n[start:end]):
        h.update(_le(column))
    h.update(repr(trace._nodes).encode() + b"\n")
    datas = trace._x[start:end]
    codes = kinds.tobytes()
    sends = list(compress(datas, codes.translate(_IS_SEND)))  # masks of 0 and 1 bytes
    others = compress(datas, codes.translate(_IS_OTHER))
    h.update(("\n".join(map(repr, others)) + "\n").encode())
    h.update(_le(array("H", map(trace._node_code.__getitem__, map(_TO, sends)))))
    _messages(h, list(map(_MESSAGE, sends)))
    return h.hexdigest()


_IS_SEND = bytes(kind == "send" for kind in KINDS).ljust(256, b"\0")
_IS_OTHER = bytes(kind not in ("send", "deliver") for kind in KINDS).ljust(256, b"\0")
_TO = itemgetter(0)  # a send's destination
_MESSAGE = itemgetter(2)
_NONE = type(None)


def behaviour_sha256(trace: Trace) -> str:
    """A digest of what a run *did*: every record but notes and facts (the narration and
    the checker's channel), each cause renumbered to count only the records kept.

    Two runs with equal digests sent, delivered, dropped and fired the same things at the
    same times, and their checkers flagged the same violations, even when one of them
    tells more facts or words its notes differently: what a refactoring of a model that
    must not change its behaviour is compared on.
    """
    h = hashlib.sha256(b"behaviour/1\n")
    kept: dict[int, int] = {}
    for i, (time, kind, node, cause, data) in enumerate(trace):
        if kind == "note" or kind == "fact":
            continue
        kept[i] = len(kept)
        if kind == "send":
            data = (data[0], data[1], plain(data[2]))
        h.update(repr((time, kind, node, kept.get(cause, -1), data))
                 .encode("utf-8", "backslashreplace"))
        h.update(b"\n")
    return h.hexdigest()


def _le(column: array) -> bytes:
    """An array's bytes, little-endian."""
    if sys.byteorder == "big":
        column = column[:]
        column.byteswap()
    return column.tobytes()


def _part(h, tag: bytes, payload: bytes) -> None:
    h.update(tag + len(payload).to_bytes(8, "little"))
    h.update(payload)


def _messages(h, msgs: list) -> None:
    """The sent messages: each send's class code (classes in order of first appearance),
    then class by class the messages' field values, column by column (``_column``)."""
    classes = list(map(type, msgs))
    order = list(dict.fromkeys(classes))
    codes = array("q", map(dict(zip(order, range(len(order)))).__getitem__, classes))
    _part(h, b"c", _le(codes))
    small = bytes(codes.tolist()) if len(order) <= 256 else None
    for code in range(len(order)):  # each class's messages, in send order
        mask = (small.translate(bytes(i == code for i in range(256))) if small is not None
                else map(code.__eq__, codes))
        _column(h, list(compress(msgs, mask)))


def _column(h, values: list) -> None:
    """Values of one kind, in bulk: ints, bools, floats and strings as bytes; tuples as
    their lengths and the column of their items; dataclasses of one class as its name,
    field names and a column per field; anything else (mixed kinds, None among strings,
    enums, lists, dicts) as one ``repr`` per line. Each part is tagged and sized."""
    kinds = set(map(type, values))
    kind = kinds.pop() if len(kinds) == 1 else None
    if kind is int:
        try:
            _part(h, b"i", _le(array("q", values)))
            return
        except OverflowError:
            pass
    elif kind is bool:
        _part(h, b"b", bytes(values))
        return
    elif kind is float:
        _part(h, b"f", _le(array("d", values)))
        return
    elif kind is str:
        _part(h, b"s", _le(array("q", map(len, values))))
        _part(h, b"S", "".join(values).encode("utf-8", "surrogatepass"))
        return
    elif kind is tuple:
        _part(h, b"t", _le(array("q", map(len, values))))
        _column(h, list(chain.from_iterable(values)))
        return
    elif kind is _NONE or not values:
        _part(h, b"n", len(values).to_bytes(8, "little"))
        return
    elif kind is not None and dataclasses.is_dataclass(kind):
        names = _field_names(kind)
        _part(h, b"d", repr((kind.__name__, names)).encode())
        for name in names:
            _column(h, list(map(attrgetter(name), values)))
        return
    _part(h, b"r", "\n".join(map(repr, values)).encode("utf-8", "surrogatepass"))


_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls) -> tuple[str, ...]:
    """A dataclass's field names, in order."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


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
        return {n: plain(getattr(value, n)) for n in _field_names(type(value))}
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
    elif kind == "fact":
        out.update(fact=type(data).__name__, text=data.describe(), fields=plain(data))
    return out
