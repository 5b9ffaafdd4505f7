"""Several server processes sharing one audience through Redis."""

from __future__ import annotations

import json
import re
import shutil
import time

import pytest
import requests

from playground.scenarios import presets, run, share
from tests.web.conftest import status_of
from tests.web.serve import LOCAL_LIMITS, Client, start_redis, start_server, stop

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(shutil.which("redis-server") is None,
                                 reason="needs redis-server (Debian package redis-server)")]

SCENARIO = {"model": "toy", "seed": 3, "nodes": 5, "duration_ms": 120_000}


@pytest.fixture(scope="module")
def redis_url():
    proc, url = start_redis()
    try:
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def two_servers(redis_url, tmp_path_factory):
    logs, procs, urls = [], [], []
    env = {**LOCAL_LIMITS, "MESSAGE_QUEUE": redis_url,
           "PLAYGROUND_EXTRA_MODELS": "tests.engine.toy"}
    try:
        for name in ("a", "b"):
            log = open(tmp_path_factory.mktemp("cluster") / f"{name}.log", "w+")
            logs.append(log)
            proc, url = start_server(env=env, log=log)
            procs.append(proc)
            urls.append(url)
        yield urls
    finally:
        for proc in procs:
            stop(proc)
        for log in logs:
            log.seek(0)
            text = log.read()
            log.close()
            assert "Traceback" not in text, text[-4000:]


def test_a_watcher_on_another_process_follows_the_session(two_servers):
    url_a, url_b = two_servers
    lecturer, student = Client(url_a), Client(url_b)
    try:
        made = lecturer.call("create", {"scenario": SCENARIO})
        assert made["ok"], made
        ids = {"session": made["session"], "token": made["token"]}
        assert lecturer.call("join", ids)["role"] == "control"
        joined = student.call("join", {"session": made["session"]})
        assert joined["ok"] and joined["role"] == "watch", joined
        assert joined["scenario"]["model"] == "toy"
        first = student.wait_for(lambda f: f.get("full"))
        assert len([f for f in first if f.get("full")][0]["nodes"]) == 5

        assert lecturer.call("control", {**ids, "op": "play"})["ok"]
        student.take()
        streamed = student.collect(12)
        seqs = [f["seq"] for f in streamed]
        assert seqs == sorted(seqs)

        assert lecturer.call("act", {**ids, "action": {"type": "crash", "node": "n4"}})["ok"]
        student.wait_for(lambda f: status_of(f, "n4") == "crashed")

        # Control reaching the wrong process is refused with a clear error.
        refused = student.call("control", {**ids, "op": "pause"})
        assert refused["ok"] is False and "another server process" in refused["error"]
        with_token = student.call("join", ids)
        assert with_token["ok"] and with_token["role"] == "watch" and "note" in with_token
    finally:
        lecturer.close()
        student.close()


def test_a_late_watcher_on_another_process_gets_a_full_frame_of_a_paused_session(two_servers):
    url_a, url_b = two_servers
    lecturer = Client(url_a)
    students = []
    try:
        made = lecturer.call("create", {"scenario": SCENARIO})
        assert made["ok"], made
        ids = {"session": made["session"], "token": made["token"]}
        lecturer.call("join", ids)
        lecturer.call("control", {**ids, "op": "step", "value": 750})
        lecturer.wait_for(lambda f: f["t_ms"] == 750.0)
        for _ in range(3):  # the first asks the session for a frame; the others get the mirror
            student = Client(url_b)
            students.append(student)
            assert student.call("join", {"session": made["session"]})["ok"]
            got = student.wait_for(lambda f: f.get("full") and f["t_ms"] == 750.0, timeout=5)
            assert got[0].get("full")
    finally:
        lecturer.close()
        for student in students:
            student.close()


def test_the_session_plays_on_for_watchers_elsewhere_when_its_own_process_has_none(
        two_servers):
    url_a, url_b = two_servers
    lecturer, student = Client(url_a), Client(url_b)
    try:
        made = lecturer.call("create", {"scenario": SCENARIO})
        assert made["ok"], made
        ids = {"session": made["session"], "token": made["token"]}
        lecturer.call("join", ids)
        assert student.call("join", {"session": made["session"]})["ok"]
        lecturer.call("control", {**ids, "op": "play"})
        student.wait_for(lambda f: not f.get("full"))
        assert lecturer.call("leave", {"session": made["session"]})["ok"]
        student.take()
        got = student.collect(12)  # the owner counts the watchers of process B
        assert got[-1]["t_ms"] > got[0]["t_ms"]
        assert student.call("leave", {"session": made["session"]})["ok"]
        time.sleep(0.5)
        lecturer.take()
        assert lecturer.call("join", ids)["ok"]  # the lecturer comes back: a full frame
        first = lecturer.wait_for(lambda f: f.get("full"))
        paused_at = [f for f in first if f.get("full")][0]["t_ms"]
        assert paused_at >= got[-1]["t_ms"]
    finally:
        lecturer.close()
        student.close()


