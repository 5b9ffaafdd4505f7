"""The compare split view and "Find a counterexample" in a real browser."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from playground.scenarios import share
from tests.browser.conftest import CHROMIUM, LOCAL_LIMITS, free_port, start_server, stop_server

pytestmark = pytest.mark.browser

BROKEN = {"model": "raft", "seed": 1, "duration_ms": 3000,
          "variant": {"multiple_votes_per_term": True}}
CORRECT = {"model": "twopc", "seed": 1}


@pytest.fixture(scope="module")
def served():
    """A server of this module's own, whose process tree the search test inspects."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (scripts/test installs it)")
    port = free_port()
    proc = start_server(port, LOCAL_LIMITS)
    yield f"http://127.0.0.1:{port}", proc.pid
    stop_server(proc)


@pytest.fixture(scope="module")
def server(served):
    return served[0]


@pytest.fixture
def base(server):
    return server


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def search_workers(server_pid: int) -> list[int]:
    """The server's child processes that run a search (spawned multiprocessing workers)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(next(line.split()[1] for line in status.splitlines()
                        if line.startswith("PPid:")))
        if ppid == server_pid and b"spawn_main" in cmdline:
            out.append(int(entry))
    return out


def test_a_compare_preset_opens_two_runs_that_act_as_one(open_page, base):
    path = get_json(base + "/api/share?scenario=compare-raft-prevote")["share_url"]
    page = open_page(path)
    for run in ("a", "b"):
        expect(page.locator(f'[data-run="{run}"] [data-node-id="n5"]')).to_be_visible()
    expect(page.locator('[data-run="b"] [data-node-id]')).to_have_count(
        page.locator('[data-run="a"] [data-node-id]').count())
    expect(page.locator('.runhead[data-side="b"] .setting')).to_have_text("prevote = true")
    page.locator('[data-run="a"] [data-node-id="n5"] circle.body').click()
    page.locator("#menu").get_by_role("menuitem", name="Crash").click()
    for run in ("a", "b"):
        expect(page.locator(f'[data-run="{run}"] [data-node-id="n5"]')).to_have_attribute(
            "data-status", "crashed")
    watch = page.locator("#watch").get_attribute("data-url")
    audience = open_page(watch[watch.index("/w/"):])
    for run in ("a", "b"):  # the audience follows the pair
        expect(audience.locator(f'[data-run="{run}"] [data-node-id="n5"]')).to_have_attribute(
            "data-status", "crashed")
    expect(audience.get_by_role("button", name="Find a counterexample")).to_be_visible()
    page.select_option("#speed", "max")
    mark = page.locator(".diffmark")
    deadline = time.monotonic() + 30
    while not mark.is_visible() and time.monotonic() < deadline:
        if page.locator("#play").is_enabled():  # pausing captions stop it on the way
            page.locator("#play").click()
        page.wait_for_timeout(300)
    expect(mark).to_be_visible()
    expect(page.locator("#compare-diff")).to_contain_text("first differ at")
    expect(page.locator(".compare-metrics tr.differs").first).to_be_visible()
    traces = [get_json(base + page.locator(sel).get_attribute("href"))
              for sel in ("#export-trace", "#export-trace-b")]
    assert all(traces) and traces[0] != traces[1]
    crashes = [[r for r in t if r["kind"] == "command" and r["command"].get("type") == "crash"]
               for t in traces]
    assert crashes[0] and [r["t_us"] for r in crashes[0]] == [r["t_us"] for r in crashes[1]]
    page.goto(base + path + "?lecture=1")
    expect(page.locator('[data-run="b"] [data-node-id="n5"]')).to_be_visible()
    expect(page.locator("body")).to_have_class("lecture compare")


def test_find_a_counterexample_then_open_it_and_a_cancelled_search_ends(open_page, served):
    base, pid = served
    page = open_page(share.link_path(BROKEN))
    expect(page.locator('[data-node-id="n5"]')).to_be_visible()
    page.get_by_role("button", name="Find a counterexample").click()
    page.locator("#find-start").click()
    bar = page.get_by_role("progressbar")
    expect(bar).to_be_visible()
    result = page.locator("#find-result")
    expect(result.get_by_role("button", name="Open")).to_be_visible(timeout=120_000)
    assert int(bar.get_attribute("aria-valuenow")) == 100
    assert result.locator(".faults li").count() >= 1
    result.get_by_role("button", name="Open").click()
    expect(page.locator("#info")).to_contain_text("Found by search")
    page.select_option("#speed", "max")
    deadline = time.monotonic() + 30
    while not page.locator("#banner").is_visible() and time.monotonic() < deadline:
        if page.locator("#play").is_enabled():
            page.locator("#play").click()
        page.wait_for_timeout(300)
    expect(page.locator("#banner")).to_be_visible()

    page.goto(base + share.link_path(CORRECT))
    expect(page.locator("[data-node-id]").first).to_be_visible()
    page.get_by_role("button", name="Find a counterexample").click()
    page.locator("#find-start").click()
    expect(page.locator("#find-status")).to_contain_text("searching", timeout=30_000)
    values = {page.get_by_role("progressbar").get_attribute("aria-valuenow")}
    assert search_workers(pid)
    page.wait_for_timeout(1500)
    page.locator("#find-cancel").click()
    expect(page.locator("#find-result")).to_contain_text("Cancelled")
    # The worker was told to end; on a loaded machine it may take a moment to be gone.
    deadline = time.monotonic() + 15
    while search_workers(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not search_workers(pid)
    assert values


def test_compare_from_any_session_picks_a_switch_and_opens_the_pair(open_page, base):
    page = open_page(share.link_path({"model": "raft", "seed": 2, "duration_ms": 3000}))
    expect(page.locator('[data-node-id="n5"]')).to_be_visible()
    page.get_by_role("button", name="Compare", exact=True).click()
    page.get_by_label("What to change").select_option(label="prevote: false → true")
    page.get_by_role("menuitem", name="Open side by side").click()
    expect(page.locator('[data-run="b"] [data-node-id="n5"]')).to_be_visible()
    expect(page.locator('.runhead[data-side="a"] .setting')).to_have_text("prevote = false")
    expect(page.locator('.runhead[data-side="b"] .setting')).to_have_text("prevote = true")
    shared = page.evaluate("location.pathname")
    again = open_page(shared)
    expect(again.locator('[data-run="b"] [data-node-id="n5"]')).to_be_visible()
