"""Snapshots of a running session as one JSON document, and frames that patch it.

One serializer turns engine objects into the wire format of ``docs/protocol.md``; nothing
else in the web layer reads simulation internals for display. The state of a session is
one JSON **document** (:meth:`FrameBuilder.document`): the session's sections, ``nodes``
keyed by node id, the list of ``messages`` in flight, ``links``, ``violations``,
``metrics``, ``panel``. A frame is a **JSON Merge Patch** (RFC 7396) of that document:

* a full frame (``"full": true``) is the whole document, to be merged onto nothing;
* a delta (:func:`diff`) holds only the members that changed, ``null`` for a member that
  is gone (a disarmed timer, a node's summary field); an array (the messages in flight,
  the violations) is sent whole when it changed; an unchanged node or section is left
  out, and a delta that changed nothing is ``{"seq", "t_ms"}`` alone (``t_ms`` is in
  every frame);
* besides the patch, a frame carries the **stream** of trace records appended since the
  previous frame (``events``, compact arrays of :func:`compact`; ``events_skipped``
  counts those left out), which is not part of the document.

:func:`merge_patch` is the one merge (RFC 7396); :func:`merge` folds a frame into a
picture with it, which the fan-out (``playground.web.fanout``) uses to hand any late or
slow client a full frame of its own (:func:`full_from`), and the browser's
``static/js/store.js`` has the same function. A member whose value is ``null`` and an
absent member mean the same (merge patches cannot tell them apart).
"""

from __future__ import annotations

from collections import deque

from ..engine.commands import FAULT_TYPES
from ..engine.simulation import PPM
from ..engine.trace import plain

MAX_EVENTS_PER_FRAME = 300
FULL_EVENTS = 500  # trace records a full frame carries (the space-time diagram's history)
MAX_MESSAGES = 200  # messages in flight a frame shows (the oldest); messages_total counts all
TOUCH_SCAN = 5000  # new records beyond which a frame rebuilds every node instead of reading them


def _ms(us: int | float) -> float:
    return round(us / 1000, 3)


