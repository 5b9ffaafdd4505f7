"""The counterexample search in a worker process: progress, result, cancel."""

from __future__ import annotations

import os
import time

import pytest

from playground.engine.errors import ScenarioError
from playground.scenarios import run
from playground.scenarios.schema import validate
from playground.web.finder import Finder, check_limits

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
    finder.cancel()
    assert finder.done and finder.error == "cancelled"
    assert not finder.process.is_alive()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_search_that_finds_nothing_says_so_within_its_bounds():
    finder = Finder(CORRECT, tries=5, seconds=60)
    wait(finder)
    assert finder.result is None and finder.error is None
    assert finder.progress["tries"] == 5


def test_the_process_limit_gives_a_clear_error():
    check_limits(1, 2)
    with pytest.raises(ScenarioError, match="2 searches are running on this server"):
        check_limits(2, 2)
