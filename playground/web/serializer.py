"""Snapshots of a running session as JSON frames, and the deltas between them.

One serializer turns engine objects into the wire format of ``docs/protocol.md``; nothing
else in the web layer reads simulation internals for display. A :class:`FrameBuilder`
belongs to one session and remembers what it sent last, so each frame after a full one
carries only what changed:

* a node entry with its ``id`` and the fields that changed (``summary`` by key), and
  ``clock_ms``, which a client can also compute from ``offset_ms`` and ``rate``;
* the trace records appended since the previous frame, in the compact array form of
  :func:`compact` (message bodies stay on the server: see the ``inspect`` request);
* ``metrics`` by key; ``links``, ``panel``, ``violations`` and the session's own sections
  whole, only when they changed;
* the complete list of messages in flight, when it changed;
* nothing else: ``session`` and ``full`` are in full frames only, and a delta leaves out
  ``nodes`` and ``events`` when they are empty.

``merge`` is the inverse used by the fan-out (``playground.web.fanout``): it folds a delta
into the last full picture so that any server process can hand a late or slow client a
full frame of its own.
"""

from __future__ import annotations

from collections import deque

from ..engine.commands import FAULT_TYPES
from ..engine.simulation import PPM
from ..engine.trace import plain

MAX_EVENTS_PER_FRAME = 300
FULL_EVENTS = 500  # trace records a full frame carries (the space-time diagram's history)


def _ms(us: int | float) -> float:
    return round(us / 1000, 3)


def node_entry(sim, nid: str) -> dict:
    """One node as the UI sees it (without ``clock_ms``, which moves every frame)."""
    node = sim.nodes[nid]
    model = sim.model
    return {
        "id": nid,
        "status": str(node.status),
        "offset_ms": _ms(node.offset),
        "rate": node.rate / PPM,
        "role": model.role(node.state),
        "summary": model.summary(nid, node.state),
        "timers": {name: _ms(due) for name, due in sim.armed_timers(nid)},
    }


def links(sim) -> dict:
    """Cut directed links, the partition's groups and links with their own settings."""
    state = sim.link_state()
    return {
        "cut": [[a, b] for (a, b) in state["cut"]],
        "groups": state["groups"],
        "custom": [{"from": a, "to": b, "latency_ms": [_ms(lo), _ms(hi)], "loss": loss,
                    "duplicate": duplicate}
                   for (a, b, lo, hi, loss, duplicate) in state["custom"]],
    }


def messages(sim) -> list:
    return [{"id": mid, "from": src, "to": dst, "kind": kind, "sent_ms": _ms(sent),
             "due_ms": _ms(due)}
            for mid, src, dst, kind, sent, due in sim.messages_in_flight()]


def violations(sim) -> list:
    return [{"invariant": v.invariant, "at_ms": _ms(v.at), "event": v.event, "node": v.node,
             "detail": v.detail} for v in sim.violations]


def compact(index: int, rec) -> list:
    """A trace record as ``[i, t_us, kind, node, cause, *fields]`` (see docs/protocol.md).

    The fields follow the kind: send ``to, msg``; deliver ``from, msg``; drop ``from, msg,
    reason``; timer ``timer``; command ``command``; note ``text, fields``; violation
    ``invariant, detail``; fact ``text, fields, fact``; start none. It is ``record_json``
    without the message body.
    """
    time, kind, node, cause, data = rec
    out = [index, time, kind, node, cause]
    if kind == "send":
        out += (data[0], data[1])
    elif kind == "note":
        out += (data[0], plain(data[1]))
    elif kind == "fact":
        out += (data.describe(), plain(data), type(data).__name__)
    elif kind != "start":
        out += data
    return out


def events(records: list, start: int, limit: int) -> tuple[list, int]:
    """``records`` (the trace from index ``start`` on) in compact form: the last ``limit``
    of them, and how many were left out."""
    skip = max(0, len(records) - limit)
    return [compact(start + skip + j, rec) for j, rec in enumerate(records[skip:])], skip