def node_entry(sim, nid: str) -> dict:
    """One node as the UI sees it (its id is its key in the document; its clock reads
    ``offset_ms + rate × t_ms``)."""
    node = sim.nodes[nid]
    model = sim.model
    return {
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


def messages(sim, previous: dict | None = None) -> tuple[list, dict]:
    """The oldest ``MAX_MESSAGES`` messages in flight, in the order they were sent, and
    the same keyed by id (entries of ``previous``, such a dict, reused: an unchanged list
    compares equal at once)."""
    previous = previous or {}
    by_id = {}
    for mid, src, dst, kind, sent, due in sim.messages_in_flight(MAX_MESSAGES):
        entry = previous.get(mid)
        by_id[mid] = entry if entry is not None else {
            "id": mid, "from": src, "to": dst, "kind": kind, "sent_ms": _ms(sent),
            "due_ms": _ms(due)}
    return list(by_id.values()), by_id


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


_MISSING = object()
_SAME = object()


def diff(old, new):
    """The RFC 7396 merge patch that turns ``old`` into ``new``; ``_SAME`` if none is
    needed. Objects are compared member by member (an identical object is skipped at
    once), anything else replaced whole when it differs (in value or in type).

    A member of ``new`` equal to ``old``'s is replaced by ``old``'s object: what did not
    change stays one object from document to document, and the copy just built is freed
    at once instead of living on, young, for the garbage collector to walk."""
    if old is new:
        return _SAME
    if type(new) is not dict or type(old) is not dict:
        return _SAME if old == new and type(old) is type(new) else new
    patch = {}
    kept = 0  # members of ``old`` that ``new`` has too
    for key, value in new.items():
        before = old.get(key, _MISSING)
        if before is _MISSING:
            if value is not None:
                patch[key] = value
            continue
        kept += 1
        if before is value:
            continue
        if type(value) is dict and type(before) is dict:
            change = diff(before, value)
            if change is _SAME:
                new[key] = before
            else:
                patch[key] = change
        elif before != value or type(before) is not type(value):
            patch[key] = value
        else:
            new[key] = before
    if kept < len(old):
        for key, before in old.items():
            if key not in new and before is not None:
                patch[key] = None
    return patch if patch else _SAME


def merge_patch(target, patch):
    """RFC 7396: ``target`` with ``patch`` applied (an object target is changed in
    place; a member patched to ``null`` is removed)."""
    if type(patch) is not dict:
        return patch
    if type(target) is not dict:
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif type(value) is dict:
            target[key] = merge_patch(target.get(key), value)
        else:
            target[key] = value
    return target


STREAM = ("full", "events", "events_skipped")  # frame members that are not the patch


def merge(picture: dict | None, frame: dict) -> dict | None:
    """Fold ``frame`` into ``picture`` (the merged document, with the newest records under
    ``events``); None when a delta has no base (a frame was missed)."""
    if frame.get("full"):
        picture, events = {}, deque(maxlen=FULL_EVENTS)
    elif picture is None or frame.get("seq") != picture.get("seq", 0) + 1:
        return None
    else:
        events = picture.pop("events")
    picture = merge_patch(picture, {k: v for k, v in frame.items() if k not in STREAM})
    events.extend(frame.get("events", ()))
    picture["events"] = events
    return picture


def full_from(picture: dict) -> dict:
    """A full frame equivalent to the merged ``picture``."""
    out = {"full": True}  # first, where a reader of the frame's start finds it
    out.update((k, v) for k, v in picture.items() if k != "events")
    out["events"] = list(picture["events"])
    return out


class FrameBuilder:
    """Builds one session's frames; remembers the document it sent last."""

    _STICKY = ("scenario",)  # sections given in full frames only, kept in between

    def __init__(self, session_id: str):
        self.session_id = session_id
        self.seq = 0
        self._doc: dict = {}
        self._nodes: dict[str, dict] = {}
        self._messages: dict[str, dict] = {}
        self._trace_end = 0
        self._n_violations = -1

    def document(self, sim, sections: dict, *, rewound: bool, new_records, slow: bool) -> dict:
        """The session's state as one document. Node entries the new trace records do not
        touch, messages still in flight and, unless ``slow``, metrics and the panel are
        the very objects of the previous document (``diff`` skips them at once)."""
        old = self._doc
        touched = None if new_records is None else _touched(new_records)
        nodes = {nid: node_entry(sim, nid) if touched is None or nid in touched
                 else self._nodes[nid] for nid in sim.node_ids}
        self._nodes = nodes
        shown, self._messages = messages(sim, self._messages)
        total = sim.messages_count()
        doc = {"session": self.session_id, "seq": self.seq, "t_ms": _ms(sim.now)}
        doc.update(sections)
        for key in self._STICKY:
            if key not in sections and key in old:
                doc[key] = old[key]
        doc["nodes"] = nodes
        doc["messages"] = shown
        if total > len(shown):  # only when some are not shown
            doc["messages_total"] = total
        doc["links"] = links(sim)
        if rewound or len(sim.violations) != self._n_violations:
            doc["violations"] = violations(sim)
            self._n_violations = len(sim.violations)
        else:
            doc["violations"] = old["violations"]
        if slow or rewound or "metrics" not in old:
            doc["metrics"] = sim.metrics()
            doc["panel"] = sim.model.panel(sim)
        else:
            doc["metrics"], doc["panel"] = old["metrics"], old.get("panel")
        return doc

    def build(self, sim, *, full: bool, sections: dict, slow: bool = True) -> dict:
        """The next frame. ``sections`` (playing, speed, caption, share_url, failure...) are
        members of the document; metrics and the panel are recomputed only when ``slow``
        (they cost more than the rest and change the charts only)."""
        self.seq += 1
        end = len(sim.trace)
        rewound = full or end < self._trace_end
        # The nodes the new records touched, unless there are so many (a long step) that
        # rebuilding every node entry costs less than reading them all.
        scan = not rewound and end - self._trace_end <= TOUCH_SCAN
        new_records = sim.trace[self._trace_end:end] if scan else None
        doc = self.document(sim, sections, rewound=rewound, new_records=new_records,
                            slow=slow or full)
        if full:
            frame = merge_patch({"full": True}, doc)  # a copy without null members
        else:
            frame = diff(self._doc, doc)
            frame = {"seq": self.seq} if frame is _SAME else frame
            frame["t_ms"] = doc["t_ms"]  # always: the moment the frame shows
        self._doc = doc
        if rewound:
            first = max(0, end - FULL_EVENTS)
            frame["events"], _ = events(sim.trace[first:end], first, FULL_EVENTS)
        else:
            first = max(self._trace_end, end - MAX_EVENTS_PER_FRAME)
            records = (sim.trace[first:end] if new_records is None
                       else new_records[first - self._trace_end:])  # read once
            recent, _ = events(records, first, MAX_EVENTS_PER_FRAME)
            skipped = first - self._trace_end
            if recent:
                frame["events"] = recent
            if skipped:
                frame["events_skipped"] = skipped
        self._trace_end = end
        return frame


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
