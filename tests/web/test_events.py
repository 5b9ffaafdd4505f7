"""The Socket.IO protocol, event by event, with its error answers (threading test client)."""

from __future__ import annotations

import time

import pytest

from tests.web.conftest import collect, frames, status_of, toy_scenario, wait_for


def create(client, scenario=None):
    answer = client.emit("create", {"scenario": scenario or toy_scenario()}, callback=True)
    assert answer["ok"], answer
    return answer


def test_create_answers_ids_and_links(connect):
    answer = create(connect())
    assert set(answer) == {"ok", "session", "token", "share_url", "watch_url"}
    assert len(answer["session"]) >= 22 and len(answer["token"]) >= 22  # ≥ 128 bits
    assert answer["watch_url"] == "/w/" + answer["session"]
    assert answer["share_url"].startswith("/s/1.")


def test_create_from_share_link_replays_the_same_scenario(connect, app):
    client = connect()
    first = create(client, toy_scenario(seed=99, commands=[{"at_ms": 50, "type": "crash",
                                                            "node": "n3"}]))
    second = create(client, first["share_url"])
    registry = app.extensions["playground"]
    a, b = registry.get(first["session"]), registry.get(second["session"])
    assert a.scenario == b.scenario
    assert second["share_url"] == first["share_url"]


def test_create_refuses_bad_scenarios(connect):
    client = connect()
    for scenario, words in [("no-such-preset", "no preset named"),
                            ("/etc/passwd.json", "no preset named"),
                            ({"model": "toy"}, "seed"),
                            ({"model": "toy", "seed": 1, "nodes": 500}, "nodes"),
                            ("1.damaged", "share link"),
                            (12, "must be a preset name")]:
        answer = client.emit("create", {"scenario": scenario}, callback=True)
        assert answer["ok"] is False and words in answer["error"], (scenario, answer)
    assert "'scenario' is missing" in client.emit("create", {}, callback=True)["error"]


def test_join_with_token_controls_without_watches(connect):
    owner, watcher = connect(), connect()
    made = create(owner)
    joined = owner.emit("join", {"session": made["session"], "token": made["token"]},
                        callback=True)
    assert joined["ok"] and joined["role"] == "control"
    assert joined["scenario"]["model"] == "toy"
    assert "toy" in joined["models"] and joined["models"]["toy"]["invariants"]
    watched = watcher.emit("join", {"session": made["session"]}, callback=True)
    assert watched["ok"] and watched["role"] == "watch"
    first = wait_for(watcher, lambda f: f.get("full"))[0]
    assert first.get("full") and list(first["nodes"]) == ["n1", "n2", "n3", "n4", "n5"]
    assert first["scenario"]["share_url"] == made["share_url"]
    assert {"status", "offset_ms", "rate", "role", "summary", "timers"} <= set(first["nodes"]["n1"])


def test_join_refusals(connect):
    client = connect()
    made = create(client)
    for payload, words in [({"session": "A" * 22}, "no session"),
                           ({"session": made["session"], "token": "wrong"}, "wrong token"),
                           ({"session": made["session"], "token": 5}, "'token' must be"),
                           ({}, "'session' is missing"),
                           ({"session": "../etc"}, "not a session id")]:
        answer = client.emit("join", payload, callback=True)
        assert answer["ok"] is False and words in answer["error"], (payload, answer)


def test_play_streams_paced_frames(connect):
    client = connect()
    made = create(client)
    client.emit("join", {"session": made["session"], "token": made["token"]}, callback=True)
    frames(client)
    started = time.monotonic()
    assert client.emit("control", {"session": made["session"], "token": made["token"],
                                   "op": "play"}, callback=True)["ok"]
    got = collect(client, 12)
    wall_ms = (time.monotonic() - started) * 1000
    # Bounds a busy machine cannot break (it only makes frames later and fewer): at most
    # 30 frames per second, and at speed 1 simulated time never runs ahead of the wall.
    assert len(got) <= 30 * wall_ms / 1000 + 3, (len(got), wall_ms)
    assert [f["seq"] for f in got] == list(range(got[0]["seq"], got[0]["seq"] + len(got)))
    assert 0 < got[-1]["t_ms"] <= wall_ms + 40, (got[-1]["t_ms"], wall_ms)
    assert "playing" not in got[-1]  # sent when it changes
    assert [f["playing"] for f in got if "playing" in f][-1] is True


