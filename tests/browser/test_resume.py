"""The page resumes its session by itself when the server process it ran on is gone: a
restart on the embedded store brings the session back, and the presenter's page joins
it again with its token, says so, and goes on controlling it."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from playground.scenarios import share

from .conftest import ARGS, CHROMIUM, LOCAL_LIMITS, free_port, start_server, stop_server

SCENARIO = {"model": "raft", "seed": 5, "nodes": 5, "duration_ms": 20_000}


def test_a_presenter_page_resumes_its_session_after_the_server_restarts(browser, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    port = free_port()
    env = {**LOCAL_LIMITS, "PLAYGROUND_DATA_DIR": str(tmp_path)}
    proc = start_server(port, env)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_default_timeout(20_000)
        page.goto(f"http://127.0.0.1:{port}{share.link_path(SCENARIO)}")
        expect(page.locator("#role")).to_have_text("presenting")
        page.evaluate("window.playground.control('step', 700)")
        page.wait_for_function("() => window.playground.store.t_ms === 700")
        session = page.evaluate("window.playground.conn.session")

        stop_server(proc)  # every session of the process ends with it ...
        page.wait_for_function("() => document.body.dataset.conn === 'disconnected'")
        proc = start_server(port, env)  # ... and a new process finds them in the store
        expect(page.locator("#toast")).to_contain_text("resumed", timeout=30_000)
        assert page.evaluate("window.playground.conn.session") == session
        expect(page.locator("#role")).to_have_text("presenting")
        page.wait_for_function("() => window.playground.store.t_ms === 700")
        answer = page.evaluate("window.playground.control('step', 100)")
        assert answer["ok"], answer
        page.wait_for_function("() => window.playground.store.t_ms === 800")
        assert not errors, errors
    finally:
        context.close()
        stop_server(proc)


def test_a_presenter_page_on_a_process_given_up_for_dead_moves_to_the_owner(browser,
                                                                           tmp_path):
    """Two processes on Redis; the presenter's page is on the first. SIGSTOP that one past
    its heartbeat: the second, where a student watches, takes the session over. SIGCONT:
    the first stops its copy and tells the page, which joins again and says that the
    session runs on another process now (this connection watches it there)."""
    import shutil
    import signal

    from tests.web.serve import Client, start_redis, stop

    if not Path(CHROMIUM).exists() or shutil.which("redis-server") is None:
        pytest.skip("needs Chromium and redis-server")
    redis, url = start_redis()
    env = {**LOCAL_LIMITS, "MESSAGE_QUEUE": url, "PLAYGROUND_DATA_DIR": str(tmp_path)}
    port_a, port_b = free_port(), free_port()
    proc_a, proc_b = start_server(port_a, env), start_server(port_b, env)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    student = None
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_default_timeout(20_000)
        page.goto(f"http://127.0.0.1:{port_a}{share.link_path(SCENARIO)}")
        expect(page.locator("#role")).to_have_text("presenting")
        page.evaluate("window.playground.control('step', 700)")
        page.wait_for_function("() => window.playground.store.t_ms === 700")
        session = page.evaluate("window.playground.conn.session")
        student = Client(f"http://127.0.0.1:{port_b}")
        assert student.call("join", {"session": session})["ok"]
        student.wait_for(lambda f: f.get("full"))  # its first picture, through Redis

        proc_a.send_signal(signal.SIGSTOP)
        try:
            student.take()
            student.wait_for(lambda f: f.get("full"), timeout=40)  # the second took over
        finally:
            proc_a.send_signal(signal.SIGCONT)
        expect(page.locator("#toast")).to_contain_text("another server process",
                                                       timeout=20_000)
        expect(page.locator("#role")).to_have_text("watching")
        assert page.evaluate("window.playground.conn.session") == session
        page.wait_for_function("() => window.playground.store.t_ms === 700")
        assert not errors, errors
    finally:
        if student is not None:
            student.close()
        context.close()
        stop_server(proc_a)
        stop_server(proc_b)
        stop(redis)