def test_a_short_link_made_on_one_process_opens_on_the_other(two_servers):
    import requests

    url_a, url_b = two_servers
    long = share.encode(presets()["raft-election"])
    made = requests.post(f"{url_a}/api/links", json={"share": long}, timeout=10).json()
    page = requests.get(url_b + made["url"], timeout=10)
    assert page.status_code == 200 and long in page.text
    assert replayed_hash(page.text) == run(presets()["raft-election"])[1]["trace_sha256"]
    assert requests.get(f"{url_b}/s/dddddddddddd", timeout=10).status_code == 404


def replayed_hash(page: str) -> str:
    """The trace hash of the run a playground page boots (its share string, replayed)."""
    boot = json.loads(re.search(r'<script type="application/json" id="boot">(.*?)</script>',
                                page, re.S).group(1))
    return run(share.decode(boot["share"]))[1]["trace_sha256"]


def test_the_embedded_store_resolves_a_short_link_after_a_restart(tmp_path):
    import requests

    long = share.encode(presets()["lease-drift-margin"])
    env = {"PLAYGROUND_DATA_DIR": str(tmp_path)}
    proc, url = start_server(env=env)
    try:
        made = requests.post(f"{url}/api/links", json={"share": long}, timeout=10).json()
    finally:
        stop(proc)
    proc, url = start_server(env=env)
    try:
        page = requests.get(url + made["url"], timeout=10)
        assert page.status_code == 200 and long in page.text
        assert replayed_hash(page.text) == \
            run(presets()["lease-drift-margin"])[1]["trace_sha256"]
    finally:
        stop(proc)


def test_a_room_opened_on_one_process_is_followed_from_the_other(two_servers):
    url_a, url_b = two_servers
    presenter, member = Client(url_a), Client(url_b)
    try:
        made = presenter.call("create", {"scenario": SCENARIO})
        opened = presenter.call("room_open", {})
        ids = {"room": opened["room"], "token": opened["token"]}
        assert presenter.call("room_set", {**ids, "session": made["session"],
                                           "session_token": made["token"]})["ok"]
        joined = member.call("room_join", {"room": opened["room"]})
        assert joined["session"] == made["session"], joined
        moved = []
        member.sio.on("room", moved.append)
        other = presenter.call("create", {"scenario": {**SCENARIO, "seed": 4}})
        assert presenter.call("room_set", {**ids, "session": other["session"],
                                           "session_token": other["token"]})["ok"]
        deadline = time.monotonic() + 5
        while not moved and time.monotonic() < deadline:
            time.sleep(0.02)
        assert moved and moved[0]["session"] == other["session"]
        assert member.call("join", {"session": other["session"]})["role"] == "watch"
        member.wait_for(lambda f: f.get("full") and f["session"] == other["session"])
        # answers counted in one tally, whichever process they reach
        asked = presenter.call("ask", {**ids, "question": "Which first?"})
        assert asked["ok"], asked
        answer = member.call("answer", {"room": opened["room"], "member": joined["member"],
                                        "choice": "n2"})
        assert answer["ok"], answer
        again = Client(url_a)
        try:
            refused = again.call("answer", {"room": opened["room"], "member": joined["member"],
                                            "choice": "n3"})
            assert "already" in refused["error"]
        finally:
            again.close()
        revealed = presenter.call("reveal", ids)
        assert revealed["tally"]["counts"][1] == 1 and revealed["tally"]["total"] == 1
    finally:
        presenter.close()
        member.close()


