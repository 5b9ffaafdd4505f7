"""A small key-value store that outlives a process: short links, and what else must.

Two backends behind one interface (``get``, ``put``, and for counting ``add``, which
keeps a value only under a new key, and ``incr``; ``delete``): an embedded SQLite file by default
(created on first use under the data directory, in WAL mode so the server's processes
and the command line can use it at once), and Redis when ``MESSAGE_QUEUE`` is a
``redis://`` URL, so that every process of a deployment sees every key. Keys are short
ASCII strings with a namespace prefix (``link:``, ``room:``, ``session:``); values are
bytes.

The data directory is ``PLAYGROUND_DATA_DIR`` (the web app's ``DATA_DIR`` setting), by
default ``instance/`` at the repository's root.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILENAME = "playground.sqlite3"


def default_data_dir() -> Path:
    return Path(os.environ.get("PLAYGROUND_DATA_DIR") or ROOT / "instance")


class SqliteStore:
    """Keys and values in one table of an SQLite file (WAL mode, one connection a thread)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=5, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            # Durable when the process dies (what session records are for), without a
            # disk flush on every write of the event loop's thread.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB "
                       "NOT NULL)")
            self._local.db = db
        return db

    def get(self, key: str) -> bytes | None:
        row = self._db().execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return row[0].encode() if isinstance(row[0], str) else bytes(row[0])  # a counter

    def put(self, key: str, value: bytes) -> None:
        self._db().execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)",
                           (key, value))

    def delete(self, key: str) -> None:
        self._db().execute("DELETE FROM kv WHERE key = ?", (key,))

    def add(self, key: str, value: bytes) -> bool:
        """Keep ``value`` under ``key`` unless the key exists; whether it was kept."""
        cursor = self._db().execute("INSERT OR IGNORE INTO kv (key, value) VALUES (?, ?)",
                                    (key, value))
        return cursor.rowcount == 1

    def incr(self, key: str) -> int:
        """Add one to the counter under ``key`` (0 if absent); the new count."""
        row = self._db().execute(
            "INSERT INTO kv (key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET "
            "value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) RETURNING value",
            (key,)).fetchone()
        return int(row[0])


class RedisStore:
    """Keys and values in Redis, shared by every process of a deployment."""

    def __init__(self, url: str):
        import redis  # only a deployment with a message queue needs it

        self.redis = redis.Redis.from_url(url, socket_timeout=5)

    def get(self, key: str) -> bytes | None:
        return self.redis.get(key)

    def put(self, key: str, value: bytes) -> None:
        self.redis.set(key, value)

    def delete(self, key: str) -> None:
        self.redis.delete(key)

    def add(self, key: str, value: bytes) -> bool:
        return bool(self.redis.set(key, value, nx=True))

    def incr(self, key: str) -> int:
        return int(self.redis.incr(key))


def open_store(message_queue: str | None = None, data_dir: Path | str | None = None):
    """Redis when ``message_queue`` is a redis URL, else the SQLite file in ``data_dir``."""
    if message_queue and str(message_queue).startswith(("redis://", "rediss://")):
        return RedisStore(message_queue)
    return SqliteStore(Path(data_dir or default_data_dir()) / FILENAME)
