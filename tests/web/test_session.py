"""Sessions: pacing, captions that pause, the end of a run, failures kept to one session,
expiry and caps."""

from __future__ import annotations

import time

from tests.web.conftest import collect, frames, toy_scenario, wait_for


def start(client, scenario=None, speed=None):
    made = client.emit("create", {"scenario": scenario or toy_scenario()}, callback=True)
    ids = {"session": made["session"], "token": made["token"]}
    client.emit("join", ids, callback=True)
    if speed is not None:
        assert client.emit("control", {**ids, "op": "speed", "value": speed},
                           callback=True)["ok"]
    assert client.emit("control", {**ids, "op": "play"}, callback=True)["ok"]
    return made, ids


def test_speed_scales_simulated_time(connect):
    client = connect()
    started = time.monotonic()
    start(client, speed=10)
    got = wait_for(client, lambda f: f["t_ms"] >= 3000)
    wall_ms = (time.monotonic() - started) * 1000
    # Ten simulated seconds per wall second at most, whatever the machine's load.
    assert got[-1]["t_ms"] <= 10 * wall_ms + 400, (got[-1]["t_ms"], wall_ms)
    assert [f["speed"] for f in got if "speed" in f][-1] == 10


def test_caption_with_pause_stops_the_session_exactly_there(connect, app):
    client = connect()
    scenario = toy_scenario(narrative=[{"at_ms": 300, "text": "Watch n1 now.", "pause": True},
                                       {"at_ms": 100, "text": "It begins."}])
    made, ids = start(client, scenario, speed=2)
    got = wait_for(client, lambda f: f.get("playing") is False and f["t_ms"] == 300.0)
    captions = [f["caption"] for f in got if f.get("caption")]
    assert captions[0]["text"] == "It begins." and captions[-1]["text"] == "Watch n1 now."
    time.sleep(0.2)
    assert app.extensions["playground"].get(made["session"]).sim.now == 300_000
    client.emit("control", {**ids, "op": "play"}, callback=True)
    wait_for(client, lambda f: f["t_ms"] > 300.0)  # playing on does not stop again


def test_run_stops_at_its_end_and_checks_final_properties(connect, app):
    client = connect()
    made, ids = start(client, toy_scenario(duration_ms=1500), speed="max")
    got = wait_for(client, lambda f: f["t_ms"] == 1500.0 and f.get("playing") is False)
    assert got[-1]["frontier_ms"] == 1500.0
    answer = client.emit("control", {**ids, "op": "play"}, callback=True)
    assert answer["ok"] is False and "reached its end" in answer["error"]
    assert app.extensions["playground"].get(made["session"]).finished


def test_a_failing_simulation_is_reported_and_other_sessions_go_on(connect, app):
    broken_client, healthy_client = connect(), connect()
    broken, broken_ids = start(broken_client)
    healthy, _ = start(healthy_client)
    session = app.extensions["playground"].get(broken["session"])

    def explode(state, name, ctx):
        raise RuntimeError("the model tripped")

    session.sim.model.on_timer = explode
    deadline = time.monotonic() + 5
    failures = []
    while not failures and time.monotonic() < deadline:
        failures = [p["args"][0] for p in broken_client.get_received()
                    if p["name"] == "failure"]
        time.sleep(0.05)
    assert failures, "no failure reported"
    failure = failures[0]
    assert "RuntimeError: the model tripped" in failure["error"]
    assert failure["replay_url"].startswith("/s/1.")
    answer = broken_client.emit("control", {**broken_ids, "op": "play"}, callback=True)
    assert answer["ok"] is False and "failed" in answer["error"]
    assert failure["replay_url"] in answer["error"]
    frames(healthy_client)
    collect(healthy_client, 5)  # the other session keeps streaming


def test_session_cap(connect, app):
    app.config["MAX_SESSIONS"] = 2
    client = connect()
    for _ in range(2):
        assert client.emit("create", {"scenario": toy_scenario()}, callback=True)["ok"]
    answer = client.emit("create", {"scenario": toy_scenario()}, callback=True)
    assert answer["ok"] is False and "limit" in answer["error"]