def _touched(records: list) -> set | None:
    """The nodes named by ``records``: only their entries can have changed.

    A node's state, timers, status and clock change only in a handler run on that node
    (its ``deliver``, ``timer`` or ``start`` record) or by a command naming it; a command
    that names no node (a client request routed by the model) could touch any, so then
    the answer is None: all of them.
    """
    touched = set()
    for _time, kind, node, _cause, _data in records:
        if node is None:
            if kind == "command":
                return None
            continue
        touched.add(node)
    return touched


def node_delta(old: dict | None, new: dict) -> dict | None:
    """The fields of a node entry that changed (``summary`` by key); None if nothing did."""
    if old is None:
        return new
    out = {}
    for key, value in new.items():
        if old.get(key) == value:
            continue
        if key in ("summary", "timers") and isinstance(value, dict) \
                and isinstance(old.get(key), dict):
            before = old[key]
            value = {k: v for k, v in value.items() if before.get(k) != v}
            value.update({k: None for k in before if k not in new[key]})
        out[key] = value
    if not out:
        return None
    out["id"] = new["id"]
    return out


def keyed_delta(old: dict | None, new: dict) -> dict | None:
    """The keys of a flat dict that changed (a removed key as None); None if nothing did."""
    if old is None:
        return new
    out = {k: v for k, v in new.items() if old.get(k, _MISSING) != v}
    out.update({k: None for k in old if k not in new})
    return out or None


_MISSING = object()


def _clock(old: dict, delta: dict, t_ms: float) -> float:
    offset = delta.get("offset_ms", old["offset_ms"])
    rate = delta.get("rate", old["rate"])
    return round(offset + rate * t_ms, 3)


def with_clocks(nodes: list, t_ms: float) -> list:
    """Node entries with ``clock_ms`` filled in for time ``t_ms``."""
    return [{**n, "clock_ms": round(n["offset_ms"] + n["rate"] * t_ms, 3)} for n in nodes]


class FrameBuilder:
    """Builds one session's frames; remembers the previous one to send deltas."""

    # Sections sent only when their content changed (compared as built values).
    _SECTIONS = ("links", "violations", "caption", "script", "share_url", "failure",
                 "frontier_ms", "duration_ms", "playing", "speed", "scenario", "busy",
                 "slowed", "notice", "pair")
    _KEYED = ("metrics", "panel")

    def __init__(self, session_id: str):
        self.session_id = session_id
        self.seq = 0
        self._nodes: dict[str, dict] = {}
        self._sections: dict[str, object] = {}
        self._trace_end = 0
        self._n_violations = -1
        self._keyed: dict[str, dict] = {}
        self._messages: list | None = None

    def build(self, sim, *, full: bool, sections: dict, slow: bool = True) -> dict:
        """The next frame. ``sections`` (playing, speed, caption, share_url, failure...) are
        sent when they changed, or always if full; metrics and the panel only when ``slow``
        (they cost more than the rest and change the charts only)."""
        self.seq += 1
        t_ms = _ms(sim.now)
        frame = ({"session": self.session_id, "seq": self.seq, "full": True, "t_ms": t_ms}
                 if full else {"seq": self.seq, "t_ms": t_ms})
        end = len(sim.trace)
        rewound = full or end < self._trace_end
        new_records = None if rewound else sim.trace[self._trace_end:end]
        touched = None if rewound else _touched(new_records)
        if touched is None:
            nodes = [node_entry(sim, nid) for nid in sim.node_ids]
        else:
            nodes = [node_entry(sim, nid) if nid in touched else self._nodes[nid]
                     for nid in sim.node_ids]
        if full:
            frame["nodes"] = with_clocks(nodes, t_ms)
        else:
            changed = [node_delta(self._nodes.get(n["id"]), n) for n in nodes
                       if touched is None or n["id"] in touched]
            changed = [{**n, "clock_ms": _clock(self._nodes[n["id"]], n, t_ms)}
                       if "offset_ms" in n or "rate" in n else n
                       for n in changed if n is not None]
            if changed:
                frame["nodes"] = changed
        self._nodes = {n["id"]: n for n in nodes}
        in_flight = messages(sim)
        if full or in_flight != self._messages:
            frame["messages"] = in_flight
        self._messages = in_flight
        if rewound:
            first = max(0, end - FULL_EVENTS)
            frame["events"], _ = events(sim.trace[first:end], first, FULL_EVENTS)
        else:
            recent, skipped = events(new_records, self._trace_end, MAX_EVENTS_PER_FRAME)
            if recent:
                frame["events"] = recent
            if skipped:
                frame["events_skipped"] = skipped
        self._trace_end = end
        current = dict(sections)
        current["links"] = links(sim)
        for key, compute in (("metrics", sim.metrics), ("panel", sim.model.panel)):
            if not (slow or full):
                continue
            value = compute() if key == "metrics" else compute(sim)
            changed = value if full else keyed_delta(self._keyed.get(key), value)
            if changed:
                frame[key] = changed
            self._keyed[key] = value
        if full or len(sim.violations) != self._n_violations:
            current["violations"] = violations(sim)
            self._n_violations = len(sim.violations)
        else:
            current["violations"] = self._sections.get("violations")
        for key in self._SECTIONS:
            if key not in current:
                continue
            value = current[key]
            if full or self._sections.get(key) != value:
                frame[key] = value
            self._sections[key] = value
        return frame


