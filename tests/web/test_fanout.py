"""Frame delivery: a client that falls behind skips stale frames and catches up with a
full one; nobody else waits for it."""

from __future__ import annotations

import json
import time

from playground import socketio
from playground.web import serializer
from playground.web import fanout
from playground.web import session as session_module
from tests.web.conftest import collect, frames, toy_scenario, wait_for


def test_a_slow_client_skips_stale_frames_and_resumes_with_a_full_one(connect, app,
                                                                      monkeypatch):
    owner, fast, slow = connect(), connect(), connect()
    made = owner.emit("create", {"scenario": toy_scenario()}, callback=True)
    ids = {"session": made["session"], "token": made["token"]}
    for client in (fast, slow):
        client.emit("join", {"session": made["session"]}, callback=True)
    manager = socketio.server.manager
    behind = set()
    monkeypatch.setattr(manager, "_behind", lambda eio_sid: eio_sid in behind)
    owner.emit("control", {**ids, "op": "play"}, callback=True)
    wait_for(slow, lambda f: not f.get("full"))
    frames(fast)

    behind.add(slow.eio_sid)  # its transport queue is backed up
    time.sleep(0.2)
    frames(slow)
    frames(fast)
    during = collect(fast, 8)  # the others keep getting every frame
    assert frames(slow) == []  # nothing is piled onto a client that is behind
    assert [f["seq"] for f in during] == list(range(during[0]["seq"],
                                                    during[0]["seq"] + len(during)))

    behind.clear()
    got = wait_for(slow, lambda f: True)
    assert got[0].get("full"), "a client that skipped frames resumes with a full frame"
    newest = frames(fast)
    assert got[0]["seq"] >= during[-1]["seq"]
    following = wait_for(slow, lambda f: not f.get("full"))
    assert following[-1]["seq"] > got[0]["seq"]
    assert newest  # the fast client never stopped
    assert manager.stats["skipped"] > 0


def test_the_catch_up_frame_equals_the_merged_picture(connect, app, monkeypatch):
    owner, slow = connect(), connect()
    made = owner.emit("create", {"scenario": toy_scenario()}, callback=True)
    ids = {"session": made["session"], "token": made["token"]}
    owner.emit("join", ids, callback=True)
    slow.emit("join", {"session": made["session"]}, callback=True)
    manager = socketio.server.manager
    behind = {slow.eio_sid}
    monkeypatch.setattr(manager, "_behind", lambda eio_sid: eio_sid in behind)
    owner.emit("control", {**ids, "op": "play"}, callback=True)
    time.sleep(0.5)
    owner.emit("control", {**ids, "op": "pause"}, callback=True)
    time.sleep(0.2)
    picture = None
    for frame in frames(owner):
        picture = serializer.merge(picture, frame)
    behind.clear()
    owner.emit("control", {**ids, "op": "speed", "value": 2}, callback=True)  # one more frame
    caught = wait_for(slow, lambda f: f.get("full"))[0]
    later = wait_for(owner, lambda f: True)[-1]
    picture = serializer.merge(picture, later)
    expected = serializer.full_from(picture)
    for key in ("t_ms", "nodes", "messages", "metrics", "violations", "links"):
        assert caught[key] == expected[key], key
    assert caught["events"] == expected["events"]


def test_frames_are_not_sent_to_clients_that_left(connect, app):
    owner = connect()
    made = owner.emit("create", {"scenario": toy_scenario()}, callback=True)
    ids = {"session": made["session"], "token": made["token"]}
    owner.emit("join", ids, callback=True)
    owner.emit("control", {**ids, "op": "play"}, callback=True)
    wait_for(owner, lambda f: not f.get("full"))
    owner.disconnect()
    time.sleep(0.3)
    session = app.extensions["playground"].get(made["session"])
    t = session.sim.now
    time.sleep(0.3)
    assert session.sim.now == t  # nobody watches: the run waits