def test_pause_stops_frames_and_step_sends_one(connect):
    client = connect()
    made = create(client)
    ids = {"session": made["session"], "token": made["token"]}
    client.emit("join", ids, callback=True)
    client.emit("control", {**ids, "op": "play"}, callback=True)
    time.sleep(0.3)
    client.emit("control", {**ids, "op": "pause"}, callback=True)
    time.sleep(0.1)
    frames(client)
    time.sleep(0.4)
    assert frames(client) == []
    before = client.emit("control", {**ids, "op": "step"}, callback=True)
    assert before["ok"]
    got = wait_for(client, lambda f: True)
    assert "playing" not in got[-1]  # still paused


def test_speed_seek_fork(connect, app):
    client = connect()
    made = create(client)
    ids = {"session": made["session"], "token": made["token"]}
    client.emit("join", ids, callback=True)
    assert client.emit("control", {**ids, "op": "speed", "value": "max"}, callback=True)["ok"]
    client.emit("control", {**ids, "op": "play"}, callback=True)
    wait_for(client, lambda f: f["t_ms"] >= 2000)
    client.emit("control", {**ids, "op": "pause"}, callback=True)
    session = app.extensions["playground"].get(made["session"])
    frontier = session.history.frontier / 1000
    seek = client.emit("control", {**ids, "op": "seek", "value": 500}, callback=True)
    assert seek == {"ok": True, "t_ms": 500.0}
    got = wait_for(client, lambda f: f.get("full") and f["t_ms"] == 500.0)
    assert got[-1]["frontier_ms"] == pytest.approx(frontier)
    assert got[-1]["events"] and got[-1]["events"][-1][1] <= 500_000
    assert client.emit("control", {**ids, "op": "fork"}, callback=True)["ok"]
    got = wait_for(client, lambda f: f.get("full") and f["frontier_ms"] == 500.0)
    beyond = client.emit("control", {**ids, "op": "seek", "value": 900}, callback=True)
    assert beyond["ok"] is False and "beyond the furthest moment" in beyond["error"]


@pytest.mark.parametrize("payload,words", [
    ({"op": "jump"}, "unknown op"),
    ({"op": 3}, "'op' must be"),
    ({"op": "speed", "value": 0}, "speed"),
    ({"op": "speed", "value": 1e9}, "speed"),
    ({"op": "speed", "value": "fast"}, "speed"),
    ({"op": "seek", "value": -1}, "seek"),
    ({"op": "seek"}, "seek"),
    ({"op": "step", "value": "x"}, "step"),
    ({"op": "pause", "value": 1}, "takes no 'value'"),
    ({"op": "play", "value": "soon"}, "play: 'value' is a simulated time"),
    ({"op": "lecture", "value": 1}, "lecture: 'value' is true"),
    ({"op": "script", "value": 1}, "takes no 'value'"),
    ({}, "'op' is missing"),
])
def test_control_refusals(connect, payload, words):
    client = connect()
    made = create(client)
    answer = client.emit("control", {"session": made["session"], "token": made["token"],
                                     **payload}, callback=True)
    assert answer["ok"] is False and words in answer["error"], answer