def merge(picture: dict | None, frame: dict) -> dict | None:
    """Fold ``frame`` into the last full ``picture`` (None when a delta has no base)."""
    if frame.get("full"):
        out = dict(frame)
        out["events"] = deque(frame.get("events", ()), maxlen=FULL_EVENTS)
        out.pop("events_skipped", None)
        return out
    if picture is None or frame.get("seq") != picture.get("seq", 0) + 1:
        return None
    for key, value in frame.items():
        if key == "nodes":
            by_id = {n["id"]: n for n in picture["nodes"]}
            for n in value:
                by_id[n["id"]] = merge_node(by_id[n["id"]], n)
            picture["nodes"] = [by_id[n["id"]] for n in picture["nodes"]]
        elif key in ("metrics", "panel"):
            picture[key] = merge_keys(picture.get(key, {}), value)
        elif key == "events":
            picture["events"].extend(value)
        elif key not in ("events_skipped", "full"):
            picture[key] = value
    return picture


def merge_keys(old: dict, delta: dict) -> dict:
    """A flat dict with a keyed delta applied; a key set to null is gone."""
    out = {**old, **delta}
    for k, v in delta.items():
        if v is None:
            del out[k]
    return out


def merge_node(old: dict, delta: dict) -> dict:
    """A node entry with a node delta applied (``summary`` merged by key)."""
    out = {**old, **delta}
    if "summary" in delta and isinstance(old.get("summary"), dict):
        out["summary"] = merge_keys(old["summary"], delta["summary"])
    if "timers" in delta and isinstance(old.get("timers"), dict):
        out["timers"] = merge_keys(old["timers"], delta["timers"])
    return out


def full_from(picture: dict) -> dict:
    """A full frame equivalent to the merged ``picture``."""
    out = dict(picture)
    out["full"] = True
    out["events"] = list(picture["events"])
    out["nodes"] = with_clocks(picture["nodes"], picture["t_ms"])
    return out


def model_info(cls) -> dict:
    """A model's description for the UI: variants, params, commands, invariants, faults."""
    return {
        "title": cls.title,
        "variants": [{"name": v.name, "default": v.default, "description": v.description,
                      "choices": list(v.choices), "broken": list(v.broken)} for v in cls.variants],
        "params": [{"name": p.name, "default": p.default, "description": p.description,
                    "schema": p.schema} for p in cls.params],
        "commands": cls.commands,
        "node_actions": [{"command": a.command, "label": a.label, "roles": list(a.roles)}
                         for a in cls.node_actions],
        "invariants": [{"name": i.name, "description": i.description} for i in cls.invariants],
        "fault_types": list(FAULT_TYPES),
        "default_nodes": cls.default_nodes,
        "min_nodes": cls.min_nodes,
        "max_nodes": cls.max_nodes,
    }
