"""Fixtures for the web layer: an app in threading mode, test clients, a stand-in page."""

from __future__ import annotations

import time

import pytest

from playground import create_app, socketio

PAGE = "<!doctype html><script>const BOOT = {{ boot | tojson }};</script>"
MISSING = "<!doctype html><p id=missing>{{ message }}</p>"


@pytest.fixture
def app(tmp_path):
    (tmp_path / "play.html").write_text(PAGE)
    (tmp_path / "missing.html").write_text(MISSING)
    app = create_app({"ASYNC": "threading", "TEMPLATE_FOLDER": str(tmp_path),
                      "TESTING": True, "CREATES_PER_SECOND": 50,
                      "DATA_DIR": str(tmp_path / "data")})
    yield app
    registry = app.extensions["playground"]
    for session_id in list(registry.sessions):
        registry.close(session_id)


@pytest.fixture
def http(app):
    return app.test_client()


@pytest.fixture
def connect(app):
    """Make Socket.IO test clients; all are disconnected at teardown."""
    made = []

    def make():
        client = socketio.test_client(app)
        made.append(client)
        return client

    yield make
    for client in made:
        if client.is_connected():
            client.disconnect()


def frames(client) -> list[dict]:
    """The frames a test client has received since the last call."""
    return [p["args"][0] for p in client.get_received() if p["name"] == "frame"]


def wait_for(client, predicate, timeout=5.0) -> list[dict]:
    """Collect frames until one satisfies ``predicate``; all collected frames."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.extend(frames(client))
        if any(predicate(f) for f in seen):
            return seen
        time.sleep(0.02)
    raise AssertionError(f"no matching frame within {timeout} s ({len(seen)} frames seen)")


def collect(client, count: int, timeout=10.0) -> list[dict]:
    """At least ``count`` frames, however long they take up to ``timeout`` (a bound on
    liveness, not a speed: a busy machine only makes them arrive later)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.extend(frames(client))
        if len(seen) >= count:
            return seen
        time.sleep(0.02)
    raise AssertionError(f"{len(seen)} frames within {timeout} s, expected {count}")


def toy_scenario(**overrides) -> dict:
    scenario = {"model": "toy", "seed": 7, "nodes": 5, "duration_ms": 60_000}
    scenario.update(overrides)
    return scenario


def status_of(frame: dict, node_id: str) -> str | None:
    """The status a frame patches node ``node_id`` to (None if it does not)."""
    return (frame.get("nodes") or {}).get(node_id, {}).get("status")