def test_watcher_is_refused_control_and_actions(connect):
    owner, watcher = connect(), connect()
    made = create(owner)
    watcher.emit("join", {"session": made["session"]}, callback=True)
    for event, extra in [("control", {"op": "play"}),
                         ("act", {"action": {"type": "crash", "node": "n1"}})]:
        answer = watcher.emit(event, {"session": made["session"], **extra}, callback=True)
        assert answer["ok"] is False and "read-only" in answer["error"]
        answer = watcher.emit(event, {"session": made["session"], "token": "guess", **extra},
                              callback=True)
        assert answer["ok"] is False and "wrong token" in answer["error"]


def test_act_applies_records_and_shows_in_frames(connect, app):
    owner, watcher = connect(), connect()
    made = create(owner)
    ids = {"session": made["session"], "token": made["token"]}
    owner.emit("join", ids, callback=True)
    watcher.emit("join", {"session": made["session"]}, callback=True)
    owner.emit("control", {**ids, "op": "play"}, callback=True)
    time.sleep(0.3)
    answer = owner.emit("act", {**ids, "action": {"type": "crash", "node": "n2"}},
                        callback=True)
    assert answer["ok"] and answer["at_ms"] > 0
    assert answer["share_url"] != made["share_url"]
    got = wait_for(watcher, lambda f: status_of(f, "n2") == "crashed")
    crash_events = [e for f in got for e in f.get("events", ()) if e[2] == "command"]
    assert crash_events[-1][5] == {"type": "crash", "node": "n2"}
    # The share link replays the crash at the moment it happened.
    from playground.scenarios import share
    replay = share.decode(answer["share_url"])
    assert replay["commands"][-1] == {"at_ms": answer["at_ms"], "type": "crash", "node": "n2"}
    assert owner.emit("act", {**ids, "action": {"type": "poke", "node": "n1", "times": 2}},
                      callback=True)["ok"]


def test_act_behind_the_frontier_forks_first(connect, app):
    client = connect()
    made = create(client, toy_scenario(commands=[{"at_ms": 3000, "type": "crash",
                                                  "node": "n5"}]))
    ids = {"session": made["session"], "token": made["token"]}
    client.emit("join", ids, callback=True)
    client.emit("control", {**ids, "op": "speed", "value": "max"}, callback=True)
    client.emit("control", {**ids, "op": "play"}, callback=True)
    wait_for(client, lambda f: f["t_ms"] >= 4000)
    client.emit("control", {**ids, "op": "pause"}, callback=True)
    client.emit("control", {**ids, "op": "seek", "value": 1000}, callback=True)
    answer = client.emit("act", {**ids, "action": {"type": "pause", "node": "n1"}},
                         callback=True)
    assert answer["ok"] and answer["at_ms"] == 1000.0
    session = app.extensions["playground"].get(made["session"])
    assert session.history.frontier == 1_000_000
    from playground.scenarios import share
    commands = share.decode(answer["share_url"])["commands"]
    # The crash at 3 s belonged to the future that the fork dropped.
    assert commands == [{"at_ms": 1000.0, "type": "pause", "node": "n1"}]


@pytest.mark.parametrize("action,words", [
    ({"type": "crash", "node": "n9"}, "unknown node 'n9'"),
    ({"type": "crash"}, "'node' is a required property"),
    ({"type": "explode", "node": "n1"}, "unknown command 'explode'"),
    ({"type": "cut", "from": "n1", "to": "n1"}, "two different nodes"),
    ({"type": "skew", "node": "n1", "offset_ms": "lots"}, "offset_ms"),
    ({"type": "crash", "node": "n1", "at_ms": 5}, "live actions happen now"),
    ({"type": ["crash"]}, "'type' is a string"),
])
def test_act_refusals(connect, action, words):
    client = connect()
    made = create(client)
    answer = client.emit("act", {"session": made["session"], "token": made["token"],
                                 "action": action}, callback=True)
    assert answer["ok"] is False and words in answer["error"], answer


