"""A small key-value store that outlives a process: short links, and what else must.

Two backends behind one interface (``get``, ``put``, and for counting ``add``, which
keeps a value only under a new key, and ``incr``; ``delete``; ``touch``, which renews a
key's expiry): an embedded SQLite file by default
(created on first use under the data directory, in WAL mode so the server's processes
and the command line can use it at once), and Redis when ``MESSAGE_QUEUE`` is a
``redis://`` URL, so that every process of a deployment sees every key. Keys are short
ASCII strings with a namespace prefix (``link:``, ``room:``, ``session:``); values are
bytes.

A key written with ``ttl`` (seconds) lives that long after its last write (or
``touch``), so records of rooms and of takeovers do not pile up in a long-running
deployment; a key written without one (short links) lives for ever. Redis expires keys
itself; the SQLite store keeps an ``expires_at`` per row, hides a row past it on read and
deletes the expired rows at most every ``PRUNE_EVERY`` seconds when it writes.

The data directory is ``PLAYGROUND_DATA_DIR`` (the web app's ``DATA_DIR`` setting), by
default ``instance/`` at the repository's root.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILENAME = "playground.sqlite3"
PRUNE_EVERY = 60.0  # s at least between two deletions of the SQLite store's expired rows


def default_data_dir() -> Path:
    return Path(os.environ.get("PLAYGROUND_DATA_DIR") or ROOT / "instance")


class SqliteStore:
    """Keys and values in one table of an SQLite file (WAL mode); ``clock`` gives the wall
    time in seconds that expiries are counted in.

    The process has one connection, opened on first use and shared under a lock. (A
    connection per thread, kept in a ``threading.local``, was one per greenlet under
    eventlet, which patches it: every request opened, set up and dropped a connection.)

    SQLite copies its write-ahead log into the database file every thousand pages, on
    the write that crosses the mark, and flushes the file to disk then: 4 to 40 ms during
    which a server's event loop stands still. With ``autocheckpoint=False`` no write does
    that; the owner calls :meth:`checkpoint` from a thread of its own now and then (the
    web app's upkeep does, every ``CHECKPOINT_EVERY`` seconds).
    """

    def __init__(self, path: Path, clock=time.time, *, autocheckpoint: bool = True):
        self.path = Path(path)
        self.clock = clock
        self.autocheckpoint = autocheckpoint
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._pruned_at = clock()

    def _db(self) -> sqlite3.Connection:
        db = self._conn
        if db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=5, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            # Durable when the process dies (what session records are for), without a
            # disk flush on every write of the event loop's thread.
            db.execute("PRAGMA synchronous=NORMAL")
            if not self.autocheckpoint:
                db.execute("PRAGMA wal_autocheckpoint=0")
            db.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB "
                       "NOT NULL, expires_at REAL)")
            columns = [row[1] for row in db.execute("PRAGMA table_info(kv)")]
            if "expires_at" not in columns:  # a file made before keys could expire
                try:
                    db.execute("ALTER TABLE kv ADD COLUMN expires_at REAL")
                except sqlite3.OperationalError:  # another process added it just now
                    pass
            self._conn = db
        return db

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file, as far as readers allow,
        without waiting for anyone (``wal_checkpoint(PASSIVE)``), on a connection of its
        own: call it from any thread, the writes of the others go on meanwhile."""
        if not self.path.exists():
            return
        db = sqlite3.connect(self.path, timeout=5, isolation_level=None)
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            db.close()

    def _expiry(self, ttl: float | None) -> float | None:
        return None if ttl is None else self.clock() + ttl

    def _write(self, key: str | None) -> sqlite3.Connection:
        """The connection, once the expired row of ``key`` (if any; None: a write that
        replaces the row anyway) and, at most every PRUNE_EVERY, every expired row are
        gone."""
        db, now = self._db(), self.clock()
        if key is not None:
            db.execute("DELETE FROM kv WHERE key = ? AND expires_at <= ?", (key, now))
        if now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            db.execute("DELETE FROM kv WHERE expires_at <= ?", (now,))
        return db

    def get(self, key: str) -> bytes | None:
        with self._lock:
            row = self._db().execute(
                "SELECT value FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
                (key, self.clock())).fetchone()
        if row is None:
            return None
        return row[0].encode() if isinstance(row[0], str) else bytes(row[0])  # a counter

    def put(self, key: str, value: bytes, ttl: float | None = None) -> None:
        with self._lock:
            self._write(None).execute(
                "INSERT OR REPLACE INTO kv (key, value, expires_at) VALUES (?, ?, ?)",
                (key, value, self._expiry(ttl)))

    def delete(self, key: str) -> None:
        with self._lock:
            self._db().execute("DELETE FROM kv WHERE key = ?", (key,))

    def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """Keep ``value`` under ``key`` unless the key exists; whether it was kept."""
        with self._lock:
            cursor = self._write(key).execute(
                "INSERT OR IGNORE INTO kv (key, value, expires_at) VALUES (?, ?, ?)",
                (key, value, self._expiry(ttl)))
            return cursor.rowcount == 1

    def incr(self, key: str, ttl: float | None = None) -> int:
        """Add one to the counter under ``key`` (0 if absent); the new count."""
        with self._lock:
            row = self._write(key).execute(
                "INSERT INTO kv (key, value, expires_at) VALUES (?, '1', ?) ON CONFLICT(key) "
                "DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT), "
                "expires_at = excluded.expires_at RETURNING value",
                (key, self._expiry(ttl))).fetchone()
        return int(row[0])

    def touch(self, key: str, ttl: float) -> None:
        """Let ``key`` live ``ttl`` seconds from now (if it is there)."""
        with self._lock:
            self._db().execute("UPDATE kv SET expires_at = ? WHERE key = ? AND "
                               "(expires_at IS NULL OR expires_at > ?)",
                               (self._expiry(ttl), key, self.clock()))


class RedisStore:
    """Keys and values in Redis, shared by every process of a deployment."""

    def __init__(self, url: str):
        import redis  # only a deployment with a message queue needs it

        self.redis = redis.Redis.from_url(url, socket_timeout=5)

    def get(self, key: str) -> bytes | None:
        return self.redis.get(key)

    def put(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self.redis.set(key, value, px=_ms(ttl))

    def delete(self, key: str) -> None:
        self.redis.delete(key)

    def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        return bool(self.redis.set(key, value, nx=True, px=_ms(ttl)))

    def incr(self, key: str, ttl: float | None = None) -> int:
        if ttl is None:
            return int(self.redis.incr(key))
        pipe = self.redis.pipeline()  # MULTI/EXEC: the count and its expiry at once
        pipe.incr(key)
        pipe.pexpire(key, _ms(ttl))
        return int(pipe.execute()[0])

    def touch(self, key: str, ttl: float) -> None:
        self.redis.pexpire(key, _ms(ttl))


def _ms(ttl: float | None) -> int | None:
    return None if ttl is None else max(1, round(ttl * 1000))


def open_store(message_queue: str | None = None, data_dir: Path | str | None = None, *,
               autocheckpoint: bool = True):
    """Redis when ``message_queue`` is a redis URL, else the SQLite file in ``data_dir``
    (``autocheckpoint``: see :class:`SqliteStore`)."""
    if message_queue and str(message_queue).startswith(("redis://", "rediss://")):
        return RedisStore(message_queue)
    return SqliteStore(Path(data_dir or default_data_dir()) / FILENAME,
                       autocheckpoint=autocheckpoint)
