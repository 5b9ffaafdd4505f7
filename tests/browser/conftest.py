"""Fixtures for the browser tests: ``python app.py`` as a subprocess on a free port, and
Debian's Chromium driven by Playwright, with every request checked to stay local."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.web.serve import LOCAL_LIMITS, free_port  # noqa: F401 (used by modules)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]



def start_server(port: int, extra_env: dict | None = None) -> subprocess.Popen:
    """``python app.py`` on 127.0.0.1:``port``; returns once it answers HTTP."""
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "WARNING",
           **(extra_env or {})}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/presets", timeout=2).read()
            return proc
        except OSError:
            time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError("app.py did not answer within 30 s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def server():
    """The base URL of a real server, stopped when the module's tests are done."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (scripts/test installs it)")
    port = free_port()
    # Every page of every test comes from 127.0.0.1: one client address, whose limits
    # would otherwise refuse the tenth page of a module.
    proc = start_server(port, LOCAL_LIMITS)
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class Watch:
    """What a page did that a test asserts on: console errors and requests."""

    def __init__(self, base: str):
        self.base = base
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.local: list[str] = []
        self.sockets: list[str] = []

    def route(self, route):
        url = route.request.url
        if url.startswith(self.base + "/") or url == self.base or url.startswith("data:") \
                or url.startswith("blob:"):
            self.local.append(url)
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()

    def check(self):
        assert not self.foreign, f"requests left the machine: {self.foreign}"
        assert all(u.startswith(self.base.replace("http", "ws", 1)) for u in self.sockets), \
            f"websockets to elsewhere: {self.sockets}"
        assert not self.errors, f"console errors: {self.errors}"


@pytest.fixture
def open_page(server, browser):
    """Open pages on the server; every request is routed through a local-only check, and
    at teardown no page may have logged a console error or reached another host."""
    made = []

    def open_(path: str, **context_args):
        context = browser.new_context(**{"viewport": {"width": 1440, "height": 900}, **context_args})
        watch = Watch(server)
        context.route("**/*", watch.route)
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and watch.errors.append(m.text))
        page.on("pageerror", lambda e: watch.errors.append(str(e)))
        page.on("websocket", lambda ws: watch.sockets.append(ws.url))
        page.set_default_timeout(20_000)
        made.append((context, watch))
        page.goto(server + path)
        page.watch = watch
        return page

    yield open_
    for context, watch in made:
        context.close()
    for _context, watch in made:
        watch.check()