def test_act_rate_limit(connect, app):
    client = connect()
    made = create(client)
    ids = {"session": made["session"], "token": made["token"]}
    answers = [client.emit("act", {**ids, "action": {"type": "poke", "node": "n1"}},
                           callback=True) for _ in range(app.config["ACTIONS_PER_SECOND"] + 5)]
    refused = [a for a in answers if not a["ok"]]
    assert refused and "rate limit" in refused[0]["error"]
    assert answers[0]["ok"]


def test_malformed_payloads_of_every_event(connect, app):
    client = connect()
    big = {"session": "x" * 30, "pad": "y" * (app.config["MAX_PAYLOAD_BYTES"] + 10)}
    for event in ("create", "join", "leave", "control", "act", "inspect"):
        for payload in (None, [], "text", 7, True):
            answer = client.emit(event, payload, callback=True)
            assert answer["ok"] is False and "takes one JSON object" in answer["error"]
        answer = client.emit(event, big, callback=True)
        assert answer["ok"] is False and "limit" in answer["error"], answer
        answer = client.emit(event, {"a": 1}, {"b": 2}, callback=True)
        assert answer["ok"] is False and "one JSON object" in answer["error"]
    assert client.emit("nonsense", {}, callback=True)["ok"] is False
    assert client.is_connected()


def test_leave_stops_frames(connect):
    client = connect()
    made = create(client)
    ids = {"session": made["session"], "token": made["token"]}
    client.emit("join", ids, callback=True)
    client.emit("control", {**ids, "op": "play"}, callback=True)
    wait_for(client, lambda f: not f.get("full"))
    assert client.emit("leave", {"session": made["session"]}, callback=True) == {"ok": True}
    time.sleep(0.1)
    frames(client)
    time.sleep(0.3)
    assert frames(client) == []
    again = client.emit("leave", {"session": made["session"]}, callback=True)
    assert again["ok"] is False and "does not watch" in again["error"]


def test_unwatched_session_does_not_run(connect, app):
    client = connect()
    made = create(client)
    ids = {"session": made["session"], "token": made["token"]}
    client.emit("control", {**ids, "op": "play"}, callback=True)
    time.sleep(0.4)
    session = app.extensions["playground"].get(made["session"])
    assert session.sim.now == 0  # playing, but nobody watches: no simulation, no frames
    client.emit("join", ids, callback=True)
    wait_for(client, lambda f: f["t_ms"] > 100)


def test_inspect_gives_a_message_body_to_any_client(connect):
    owner, watcher = connect(), connect()
    made = create(owner)
    ids = {"session": made["session"], "token": made["token"]}
    owner.emit("join", ids, callback=True)
    watcher.emit("join", {"session": made["session"]}, callback=True)
    owner.emit("control", {**ids, "op": "play"}, callback=True)
    got = wait_for(watcher, lambda f: any(e[2] == "send" for e in f.get("events", ())))
    send = next(e for f in got for e in f.get("events", ()) if e[2] == "send")
    answer = watcher.emit("inspect", {"session": made["session"], "event": send[0]},
                          callback=True)
    assert answer["ok"] and answer["record"]["msg"] == "Ping"
    assert answer["record"]["body"] == {"seq": answer["record"]["body"]["seq"]}
    for bad, words in [(10**9, "not in the trace"), (-1, "not in the trace"),
                       ("3", "'event' must be")]:
        answer = watcher.emit("inspect", {"session": made["session"], "event": bad},
                              callback=True)
        assert answer["ok"] is False and words in answer["error"]


