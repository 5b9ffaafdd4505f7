"""The edge of the wire: packets the libraries would choke on, binary, their log."""

from __future__ import annotations

import logging

import pytest

from playground.web import guard
from playground.web.guard import RateLimited

# Socket.IO packets as the Engine.IO layer hands them over (without Engine.IO's "4").
ANSWERED = {
    '21[]': "not valid JSON", '22{}': "not valid JSON", '23null': "not valid JSON",
    '24[5]': "not valid JSON", '25': "not valid JSON", '26[{"a":1}]': "not valid JSON",
    '27["*"]': "unknown event '*'", '28["*","create",{}]': "unknown event '*'",
    '29["disconnect"]': "unknown event 'disconnect'",
    '210["connect",{}]': "unknown event 'connect'",
    '211["create",' + "[" * 5000 + "]" * 5000 + "]": "not valid JSON",
}
IGNORED = ['2[]', '2{}', '2null', '2["*"]', '2["*",1,2]', '2', '2["disconnect"]', '7',
           '4{}', '3', '31["x"]', '2/nowhere,["create",{}]', '0/nowhere,', '1/nowhere,',
           '2' + "[" * 100_000, '2x', '\x00', '']


@pytest.fixture
def wire(app, connect):
    """A connected test client and a function that hands the guard one raw packet and
    returns the answer (or None)."""
    client = connect()
    protector = app.extensions["playground_guard"]

    def send(raw):
        client.acks = None
        protector.on_message(client.eio_sid, raw)
        return None if client.acks is None else client.acks["args"][0]

    return client, protector, send


@pytest.mark.parametrize("raw,words", list(ANSWERED.items()))
def test_malformed_events_with_an_ack_id_are_answered(wire, raw, words):
    client, _guard, send = wire
    answer = send(raw)
    assert answer["ok"] is False and words in answer["error"], answer
    assert client.is_connected()


def test_malformed_packets_are_ignored_and_logged_once_per_connection(wire, caplog):
    client, protector, send = wire
    with caplog.at_level(logging.INFO):
        for raw in IGNORED * 3:
            assert send(raw) is None, raw
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    lines = [r for r in caplog.records if "could not handle" in r.getMessage()]
    assert len(lines) == 1 and client.eio_sid in lines[0].getMessage()
    assert protector.refused["failed"] >= 3  # every failure counted, one line written


@pytest.mark.parametrize("raw", [b"\x00" * 1000, "51-[\"create\",{\"_placeholder\":true,"
                                                  "\"num\":0}]",
                                 '5999999-["create",{"_placeholder":true,"num":0}]',
                                 '61-1[{"_placeholder":true,"num":0}]'])
def test_binary_closes_the_connection_and_is_never_held(app, wire, monkeypatch, raw):
    client, protector, send = wire
    closed = []
    monkeypatch.setattr(protector.eio, "disconnect", closed.append)
    assert send(raw) is None
    assert closed == [client.eio_sid]
    assert protector.refused["binary"] == 1
    assert not protector.server._binary_packet  # no attachment is waited for


def test_the_library_log_is_rate_limited_and_has_no_tracebacks(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(guard.time, "monotonic", lambda: now[0])
    limited = RateLimited(per_minute=3)
    try:
        raise KeyError("boom")
    except KeyError:
        import sys
        exc_info = sys.exc_info()
    records = [logging.LogRecord("x", logging.ERROR, __file__, 1, "message handler error",
                                 None, exc_info) for _ in range(10)]
    passed = [r for r in records if limited.filter(r)]
    assert len(passed) == 3
    assert all(r.exc_info is None for r in passed)
    assert passed[0].getMessage() == "message handler error: KeyError: 'boom'"
    now[0] += 61
    late = logging.LogRecord("x", logging.WARNING, __file__, 1, "late", None, None)
    assert limited.filter(late) and late.getMessage() == "late (7 earlier lines held back)"


def test_the_libraries_log_through_the_rate_limited_logger(app):
    from playground import socketio

    assert socketio.server.logger is logging.getLogger(guard.WIRE_LOGGER)
    assert socketio.server.eio.logger is logging.getLogger(guard.WIRE_LOGGER)
    assert not logging.getLogger(guard.WIRE_LOGGER).handlers  # propagates once, to the app's
