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
by itself (``Registry._take_over_orphans``). An owner given up for dead that was only
stalled finds, before its next save, the record saved by the live process that took
over, and stops its copy (``Registry._still_ours``). The token itself is never stored;
the record keeps its SHA-256, which is all a rebuilt session needs to check a token.

A compare pair is kept as run a's record, which names run b (``twin``); run b's own
record only points at run a (``pair_of``), since run b is derived from run a. Each record
names the process that saved it (``owner``); a process that takes a session over first
claims it (``claim``: a key ``takeover:<id>:<previous owner>`` kept only if new), so when
several processes find the same orphan at once exactly one rebuilds it. The claim expires
after ``TAKEOVER_TTL_SECONDS`` (by then the winner has saved the record under its own
name), so claims do not pile up in the store.

A record older than ``SESSION_IDLE_SECONDS`` is an expired session and is deleted
instead of rebuilt; so that a live session's record never looks expired, one that has not
changed (a paused session with an audience) is saved again once it is half that old.
Records (and run b's pointers) are written with a TTL, ``SESSION_RECORD_TTL_SECONDS``
after their last save, so the records of sessions nobody asks for again (their process
died, no client came back) leave the store by themselves.
"""

from __future__ import annotations

import json
import logging
import time

log = logging.getLogger(__name__)

PREFIX = "session:"


TAKEOVER = "takeover:"


def record_of(session) -> dict:
    """What rebuilds ``session`` (see the module docstring), but who saved it and when."""
    record = {"share": session.share, "t_ms": session.sim.now / 1000,
              "frontier_ms": session.history.frontier / 1000,
              "playing": bool(session.playing), "speed": session.speed,
              "lecture": bool(session.lecture), "token_sha256": session.token_sha256}
    twin = getattr(session, "twin", None)
    if twin is not None:
        record["twin"] = twin.id
    return record


class Records:
    """The records of sessions in a store (``get``, ``put``, ``add``, ``delete``), saved
    by the process that goes by ``process``, kept ``ttl`` seconds after their last save
    (None: for ever); ``clock`` gives the wall time in seconds."""

    def __init__(self, store, max_age: float, process: str = "local",
                 claim_ttl: float | None = 300.0, ttl: float | None = None,
                 clock=time.time):
        self.store = store
        self.max_age = max_age
        self.claim_ttl = claim_ttl
        self.ttl = ttl
        self.process = process
        self.clock = clock
        # An unchanged record is saved again this long after its last save: it never
        # looks expired (max_age) nor expires (ttl) while its session lives.
        self.renew_after = min(max_age, ttl if ttl is not None else max_age) / 2
        # session id -> (what was saved last, when, when run b's pointer was saved)
        self._saved: dict[str, tuple] = {}

    def save(self, session) -> None:
        with session.lock:
            if session.closed or session.sim is None:
                return
            record = record_of(session)
        now = self.clock()
        record.update(saved_at=now, owner=self.process)
        key = (record["share"], record["t_ms"], record["playing"], record["speed"],
               record["lecture"], record["frontier_ms"])
        last = self._saved.get(session.id)
        if last is not None and last[0] == key and now - last[1] < self.renew_after:
            return
        twin = getattr(session, "twin", None)
        pointed = last[2] if last is not None else None
        if twin is not None and (pointed is None or now - pointed >= self.renew_after):
            if self._put_pointer(twin.id, session.id):
                pointed = now
        try:
            self.store.put(PREFIX + session.id, json.dumps(record).encode(), ttl=self.ttl)
        except Exception:  # the store is away: the session runs on, unkept for now
            log.warning("cannot save session %s to the store", session.id, exc_info=True)
            return
        self._saved[session.id] = (key, now, pointed)

    def _put_pointer(self, twin_id: str, leader_id: str) -> bool:
        try:
            self.store.put(PREFIX + twin_id, json.dumps({"pair_of": leader_id}).encode(),
                           ttl=self.ttl)
            return True
        except Exception:
            log.warning("cannot save session %s to the store", twin_id, exc_info=True)
            return False

    def claim(self, session_id: str, record: dict) -> bool:
        """Whether this process is the one that takes over ``session_id`` from the
        process that saved ``record`` (the first to ask is)."""
        key = f"{TAKEOVER}{session_id}:{record.get('owner', '')}"
        return self.store.add(key, self.process.encode(), ttl=self.claim_ttl)

    def owner(self, session_id: str) -> str | None:
        """The process that saved the record of ``session_id`` last (None: there is no
        record, or the store cannot be read now)."""
        try:
            raw = self.store.get(PREFIX + session_id)
            return None if raw is None else json.loads(raw).get("owner")
        except Exception:
            log.warning("cannot read session %s from the store", session_id, exc_info=True)
            return None

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
            fresh = "pair_of" in record or \
                self.clock() - float(record["saved_at"]) <= self.max_age
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
