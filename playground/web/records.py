"""Sessions that outlive their process: each session's recording, kept in the store.

A session is fully determined by its recording: the scenario with every live action as a
timed command (the share string it answers), how far it has run, whether it plays and
at what speed. The registry saves that record (``session:<id>`` in the store of
``playground/store.py``: the embedded SQLite file, or Redis with ``MESSAGE_QUEUE``) when
the session is created, after every control and action, and every few seconds while it
runs. A process asked for a session it does not hold, whose record exists and whose
owner is gone (no process runs it: after a restart, or with Redis an owner that stopped
beating, ``registry.HOST_TTL``), rebuilds it from the record by replaying the recording
to the recorded time, and takes it over: same trace, record for record, as an
uninterrupted run. A process whose clients watch a session of a dead owner takes it over
by itself (``Registry._take_over_orphans``). The token itself is never stored; the record keeps its SHA-256, which is all a
rebuilt session needs to check a token.

Simplified: a compare pair is not kept (its second run is derived state); a record older
than ``SESSION_IDLE_SECONDS`` is an expired session and is deleted instead of rebuilt.
"""

from __future__ import annotations

import json
import logging
import time

log = logging.getLogger(__name__)

PREFIX = "session:"


def record_of(session) -> dict:
    """What rebuilds ``session`` (see the module docstring)."""
    return {"share": session.share, "t_ms": session.sim.now / 1000,
            "playing": bool(session.playing), "speed": session.speed,
            "token_sha256": session.token_sha256, "saved_at": time.time()}


class Records:
    """The records of sessions in a store (``get``, ``put``, ``delete``)."""

    def __init__(self, store, max_age: float):
        self.store = store
        self.max_age = max_age
        self._saved: dict[str, tuple] = {}  # session id -> what was saved last (unchanged: skip)

    def save(self, session) -> None:
        record = record_of(session)
        key = (record["share"], record["t_ms"], record["playing"], record["speed"])
        if self._saved.get(session.id) == key:
            return
        try:
            self.store.put(PREFIX + session.id, json.dumps(record).encode())
        except Exception:  # the store is away: the session runs on, unkept for now
            log.warning("cannot save session %s to the store", session.id, exc_info=True)
            return
        self._saved[session.id] = key

    def load(self, session_id: str) -> dict | None:
        """The record of ``session_id``, if it has one that has not expired."""
        try:
            raw = self.store.get(PREFIX + session_id)
        except Exception:
            log.warning("cannot read session %s from the store", session_id, exc_info=True)
            return None
        if raw is None:
            return None
        try:
            record = json.loads(raw)
            fresh = time.time() - float(record["saved_at"]) <= self.max_age
        except (ValueError, KeyError, TypeError):
            fresh = False
        if not fresh:
            self.delete(session_id)
            return None
        return record

    def delete(self, session_id: str) -> None:
        self._saved.pop(session_id, None)
        try:
            self.store.delete(PREFIX + session_id)
        except Exception:
            log.warning("cannot delete session %s from the store", session_id, exc_info=True)