def test_packets_are_written_by_orjson_and_read_back_as_the_same_values():
    from playground.web.fanout import JsonPacket, PacketJson

    assert JsonPacket.json is PacketJson
    frame = {"seq": 3, "t_ms": 1.5e-7, "caption": {"text": "n1 → n2 µs"}, "nodes": {
        "n1": {"timers": {"election": 1e16}, "summary": {"log": [[1, "k", 2]]}}},
        "events": [[0, 10, "start", "n1", -1]], "by_term": {1: "n2"}, "gone": None}
    text = PacketJson.dumps(["frame", frame], separators=(",", ":"))
    assert json.loads(text) == json.loads(json.dumps(["frame", frame]))
    assert "→" in text  # not escaped: the same string, fewer bytes
    # What orjson refuses is written by the standard library.
    for value in (2**70, "lone \ud800 surrogate"):
        assert PacketJson.dumps({"x": value}) == json.dumps({"x": value}, separators=(",", ":"))


def test_an_answer_waiting_in_its_clients_queue_is_known_until_taken(connect, app,
                                                                     monkeypatch):
    owner, other = connect(), connect()
    manager = socketio.server.manager
    queued = {owner.eio_sid: 0, other.eio_sid: 0}

    class Socket:  # an Engine.IO socket whose queue holds what ``queued`` says
        def __init__(self, eio_sid):
            self.queue = type("Queue", (), {"qsize": lambda _: queued[eio_sid]})()

    for client in (owner, other):
        monkeypatch.setitem(socketio.server.eio.sockets, client.eio_sid,
                            Socket(client.eio_sid))
    made = owner.emit("create", {"scenario": toy_scenario()}, callback=True)
    ids = {"session": made["session"], "token": made["token"]}
    assert not manager.answer_waiting()  # its answer has left: nothing waits
    queued[other.eio_sid] = 1
    assert not manager.answer_waiting()  # a full queue, but that client asked nothing
    queued[owner.eio_sid] = 1
    assert owner.emit("act", {**ids, "action": {"type": "crash", "node": "n2"}},
                      callback=True)["ok"]
    assert manager.answer_waiting()  # the answer to that action waits in its queue
    queued[owner.eio_sid] = 0  # its writer took it
    assert not manager.answer_waiting()

    # An action on its way, from the moment its packet arrives (the Guard tells the
    # manager before the packet is decoded), for ASK_PATIENCE at most.
    manager.asked(other.eio_sid, '2["join",{"session":"x"}]')
    assert not manager.answer_waiting()  # a join is not one of them
    manager.asked(other.eio_sid, '27["act",{"session":"x"}]')
    assert manager.answer_waiting()
    monkeypatch.setattr(fanout, "ASK_PATIENCE", 0.0)
    assert not manager.answer_waiting()  # its handler never said it was done: let go

    queued[owner.eio_sid] = 1
    assert owner.emit("control", {**ids, "op": "pause"}, callback=True)["ok"]
    assert manager.answer_waiting()
    owner.disconnect()  # a client that leaves with its answer queued is forgotten
    del socketio.server.eio.sockets[owner.eio_sid]  # as Engine.IO does when it goes
    assert not manager.answer_waiting() and not manager._answers


def test_runners_let_an_answer_go_first_for_a_few_turns_then_tick(connect, app):
    owner = connect()
    made = owner.emit("create", {"scenario": toy_scenario()}, callback=True)
    owner.emit("join", {"session": made["session"]}, callback=True)
    session = app.extensions["playground"].sessions[made["session"]]
    asked = []
    session.answer_waiting = lambda: asked.append(1) or True  # an answer never leaves
    owner.emit("control", {"session": made["session"], "token": made["token"],
                           "op": "play"}, callback=True)
    frames(owner)
    got = collect(owner, 5)
    assert [f["seq"] for f in got] == list(range(got[0]["seq"], got[0]["seq"] + 5))
    assert len(asked) >= 5 * session_module.EXPEDITE_TURNS  # it let the loop turn each time
    session_module._slicing += 1  # long work in slices elsewhere: no turns for answers
    try:
        frames(owner)
        before = len(asked)
        collect(owner, 5)
        assert len(asked) == before
    finally:
        session_module._slicing -= 1
