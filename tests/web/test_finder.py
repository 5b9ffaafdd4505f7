"""The counterexample search in a worker process: progress, result, cancel."""

from __future__ import annotations

import os
import time

import pytest

from playground.engine.errors import ScenarioError
from playground.scenarios import run
from playground.scenarios.schema import validate
from playground.web.finder import WORKER_NICE, Finder, check_limits

BROKEN = validate({"model": "raft", "seed": 1, "duration_ms": 3000,
                   "variant": {"multiple_votes_per_term": True}})
CORRECT = validate({"model": "twopc", "seed": 1})


def wait(finder, timeout=120):
    deadline = time.monotonic() + timeout
    seen = []
    while not finder.done and time.monotonic() < deadline:
        if finder.poll():
            seen.append(dict(finder.progress))
        time.sleep(0.05)
    assert finder.done, "the search did not finish"
    return seen


def test_a_search_in_a_worker_finds_a_broken_variant_and_narrates_it():
    finder = Finder(BROKEN, tries=500, seconds=60)
    assert finder.process.pid
    wait(finder)
    assert finder.error is None and finder.result is not None
    scenario = finder.result["scenario"]
    assert "Found by search" in scenario["title"]
    assert scenario["narrative"][0]["text"].startswith("Found by search in")
    assert len(scenario["narrative"]) == 1 + len(finder.result["faults"])
    report = run(scenario)[1]
    assert report["matches_expected"], report["mismatches"]
    assert set(finder.result["invariants"]) <= {v["invariant"] for v in report["violations"]}
    assert not finder.process.is_alive()


def test_progress_moves_and_a_cancelled_search_stops_its_worker():
    finder = Finder(CORRECT, tries=100_000, seconds=60)
    seen = []
    deadline = time.monotonic() + 60
    while len({p["tries"] for p in seen}) < 3 and time.monotonic() < deadline:
        if finder.poll():
            seen.append(dict(finder.progress))
        time.sleep(0.05)
    tries = [p["tries"] for p in seen]
    assert tries == sorted(tries) and tries[-1] > tries[0] and 0 < finder.fraction() < 1
    pid = finder.process.pid
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, ours + WORKER_NICE)
    finder.cancel()
    assert finder.done and finder.error == "cancelled"
    assert not finder.process.is_alive()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_the_worker_is_reaped_once_whoever_asks(monkeypatch):
    finder = Finder(validate({"model": "toy", "seed": 1}), tries=10_000, seconds=30)
    joins = []
    join = finder.process.join
    monkeypatch.setattr(finder.process, "join", lambda *a: joins.append(a) or join(*a))
    finder.cancel()
    finder.cancel()
    assert finder.poll() is False  # the pipe is closed: nothing more to read
    assert len(joins) == 1 and not finder.process.is_alive()


def test_a_search_that_finds_nothing_says_so_within_its_bounds():
    finder = Finder(CORRECT, tries=5, seconds=60)
    wait(finder)
    assert finder.result is None and finder.error is None
    assert finder.progress["tries"] == 5


def test_the_process_limit_gives_a_clear_error():
    check_limits(1, 2)
    with pytest.raises(ScenarioError, match="2 searches are running on this server"):
        check_limits(2, 2)


# -- the Socket.IO events: find, find_cancel, and the search events ----------------------

def searches(client) -> list[dict]:
    return [p["args"][0] for p in client.get_received() if p["name"] == "search"]


def until_done(client, timeout=120) -> list[dict]:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += searches(client)
        if seen and seen[-1]["done"]:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"the search did not end within {timeout} s: {seen[-1:]}")


def owned(connect, scenario):
    client = connect()
    made = client.emit("create", {"scenario": scenario}, callback=True)
    assert made["ok"], made
    joined = client.emit("join", {"session": made["session"], "token": made["token"]},
                         callback=True)
    assert joined["ok"], joined
    return client, {"session": made["session"], "token": made["token"]}


def test_find_on_a_broken_variant_reports_progress_and_a_link_that_shows_it(connect, app):
    client, ids = owned(connect, BROKEN)
    names = [i["name"] for i in client.emit("join", ids, callback=True)["models"]["raft"]
             ["invariants"]]
    answer = client.emit("find", {**ids, "invariant": "election_safety"}, callback=True)
    assert answer["ok"] and answer["limit"]["seconds"] == app.config["SEARCH_SECONDS"], answer
    assert "election_safety" in names
    seen = until_done(client)
    last = seen[-1]
    assert last["error"] is None and last["found"], last
    assert "election_safety" in last["found"]["invariants"]
    assert last["found"]["faults"] and last["fraction"] == 1
    opened = client.emit("create", {"scenario": last["found"]["share_url"][len("/s/"):]},
                         callback=True)
    session = app.extensions["playground"].get(opened["session"])
    assert session.scenario["title"].startswith("Found by search")
    assert "election_safety" in session.scenario["expected"]["violations"]
    assert not app.extensions["playground"].searches.running


def test_one_search_per_session_a_process_limit_and_only_the_owner(connect, app):
    app.config["MAX_SEARCHES"] = 1
    first, ids = owned(connect, CORRECT)
    other, other_ids = owned(connect, CORRECT)
    watcher = connect()
    assert watcher.emit("join", {"session": ids["session"]}, callback=True)["ok"]
    for client, payload, words in [
            (watcher, {"session": ids["session"]}, "read-only"),
            (first, {**ids, "token": "wrong"}, "wrong token"),
            (first, {**ids, "invariant": "no_such_thing"}, "has no invariant"),
            (first, {**ids, "invariant": 3}, "'invariant' must be")]:
        answer = client.emit("find", payload, callback=True)
        assert answer["ok"] is False and words in answer["error"], (payload, answer)
    assert first.emit("find", ids, callback=True)["ok"]
    again = first.emit("find", ids, callback=True)
    assert not again["ok"] and "already running for this session" in again["error"]
    over = other.emit("find", other_ids, callback=True)
    assert not over["ok"] and "1 searches are running on this server" in over["error"]
    refused = watcher.emit("find_cancel", {"session": ids["session"]}, callback=True)
    assert not refused["ok"]


def test_cancel_ends_the_worker_and_tells_the_watchers(connect, app):
    owner, ids = owned(connect, CORRECT)
    watcher = connect()
    assert watcher.emit("join", {"session": ids["session"]}, callback=True)["ok"]
    assert owner.emit("find", ids, callback=True)["ok"]
    finder = app.extensions["playground"].searches.running[ids["session"]]
    deadline = time.monotonic() + 60
    progress = []
    while not any(p["progress"]["tries"] > 0 for p in progress) \
            and time.monotonic() < deadline:
        progress += searches(watcher)
        time.sleep(0.05)
    assert progress and not progress[-1]["done"]
    pid = finder.process.pid
    assert owner.emit("find_cancel", ids, callback=True)["ok"]
    assert not finder.process.is_alive()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    last = until_done(watcher, timeout=10)[-1]
    assert last["done"] and last["error"] == "cancelled"
    nothing = owner.emit("find_cancel", ids, callback=True)
    assert not nothing["ok"] and "no search is running" in nothing["error"]


def test_closing_a_session_stops_its_search(connect, app):
    owner, ids = owned(connect, CORRECT)
    assert owner.emit("find", ids, callback=True)["ok"]
    registry = app.extensions["playground"]
    finder = registry.searches.running[ids["session"]]
    registry.close(ids["session"])
    assert not finder.process.is_alive() and ids["session"] not in registry.searches.running