def test_the_share_link_after_actions_is_the_validated_recording(connect, app):
    from playground.scenarios import recorded, share

    client = connect()
    made = create(client, toy_scenario(commands=[{"at_ms": 5000, "type": "crash", "node": "n5"},
                                                 {"at_ms": 0, "type": "poke", "node": "n2"}],
                                       narrative=[{"at_ms": 10, "text": "Go."}]))
    ids = {"session": made["session"], "token": made["token"]}
    client.emit("control", {**ids, "op": "step", "value": 250}, callback=True)
    answers = [client.emit("act", {**ids, "action": action}, callback=True) for action in
               ({"type": "cut", "from": "n1", "to": "n2", "oneway": True},
                {"type": "skew", "node": "n3", "offset_ms": -20.5},
                {"type": "poke", "node": "n1", "times": 3})]
    assert all(a["ok"] for a in answers), answers
    session = app.extensions["playground"].get(made["session"])
    expected = share.encode(recorded(session.scenario, session.sim))
    assert answers[-1]["share_url"] == "/s/" + expected
    replay = share.decode(expected)
    # The first action left the script: the scripted crash at 5 s is gone, and the
    # recording says when the run diverged.
    assert [c["type"] for c in replay["commands"]] == ["poke", "cut", "skew", "poke"]
    assert replay["diverged_ms"] == 250


def test_a_recording_too_long_for_a_share_link_is_refused(connect, app, monkeypatch):
    from playground.scenarios import share

    client = connect()
    made = create(client)
    ids = {"session": made["session"], "token": made["token"]}
    monkeypatch.setattr(share, "MAX_SHARE_CHARS", len(made["share_url"]))
    answer = client.emit("act", {**ids, "action": {"type": "crash", "node": "n1"}},
                         callback=True)
    assert answer["ok"] is False and "no longer fits in a share link" in answer["error"]
    session = app.extensions["playground"].get(made["session"])
    assert session.sim.timeline() == []  # nothing else changed


def test_numbers_that_are_not_finite_are_refused(connect, app):
    client = connect()
    made = create(client)
    ids = {"session": made["session"], "token": made["token"]}
    nan, inf = float("nan"), float("inf")
    for event, payload in [("control", {**ids, "op": "seek", "value": nan}),
                           ("control", {**ids, "op": "step", "value": inf}),
                           ("act", {**ids, "action": {"type": "drift", "node": "n1",
                                                      "rate": nan}}),
                           ("act", {**ids, "action": {"type": "skew", "node": "n1",
                                                      "offset_ms": -inf}}),
                           ("create", {"scenario": toy_scenario(network={"loss": nan})})]:
        answer = client.emit(event, payload, callback=True)
        assert answer["ok"] is False and "not a finite number" in answer["error"], (payload, answer)
    session = app.extensions["playground"].get(made["session"])
    assert session.failure is None
    assert client.emit("control", {**ids, "op": "play"}, callback=True)["ok"]


def test_what_parsers_accept_but_no_request_holds_is_refused_clearly(connect, app):
    from tests.engine.helpers import share_of

    client = connect()
    made = create(client)
    ids = {"session": made["session"], "token": made["token"]}
    deep = {"a": 1}
    for _ in range(40):
        deep = {"a": deep}
    for event, payload, words in [
        ("act", {**ids, "action": deep}, "nested more than 32 levels deep"),
        ("create", {"scenario": toy_scenario(title="\ud800")},
         "scenario.title: the string holds a lone surrogate"),
        ("create", {"scenario": "\udc80"}, "lone surrogate"),
        ("join", {"session": made["session"], "token": "é"}, "wrong token"),
        ("control", {**ids, "token": "\u00e9" * 30, "op": "play"}, "wrong token"),
        ("act", {**ids, "token": "tok en", "action": {"type": "crash", "node": "n1"}},
         "wrong token"),
        ("create", {"scenario": share_of(b"[" * 10_000 + b"]" * 10_000)},
         "nests more than 32 levels deep"),
        ("create", {"scenario": share_of(b'{"model": "toy", "seed": 1, "title": "\\ud800"}')},
         "title: the string holds a lone surrogate"),
    ]:
        answer = client.emit(event, payload, callback=True)
        assert answer["ok"] is False and words in answer["error"], (event, answer)
        assert "server failed" not in answer["error"]
    assert client.emit("control", {**ids, "op": "play"}, callback=True)["ok"]
