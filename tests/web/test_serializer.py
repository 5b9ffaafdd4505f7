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
    """A frame without its sequence number, null summary values read as absent."""
    out = {k: (list(v) if k == "events" else v) for k, v in frame.items()
           if k not in ("seq", "full")}
    out["nodes"] = [{**n, "summary": {k: v for k, v in n["summary"].items() if v is not None}}
                    for n in out["nodes"]]
    return out


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
    assert set(frame) == {"seq", "t_ms"}  # nothing changed: nothing else is sent
    sim.apply(C.Crash("n2"))
    frame = builder.build(sim, full=False, sections=SECTIONS)
    assert [n["id"] for n in frame["nodes"]] == ["n2"]
    assert frame["nodes"][0]["status"] == "crashed"
    assert frame["nodes"][0]["timers"] == {"tick": None}  # disarmed by the crash
    assert "rate" not in frame["nodes"][0] and "clock_ms" not in frame["nodes"][0]
    assert frame["events"][-1][2:] == ["command", "n2", -1, {"type": "crash", "node": "n2"}]


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
