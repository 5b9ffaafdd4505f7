"""Frames: deltas carry what changed, and merging them rebuilds the full picture."""

from __future__ import annotations

import json

from playground.engine import commands as C
from playground.engine.history import History
from playground.scenarios import build, validate
from playground.web import serializer


SECTIONS = {"frontier_ms": 0.0, "duration_ms": 10_000, "playing": True, "speed": 1.0,
            "caption": None, "share_url": "/s/x", "failure": None}


def comparable(frame: dict) -> dict:
    """A frame without its sequence number and marker, its records as a list."""
    return {k: (list(v) if k == "events" else v) for k, v in frame.items()
            if k not in ("seq", "full")}


def test_merged_deltas_equal_a_full_frame_at_every_moment():
    scenario = validate({"model": "toy", "seed": 5, "nodes": 5, "duration_ms": 5000,
                         "network": {"latency_ms": [3, 40]},
                         "commands": [{"at_ms": 700, "type": "crash", "node": "n2"},
                                      {"at_ms": 900, "type": "cut", "from": "n1", "to": "n3"},
                                      {"at_ms": 1200, "type": "skew", "node": "n4",
                                       "offset_ms": 250},
                                      {"at_ms": 1400, "type": "poke", "node": "n4"},
                                      {"at_ms": 1500, "type": "restart", "node": "n2"}]})
    sim = build(scenario)
    history = History(sim)
    deltas = serializer.FrameBuilder("s")
    picture = None
    sizes = []
    for k in range(60):
        history.advance(sim.now + 33_333)
        frame = deltas.build(sim, full=(k == 0), sections=SECTIONS)
        sizes.append(len(json.dumps(frame, separators=(",", ":"))))
        picture = serializer.merge(picture, frame)
        fresh = serializer.FrameBuilder("s").build(sim, full=True, sections=SECTIONS)
        assert comparable(serializer.full_from(picture)) == comparable(fresh), k


def test_delta_omits_unchanged_nodes_and_sections():
    sim = build(validate({"model": "toy", "seed": 1, "nodes": 3}))
    builder = serializer.FrameBuilder("s")
    builder.build(sim, full=True, sections=SECTIONS)
    frame = builder.build(sim, full=False, sections=SECTIONS)
    assert frame == {"seq": 2, "t_ms": 0.0}  # nothing changed: nothing else is sent
    sim.apply(C.Crash("n2"))
    frame = builder.build(sim, full=False, sections=SECTIONS)
    assert list(frame["nodes"]) == ["n2"]
    assert frame["nodes"]["n2"]["status"] == "crashed"
    assert frame["nodes"]["n2"]["timers"] == {"tick": None}  # disarmed by the crash
    assert "rate" not in frame["nodes"]["n2"]
    assert frame["events"][-1][2:] == ["command", "n2", -1, {"type": "crash", "node": "n2"}]


def test_merge_patch_is_rfc_7396():
    # The examples of RFC 7396, appendix A.
    cases = [({"a": "b"}, {"a": "c"}, {"a": "c"}), ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
             ({"a": "b"}, {"a": None}, {}), ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
             ({"a": ["b"]}, {"a": "c"}, {"a": "c"}), ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
             ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
             ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}), (["a", "b"], ["c", "d"], ["c", "d"]),
             ({"a": "b"}, ["c"], ["c"]), ({"a": "foo"}, None, None), ({"a": "foo"}, "bar", "bar"),
             ({"e": None}, {"a": 1}, {"e": None, "a": 1}), ([1, 2], {"a": "b", "c": None},
                                                            {"a": "b"}),
             ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}})]
    for target, patch, result in cases:
        assert serializer.merge_patch(target, patch) == result
    # diff is its inverse: the patch it makes turns the old document, as a client holds
    # it (null members are absent), into the new one.
    old = {"a": 1, "b": {"c": 2, "d": [1, 2]}, "e": None, "f": {"g": 1}}
    new = {"a": 1, "b": {"c": 3, "d": [1, 2]}, "h": {"i": None, "j": 0}, "f": {"g": True}}
    patch = serializer.diff(old, new)
    assert patch == {"b": {"c": 3}, "h": {"i": None, "j": 0}, "f": {"g": True}}
    assert serializer.merge_patch(serializer.merge_patch({}, old), patch) == \
        serializer.merge_patch({}, new)


def test_the_messages_in_flight_are_sent_whole_when_they_changed():
    sim = build(validate({"model": "toy", "seed": 3, "nodes": 4}))
    builder = serializer.FrameBuilder("s")
    picture = serializer.merge(None, builder.build(sim, full=True, sections=SECTIONS))
    changes = 0
    for _ in range(40):
        before = sim.messages_in_flight()
        sim.run_until(sim.now + 5_000)
        frame = builder.build(sim, full=False, sections=SECTIONS)
        changes += "messages" in frame
        assert ("messages" in frame) == (sim.messages_in_flight() != before)
        picture = serializer.merge(picture, frame)
        assert [m["id"] for m in picture.get("messages", [])] == \
            [m[0] for m in sim.messages_in_flight()]
        assert picture.get("messages_total") is None  # all of them are shown
    assert changes >= 5


def test_a_frame_shows_at_most_max_messages(monkeypatch):
    monkeypatch.setattr(serializer, "MAX_MESSAGES", 2)
    sim = build(validate({"model": "toy", "seed": 3, "nodes": 6}))
    sim.run_until(100_000)
    frame = serializer.FrameBuilder("s").build(sim, full=True, sections=SECTIONS)
    assert sim.messages_count() > 2 and frame["messages_total"] == sim.messages_count()
    assert [m["id"] for m in frame["messages"]] == [m[0] for m in sim.messages_in_flight(2)]


def test_a_delta_without_its_base_is_not_merged():
    sim = build(validate({"model": "toy", "seed": 1, "nodes": 3}))
    builder = serializer.FrameBuilder("s")
    full = builder.build(sim, full=True, sections=SECTIONS)
    builder.build(sim, full=False, sections=SECTIONS)  # lost on the way
    third = builder.build(sim, full=False, sections=SECTIONS)
    assert serializer.merge(serializer.merge(None, full), third) is None


def test_events_are_bounded_and_counted():
    sim = build(validate({"model": "toy", "seed": 1, "nodes": 9, "duration_ms": 60_000}))
    builder = serializer.FrameBuilder("s")
    builder.build(sim, full=True, sections=SECTIONS)
    sim.run_until(5_000_000)
    frame = builder.build(sim, full=False, sections=SECTIONS)
    assert len(frame["events"]) == serializer.MAX_EVENTS_PER_FRAME
    assert frame["events_skipped"] > 0
    assert frame["events"][-1][0] == len(sim.trace) - 1


def test_compact_records_are_record_json_without_bodies():
    from playground.engine.trace import record_json

    sim = build(validate({"model": "toy", "seed": 2, "nodes": 3,
                          "commands": [{"at_ms": 150, "type": "crash", "node": "n3"},
                                       {"at_ms": 160, "type": "poke", "node": "n1"}]}))
    sim.run_until(400_000)
    kinds = set()
    for i, rec in enumerate(sim.trace):
        full = record_json(i, rec)
        full.pop("body", None)
        row = serializer.compact(i, rec)
        assert row[:5] == [full.pop("i"), full.pop("t_us"), full.pop("kind"), full.pop("node"),
                           full.pop("cause")]
        assert row[5:] == list(full.values())
        kinds.add(row[2])
    assert {"start", "send", "deliver", "drop", "timer", "command", "note"} <= kinds