def test_a_killed_owner_is_taken_over_and_the_trace_is_the_uninterrupted_one(redis_url,
                                                                              tmp_path):
    """SIGKILL the process that runs a playing session: the other process rebuilds it
    from its record once the owner stops beating, its watcher gets frames again without
    doing anything, the presenter's token controls it there, and its trace is the run's
    own, record for record."""
    import signal

    from playground.engine.trace import record_json
    from playground.scenarios import build

    env = {**LOCAL_LIMITS, "MESSAGE_QUEUE": redis_url,
           "PLAYGROUND_EXTRA_MODELS": "tests.engine.toy"}
    logs = [open(tmp_path / f"{name}.log", "w+") for name in ("a", "b")]
    (proc_a, url_a), (proc_b, url_b) = [start_server(env=env, log=log) for log in logs]
    lecturer, student = Client(url_a), Client(url_b)
    presenter = None
    try:
        made = lecturer.call("create", {"scenario": SCENARIO})
        assert made["ok"], made
        ids = {"session": made["session"], "token": made["token"]}
        lecturer.call("join", ids)
        assert student.call("join", {"session": made["session"]})["ok"]
        lecturer.call("control", {**ids, "op": "speed", "value": 5})
        lecturer.call("control", {**ids, "op": "play"})
        acted = lecturer.call("act", {**ids, "action": {"type": "crash", "node": "n2"}})
        assert acted["ok"]
        student.wait_for(lambda f: f["t_ms"] > acted["at_ms"] + 200)
        proc_a.send_signal(signal.SIGKILL)
        proc_a.wait(10)
        killed_at = max(f["t_ms"] for f in student.take() or [{"t_ms": 0}])
        # Frames stop, then the other process takes over and they come again.
        resumed = student.wait_for(lambda f: f["t_ms"] > killed_at + 500, timeout=40)
        assert any(f.get("full") for f in resumed)
        presenter = Client(url_b)
        assert presenter.call("join", ids)["role"] == "control"
        paused = presenter.call("control", {**ids, "op": "pause"})
        assert paused["ok"], paused
        trace = requests.get(f"{url_b}/api/sessions/{made['session']}/trace.json",
                             params={"token": made["token"]}, timeout=20).json()
        sim = build(share.decode(acted["share_url"]))
        sim.run_until(int(round(paused["t_ms"] * 1000)))
        assert trace == json.loads(json.dumps([record_json(i, r)
                                               for i, r in enumerate(sim.trace)]))
    finally:
        for client in (lecturer, student, presenter):
            if client is not None:
                client.close()
        stop(proc_b)
        stop(proc_a)
        for log in logs:
            log.seek(0)
            text = log.read()
            log.close()
            assert "Traceback" not in text, text[-4000:]


def test_an_owner_given_up_for_dead_while_stalled_stops_its_copy_and_its_clients_move(
        redis_url, tmp_path):
    """SIGSTOP the process that runs a playing session past HOST_TTL: the other process,
    whose student watches, takes it over. SIGCONT it: at once it sees that its session
    is the other's now, stops its copy and tells its own clients; its presenter joins
    again and watches the session on its owner (control goes there), with frames from
    it, and the record stays the new owner's."""
    import signal

    env = {**LOCAL_LIMITS, "MESSAGE_QUEUE": redis_url,
           "PLAYGROUND_EXTRA_MODELS": "tests.engine.toy"}
    logs = [open(tmp_path / f"{name}.log", "w+") for name in ("a", "b")]
    (proc_a, url_a), (proc_b, url_b) = [start_server(env=env, log=log) for log in logs]
    lecturer, student = Client(url_a), Client(url_b)
    presenter = None
    moved = []
    lecturer.sio.on("resumed", moved.append)
    try:
        made = lecturer.call("create", {"scenario": SCENARIO})
        ids = {"session": made["session"], "token": made["token"]}
        assert lecturer.call("join", ids)["role"] == "control"
        assert student.call("join", {"session": made["session"]})["ok"]
        lecturer.call("control", {**ids, "op": "play"})
        student.wait_for(lambda f: f["t_ms"] > 200)
        proc_a.send_signal(signal.SIGSTOP)
        try:
            student.take()
            student.wait_for(lambda f: f.get("full"), timeout=40)  # b took over
        finally:
            proc_a.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 10  # (b's own "resumed", without "moved", came too)
        while not any(m.get("moved") for m in moved) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [m for m in moved if m.get("moved")] == [{"session": made["session"],
                                                          "moved": True}]
        again = lecturer.call("join", ids)
        assert again["role"] == "watch" and "another server process" in again["note"], again
        lecturer.take()
        got = lecturer.wait_for(lambda f: f.get("full"), timeout=10)
        start = [f for f in got if f.get("full")][0]["t_ms"]
        lecturer.wait_for(lambda f: f["t_ms"] > start + 100)  # the owner's copy plays on
        presenter = Client(url_b)
        assert presenter.call("join", ids)["role"] == "control"
        assert presenter.call("control", {**ids, "op": "pause"})["ok"]
    finally:
        for client in (lecturer, student, presenter):
            if client is not None:
                client.close()
        stop(proc_b)
        stop(proc_a)
        for log in logs:
            log.seek(0)
            text = log.read()
            log.close()
            assert "Traceback" not in text, text[-4000:]
