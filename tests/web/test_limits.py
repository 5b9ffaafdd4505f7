"""Limits per client address: who a client is, rate buckets, the cap on sessions."""

from __future__ import annotations

import pytest

from playground import create_app, socketio
from playground.web import limits
from playground.web.limits import Limiter, client_address, trusted_networks
from tests.web.conftest import toy_scenario

PROXY = "127.0.0.1"  # the Flask test client's peer address


@pytest.fixture
def make_app(tmp_path):
    """Apps with settings of their own; their sessions are closed at teardown."""
    made = []

    def make(**config):
        (tmp_path / "play.html").write_text("<!doctype html>")
        app = create_app({"ASYNC": "threading", "TEMPLATE_FOLDER": str(tmp_path),
                          "TESTING": True, "DATA_DIR": str(tmp_path / "data"), **config})
        made.append(app)
        return app

    yield make
    for app in made:
        registry = app.extensions["playground"]
        for session_id in list(registry.sessions):
            registry.close(session_id)


@pytest.fixture
def clients(make_app):
    """Socket.IO test clients seen from an address (forwarded by a trusted proxy)."""
    made = []

    def connect(app, address=None):
        headers = {"X-Forwarded-For": address} if address else None
        client = socketio.test_client(app, headers=headers,
                                      flask_test_client=app.test_client())
        made.append(client)
        return client

    yield connect
    for client in made:
        if client.is_connected():
            client.disconnect()


def create(client):
    return client.emit("create", {"scenario": toy_scenario()}, callback=True)


# -- who the client is -----------------------------------------------------------------

def test_the_peer_is_the_client_unless_it_is_a_trusted_proxy():
    environ = {"REMOTE_ADDR": "198.51.100.7", "HTTP_X_FORWARDED_FOR": "203.0.113.1"}
    assert client_address(environ, ()) == "198.51.100.7"
    assert client_address(environ, trusted_networks("10.0.0.0/8")) == "198.51.100.7"
    assert client_address(environ, trusted_networks("198.51.100.0/24")) == "203.0.113.1"
    assert client_address({}, ()) == limits.UNKNOWN


def test_the_client_is_the_right_most_address_no_trusted_proxy_added():
    networks = trusted_networks("127.0.0.1, 10.0.0.0/8")
    environ = {"REMOTE_ADDR": "127.0.0.1",
               "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9, 10.1.2.3"}
    # 6.6.6.6 is whatever the client wrote; 203.0.113.9 is who reached the first proxy.
    assert client_address(environ, networks) == "203.0.113.9"
    only_proxies = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "10.0.0.1"}
    assert client_address(only_proxies, networks) == "127.0.0.1"
    garbage = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "<script>"}
    assert client_address(garbage, networks) == limits.UNKNOWN


def test_a_bad_trusted_proxies_setting_is_refused_at_start(make_app):
    with pytest.raises(ValueError, match="TRUSTED_PROXIES: 'nonsense'"):
        make_app(TRUSTED_PROXIES="127.0.0.1, nonsense")
    assert trusted_networks(["::1", "fd00::/8"])[1].prefixlen == 8


# -- buckets ---------------------------------------------------------------------------

def test_buckets_are_per_address_and_kind_and_refill(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(limits.time, "monotonic", lambda: now[0])
    limiter = Limiter()
    assert [limiter.take("a", "create", 2) for _ in range(3)] == [True, True, False]
    assert limiter.take("b", "create", 2) and limiter.take("a", "act", 2)
    now[0] += 0.5  # one token back at 2 per second
    assert [limiter.take("a", "create", 2) for _ in range(2)] == [True, False]
    assert [limiter.take("a", "link", 3, period=60) for _ in range(4)] == [True] * 3 + [False]
    now[0] += 20  # 3 a minute: one back
    assert [limiter.take("a", "link", 3, period=60) for _ in range(2)] == [True, False]


def test_buckets_of_quiet_addresses_are_forgotten(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(limits.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(limits, "MAX_BUCKETS", 10)
    limiter = Limiter()
    for i in range(10):
        limiter.take(f"10.0.0.{i}", "create", 2)
    limiter.take("10.0.0.0", "create", 2)  # this one is empty now: it must be kept
    limiter.take("10.0.0.0", "create", 2)
    now[0] += 0.6  # the others have refilled, 10.0.0.0 has not
    limiter.take("192.0.2.1", "create", 2)
    assert len(limiter) == 2
    assert [limiter.take("10.0.0.0", "create", 2) for _ in range(2)] == [True, False]


# -- over the socket -------------------------------------------------------------------

def test_reconnecting_does_not_reset_a_limit(make_app, clients):
    app = make_app(CREATES_PER_SECOND=2, TRUSTED_PROXIES=PROXY)
    first = clients(app, "203.0.113.5")
    assert [create(first)["ok"] for _ in range(3)] == [True, True, False]
    first.disconnect()
    again = clients(app, "203.0.113.5")
    answer = create(again)
    assert answer["ok"] is False and "rate limit" in answer["error"]
    assert create(clients(app, "203.0.113.6"))["ok"]  # another address has its own


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(make_app, clients):
    app = make_app(CREATES_PER_SECOND=1)
    assert create(clients(app, "203.0.113.5"))["ok"]
    answer = create(clients(app, "203.0.113.6"))  # the header is ignored: same peer
    assert answer["ok"] is False and "rate limit" in answer["error"]


@pytest.mark.parametrize("event", ["disconnect", "connect", "connect_error", "*",
                                   "playground:watchers", "playground:undecodable"])
def test_reserved_event_names_are_refused_like_unknown_events(make_app, clients, event):
    app = make_app(CREATES_PER_SECOND=1, TRUSTED_PROXIES=PROXY)
    client = clients(app, "203.0.113.5")
    made = create(client)
    assert made["ok"]
    joined = client.emit("join", {"session": made["session"]}, callback=True)
    assert joined["ok"]
    answer = client.emit(event, {"session": made["session"]}, callback=True)
    assert answer["ok"] is False and f"unknown event '{event}'" in answer["error"], answer
    assert client.is_connected()
    registry = app.extensions["playground"]
    assert made["session"] in registry.clients.values()  # still watching
    again = create(client)  # and its limit was not cleared
    assert again["ok"] is False and "rate limit" in again["error"]


def test_one_address_cannot_take_every_session_slot(make_app, clients):
    app = make_app(CREATES_PER_SECOND=100, SESSIONS_PER_ADDRESS=3, MAX_SESSIONS=5,
                   TRUSTED_PROXIES=PROXY)
    greedy = clients(app, "203.0.113.5")
    made = [create(greedy) for _ in range(4)]
    assert [m["ok"] for m in made] == [True, True, True, False]
    assert "this address already runs 3 sessions" in made[-1]["error"]
    reconnected = clients(app, "203.0.113.5")
    assert create(reconnected)["ok"] is False
    assert create(clients(app, "203.0.113.6"))["ok"]  # others still get in
    app.extensions["playground"].close(made[0]["session"])
    assert create(reconnected)["ok"]  # a closed session frees its slot


def test_short_links_are_limited_by_the_forwarded_address(make_app):
    from playground.scenarios import presets, share

    app = make_app(LINKS_PER_MINUTE=1, TRUSTED_PROXIES=PROXY)
    http = app.test_client()
    body = {"share": share.encode(presets()["raft-election"])}

    def post(address):
        return http.post("/api/links", json=body,
                         headers={"X-Forwarded-For": address}).status_code

    assert [post("203.0.113.5"), post("203.0.113.5"), post("203.0.113.6")] == [200, 429, 200]
