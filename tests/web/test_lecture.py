"""Lecture mode on the server: play to a moment, captions that stay on screen, a script
that knows when the presenter left it, captions that name roles, node actions."""

from __future__ import annotations

import time

from playground.scenarios import presets, share
from playground.scenarios.schema import unanswered
from playground.web import session as session_module
from tests.web.conftest import frames, toy_scenario, wait_for


def open_session(client, scenario):
    made = client.emit("create", {"scenario": scenario}, callback=True)
    assert made["ok"], made
    ids = {"session": made["session"], "token": made["token"]}
    joined = client.emit("join", ids, callback=True)
    assert joined["ok"], joined
    return made, ids, joined


def last(got, key):
    """The newest value of a frame section (deltas carry a section only when it changed)."""
    return [f[key] for f in got if key in f][-1]


def control(client, ids, op, value=None):
    payload = {**ids, "op": op}
    if value is not None:
        payload["value"] = value
    answer = client.emit("control", payload, callback=True)
    assert answer["ok"], answer
    return answer


def test_play_to_a_moment_runs_through_it_and_stops_exactly_there(connect):
    client = connect()
    _made, ids, _ = open_session(client, toy_scenario())
    control(client, ids, "speed", 2)
    control(client, ids, "play", 400)
    got = wait_for(client, lambda f: f.get("playing") is False and f["t_ms"] == 400.0)
    seen = [f["t_ms"] for f in got]
    assert any(0 < t < 400 for t in seen), seen  # it played there, it did not jump
    assert max(seen) == 400.0


def test_in_lecture_mode_a_caption_stays_on_screen_before_the_next(connect, monkeypatch):
    monkeypatch.setattr(session_module, "DWELL", 0.6)
    client = connect()
    scenario = toy_scenario(narrative=[{"at_ms": 100, "text": "First."},
                                       {"at_ms": 120, "text": "Second, 20 ms later."}])
    _made, ids, _ = open_session(client, scenario)
    control(client, ids, "lecture", True)
    control(client, ids, "speed", 1)
    control(client, ids, "play")
    got = wait_for(client, lambda f: f["t_ms"] == 119.999)  # held just before the second
    assert [f["caption"]["text"] for f in got if f.get("caption")][-1] == "First."
    got = wait_for(client, lambda f: (f.get("caption") or {}).get("text", "").startswith("Second"))
    assert got[-1]["t_ms"] >= 120


def test_acting_against_the_script_drops_its_later_commands_and_marks_later_captions(
        connect, app):
    client = connect()
    made, ids, joined = open_session(client, "raft-election")
    assert joined["scenario"]["lecture_speed"] == presets()["raft-election"]["lecture_speed"]
    assert joined["scenario"]["helpers"] == ["client", "storage"]
    assert joined["scenario"]["node_roles"]["n1"] == "server"
    actions = joined["models"]["raft"]["node_actions"]
    assert {a["command"] for a in actions} == {"timeout_now", "put", "remove_server", "add_server"}
    control(client, ids, "step", 450)
    answer = client.emit("act", {**ids, "action": {"type": "crash", "node": "n1"}},
                         callback=True)
    assert answer["ok"], answer
    assert share.decode(answer["share_url"])["diverged_ms"] == 450
    control(client, ids, "step", 1100)  # to 1550 ms: past the scripted crash of n1 at 1500
    session = app.extensions["playground"].get(made["session"])
    commands = [d[0] for t, kind, _n, _c, d in session.sim.trace if kind == "command"]
    assert commands == [{"type": "crash", "node": "n1"}]  # the script's own crash is gone
    got = frames(client)
    assert last(got, "script") == {"diverged_ms": 450.0, "can_return": True}
    caption = last(got, "caption")
    assert caption["at_ms"] == 1500 and caption["diverged"] is True

    control(client, ids, "script")  # back to the script, at the moment it was left
    got = frames(client)
    assert got[-1]["t_ms"] == 450.0 and last(got, "script").get("diverged_ms") is None
    assert last(got, "caption")["diverged"] is False
    control(client, ids, "step", 1100)
    commands = [(d[0]["type"], d[0]["node"]) for t, kind, _n, _c, d in session.sim.trace
                if kind == "command"]
    assert commands == [("crash", "n1")]  # the scripted one, at 1500 ms
    assert session.sim.trace[[k for _t, k, *_ in session.sim.trace].index("command")][0] \
        == 1_500_000


def test_a_replayed_recording_remembers_where_it_left_the_script(connect):
    client = connect()
    _made, ids, _ = open_session(client, "raft-election")
    control(client, ids, "step", 300)
    answer = client.emit("act", {**ids, "action": {"type": "timeout_now", "node": "n3"}},
                         callback=True)
    assert answer["ok"], answer
    other = connect()
    _made, other_ids, joined = open_session(other, answer["share_url"])
    # the same captions (a question's answer stays on the server: schema.unanswered)
    assert joined["scenario"]["narrative"] == [
        unanswered(c) for c in presets()["raft-election"]["narrative"]]
    control(other, other_ids, "step", 1600)
    got = frames(other)
    assert last(got, "caption")["diverged"] is True
    assert last(got, "script") == {"diverged_ms": 300.0, "can_return": True}
    control(other, other_ids, "script")
    assert frames(other)[-1]["t_ms"] == 300.0


def test_a_fork_that_drops_scripted_commands_leaves_the_script(connect):
    client = connect()
    _made, ids, _ = open_session(client, "raft-election")
    control(client, ids, "step", 200)
    control(client, ids, "fork")
    assert last(frames(client), "script")["diverged_ms"] == 200.0
    bare = connect()
    _made, bare_ids, _ = open_session(bare, toy_scenario())
    control(bare, bare_ids, "step", 200)
    control(bare, bare_ids, "fork")  # nothing scripted to drop: still on script
    assert last(frames(bare), "script").get("diverged_ms") is None
    refused = bare.emit("control", {**bare_ids, "op": "script"}, callback=True)
    assert refused["ok"] is False and "has not left its script" in refused["error"]


def test_a_caption_may_name_the_node_that_plays_a_role_now(connect):
    client = connect()
    scenario = {**presets()["raft-election"],
                "narrative": [{"at_ms": 100, "text": "Before: {leader}."},
                              {"at_ms": 1000, "text": "{leader} leads term 1."}]}
    scenario.pop("name")
    _made, ids, _ = open_session(client, scenario)
    control(client, ids, "step", 150)
    assert last(frames(client), "caption")["text"] == "Before: (no leader)."
    control(client, ids, "step", 1000)
    assert last(frames(client), "caption")["text"] == "n1 leads term 1."
