"""The shared store: keys with an expiry go, keys without one (short links) stay.

The SQLite store counts expiries on an injected clock, so nothing here waits for one; the
Redis store is checked on the TTLs Redis reports, and once on a key of one millisecond.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from types import SimpleNamespace

import pytest

from playground import store as store_module
from playground.scenarios import links, presets
from playground.store import RedisStore, SqliteStore
from playground.web.records import Records
from playground.web.rooms import PREFIX as ROOM, Rooms
from tests.web.serve import start_redis, stop

DAY = 86_400


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def sqlite(tmp_path, clock):
    return SqliteStore(tmp_path / "s.sqlite3", clock=clock)


def paused(session_id: str, twin: str | None = None) -> SimpleNamespace:
    """What ``Records.save`` reads of a session: one paused at 700 ms."""
    session = SimpleNamespace(id=session_id, lock=threading.Lock(), closed=False,
                              sim=SimpleNamespace(now=700_000),
                              history=SimpleNamespace(frontier=700_000), share="x",
                              playing=False, speed=1.0, lecture=False, token_sha256="0" * 64)
    if twin is not None:
        session.twin = SimpleNamespace(id=twin)
    return session


def rows(store: SqliteStore) -> int:
    return store._db().execute("SELECT COUNT(*) FROM kv").fetchone()[0]


def test_a_key_with_a_ttl_is_gone_after_it_and_one_without_stays(sqlite, clock):
    sqlite.put("room:a", b"1", ttl=60)
    sqlite.put("link:a", b"2")
    clock.now += 59
    assert sqlite.get("room:a") == b"1"
    clock.now += 1
    assert sqlite.get("room:a") is None
    clock.now += 10 * 365 * DAY
    assert sqlite.get("link:a") == b"2"


def test_add_and_incr_start_afresh_on_an_expired_key(sqlite, clock):
    assert sqlite.add("takeover:s:p", b"one", ttl=300)
    assert not sqlite.add("takeover:s:p", b"two", ttl=300)
    assert sqlite.incr("room:a:q1:n", ttl=60) == 1
    assert sqlite.incr("room:a:q1:n", ttl=60) == 2
    clock.now += 300
    assert sqlite.add("takeover:s:p", b"two", ttl=300)
    assert sqlite.get("takeover:s:p") == b"two"
    assert sqlite.incr("room:a:q1:n", ttl=60) == 1


def test_a_write_renews_a_key_and_touch_renews_it_without_writing(sqlite, clock):
    sqlite.put("room:a", b"1", ttl=60)
    clock.now += 50
    sqlite.incr("room:a:n", ttl=60)
    sqlite.touch("room:a", 60)
    clock.now += 50
    assert sqlite.get("room:a") == b"1" and sqlite.get("room:a:n") == b"1"
    clock.now += 10
    assert sqlite.get("room:a") is None
    sqlite.touch("room:a", 60)  # an expired key is not brought back
    assert sqlite.get("room:a") is None


def test_expired_rows_are_deleted_from_the_file_on_a_later_write(sqlite, clock):
    for i in range(50):
        sqlite.put(f"room:{i}", b"x", ttl=60)
    sqlite.put("link:kept", b"y")
    assert rows(sqlite) == 51
    clock.now += store_module.PRUNE_EVERY + 60
    sqlite.put("link:other", b"z")
    assert rows(sqlite) == 2


def test_a_file_made_before_keys_expired_gains_the_column_and_keeps_its_links(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
    db.execute("INSERT INTO kv VALUES ('link:old', X'6869')")
    db.commit()
    db.close()
    store = SqliteStore(path)
    assert store.get("link:old") == b"hi"
    store.put("room:new", b"r", ttl=60)
    assert store.get("room:new") == b"r"


def test_rooms_and_their_answers_expire_a_ttl_after_last_use_but_short_links_do_not(sqlite,
                                                                                     clock):
    rooms = Rooms(sqlite, ttl=DAY)
    room, _token = rooms.open()
    record = rooms.existing(room)
    asked = rooms.ask(room, record, {"text": "who leads?", "choices": ["n1", "n2"],
                                     "answer": None})
    rooms.answer(room, record, rooms.member(record), "n1")
    assert rooms.tally(room, asked)["total"] == 1
    sid = links.save(sqlite, presets()["raft-oneway-cut"])
    clock.now += DAY - 1
    rooms.existing(room)  # a member joins: a use
    clock.now += DAY - 1
    assert rooms.get(room) is not None
    # The answers live a day after the last answer: none since, so they went before the room.
    assert rooms.tally(room, asked)["total"] == 0
    clock.now += 2
    assert rooms.get(room) is None
    clock.now += store_module.PRUNE_EVERY
    sqlite.put("link:other", b"z")  # a write prunes every expired row
    keys = [k for (k,) in sqlite._db().execute("SELECT key FROM kv")]
    assert not [k for k in keys if k.startswith(ROOM)]
    assert links.resolve(sqlite, sid) == presets()["raft-oneway-cut"]


def test_a_takeover_claim_expires(sqlite, clock):
    records = Records(sqlite, max_age=900, process="p2", claim_ttl=300)
    assert records.claim("s1", {"owner": "p1"})
    assert not Records(sqlite, 900, "p3", 300).claim("s1", {"owner": "p1"})
    clock.now += 300
    assert sqlite.get("takeover:s1:p1") is None


def test_session_records_expire_a_ttl_after_their_last_save_and_live_ones_are_renewed(
        sqlite, clock):
    records = Records(sqlite, max_age=900, process="p1", ttl=DAY, clock=clock)
    records.save(paused("s1", twin="s1b"))  # a compare pair: run a's record, run b's pointer
    saved = json.loads(sqlite.get("session:s1"))["saved_at"]
    clock.now += 440
    records.save(paused("s1", twin="s1b"))  # unchanged: not written again
    assert json.loads(sqlite.get("session:s1"))["saved_at"] == saved
    clock.now += 10  # half of SESSION_IDLE_SECONDS: written again, so it never looks expired
    records.save(paused("s1", twin="s1b"))
    assert json.loads(sqlite.get("session:s1"))["saved_at"] == clock.now
    assert records.load("s1")["owner"] == "p1"
    # Its process dies: nobody saves it again, and nobody asks for it.
    clock.now += DAY - 1
    assert sqlite.get("session:s1") is not None and sqlite.get("session:s1b") is not None
    clock.now += 1
    assert sqlite.get("session:s1") is None and sqlite.get("session:s1b") is None
    clock.now += store_module.PRUNE_EVERY
    sqlite.put("link:other", b"z")  # a write prunes every expired row
    assert [k for (k,) in sqlite._db().execute("SELECT key FROM kv")] == ["link:other"]


# -- Redis --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def redis_store():
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server (Debian package redis-server)")
    proc, url = start_redis()
    try:
        yield RedisStore(url)
    finally:
        stop(proc)


def test_redis_keys_get_the_ttl_they_are_written_with_and_links_none(redis_store):
    r = redis_store.redis
    redis_store.put("room:a", b"1", ttl=60)
    assert redis_store.add("takeover:s:p", b"p2", ttl=300)
    assert redis_store.incr("room:a:q1:n", ttl=60) == 1
    sid = links.save(redis_store, presets()["raft-oneway-cut"])
    assert 0 < r.pttl("room:a") <= 60_000
    assert 0 < r.pttl("takeover:s:p") <= 300_000
    assert 0 < r.pttl("room:a:q1:n") <= 60_000
    assert r.pttl(links.PREFIX + sid) == -1  # no expiry
    redis_store.touch("room:a", 3600)
    assert 60_000 < r.pttl("room:a") <= 3_600_000


def test_redis_rooms_claims_and_session_records_carry_their_settings_ttl(redis_store):
    r = redis_store.redis
    rooms = Rooms(redis_store, ttl=DAY)
    room, _token = rooms.open()
    record = rooms.existing(room)
    asked = rooms.ask(room, record, {"text": "who?", "choices": ["n1", "n2"], "answer": None})
    member = rooms.member(record)
    rooms.answer(room, record, member, "n2")
    keys = [k.decode() for k in r.scan_iter(match=f"{ROOM}{room}*")]
    assert len(keys) == 4  # the record, the member's answer, the total, one choice's count
    assert all(0 < r.pttl(k) <= DAY * 1000 for k in keys)
    assert Records(redis_store, 900, "p2", 300).claim("s9", {"owner": "p1"})
    assert 0 < r.pttl("takeover:s9:p1") <= 300_000
    Records(redis_store, 900, "p2", 300, ttl=DAY).save(paused("s9", twin="s9b"))
    assert 0 < r.pttl("session:s9") <= DAY * 1000
    assert 0 < r.pttl("session:s9b") <= DAY * 1000
    assert asked["id"] == 1


def test_a_redis_key_is_gone_once_its_ttl_has_passed(redis_store):
    redis_store.put("room:brief", b"1", ttl=0.001)
    deadline = time.monotonic() + 10  # Redis expires it on the next read past 1 ms
    while redis_store.get("room:brief") is not None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert redis_store.get("room:brief") is None


def test_a_store_without_autocheckpoints_is_checkpointed_by_its_owner(tmp_path):
    store = SqliteStore(tmp_path / "s.sqlite3", autocheckpoint=False)
    for i in range(1500):  # more pages than SQLite's automatic checkpoint waits for
        store.put(f"k{i % 10}", b"x" * 2000)
    db = store._db()
    assert db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    wal = tmp_path / "s.sqlite3-wal"
    assert wal.stat().st_size > 1000 * 4096  # no write copied the log back
    done = threading.Thread(target=store.checkpoint)  # from a thread of its own
    done.start()
    done.join()
    busy, logged, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and logged == copied  # the whole log is in the database file
    assert store.get("k3") == b"x" * 2000