def test_create_rate_limit(connect, app):
    app.config["CREATES_PER_SECOND"] = 2
    client = connect()
    answers = [client.emit("create", {"scenario": toy_scenario()}, callback=True)
               for _ in range(4)]
    assert [a["ok"] for a in answers[:2]] == [True, True]
    assert "rate limit" in answers[-1]["error"]


def test_idle_sessions_expire(connect, app):
    app.config["SESSION_IDLE_SECONDS"] = 0.5
    client = connect()
    made = client.emit("create", {"scenario": toy_scenario()}, callback=True)
    registry = app.extensions["playground"]
    deadline = time.monotonic() + 5
    while registry.get(made["session"]) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert registry.get(made["session"]) is None
    answer = client.emit("join", {"session": made["session"]}, callback=True)
    assert answer["ok"] is False and "no session" in answer["error"]


def test_watched_sessions_do_not_expire(connect, app):
    app.config["SESSION_IDLE_SECONDS"] = 0.5
    client = connect()
    made = client.emit("create", {"scenario": toy_scenario()}, callback=True)
    client.emit("join", {"session": made["session"]}, callback=True)
    time.sleep(2.0)
    assert app.extensions["playground"].get(made["session"]) is not None


def test_a_closed_session_is_freed(connect, app):
    import gc
    import weakref

    client = connect()
    made, ids = start(client, speed="max")
    wait_for(client, lambda f: f["t_ms"] >= 500)
    registry = app.extensions["playground"]
    gc.freeze()  # as the upkeep loop does every few seconds
    ref = weakref.ref(registry.get(made["session"]))
    sim_ref = weakref.ref(ref().sim)
    client.emit("leave", {"session": made["session"]}, callback=True)
    registry.close(made["session"])
    assert sim_ref() is None, _holders(sim_ref())  # no collection but the registry's own
    deadline = time.monotonic() + 5  # the runner's thread ends right after it stopped
    while ref() is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ref() is None


class _Cycle:
    def __init__(self):
        self.me = self


def test_garbage_frozen_while_a_session_plays_is_collected_by_the_upkeep(connect, app):
    """A reference cycle still in use when the runner freezes the heap (as a Socket.IO
    packet in flight is), then dropped, is garbage in the frozen heap, where no ordinary
    collection reaches it; the upkeep's periodic full collection (COLLECT_EVERY) frees it
    although no session closes."""
    import gc
    import weakref

    app.config["COLLECT_EVERY"] = 1
    client = connect()
    made, ids = start(client)
    cycle = _Cycle()
    ref, ident = weakref.ref(cycle), id(cycle)
    deadline = time.monotonic() + 30  # a bound on liveness, not a speed
    while any(id(o) == ident for o in gc.get_objects()):  # not frozen yet
        assert time.monotonic() < deadline, "the runner never froze the heap while playing"
        frames(client)
        time.sleep(0.05)
    del cycle  # garbage now, in the frozen heap
    while ref() is not None and time.monotonic() < deadline:
        frames(client)
        time.sleep(0.05)
    assert ref() is None
    assert app.extensions["playground"].get(made["session"]) is not None  # it played on


def test_a_freeze_first_collects_the_garbage_made_since_the_last(monkeypatch):
    """Cycles dropped between two freezes go at the next freeze instead of being frozen
    with the heap (where only a full collection would reach them)."""
    import gc
    import weakref

    from playground.web import session

    monkeypatch.setattr(session, "_frozen_at", float("-inf"))  # the next call freezes
    was_enabled = gc.isenabled()
    gc.disable()  # no ordinary collection may free it first
    try:
        cycle = _Cycle()
        ref = weakref.ref(cycle)
        del cycle
        session.freeze_heap()
        assert ref() is None
    finally:
        if was_enabled:
            gc.enable()


def _holders(obj) -> list:
    import gc
    return [(type(r).__name__, str(r)[:120]) for r in gc.get_referrers(obj)
            if type(r).__name__ != "Context"]
