"""The sessions of one server process, and what it knows about sessions elsewhere.

The :class:`Registry` belongs to the app (``app.extensions["playground"]``). It creates
sessions under a cap, finds them by id, counts their audience (local watchers plus those
other processes report) and expires a session nobody has watched or driven for
``SESSION_IDLE_SECONDS``.

With a message queue, several processes serve one audience. A session runs in the
process that created it; the others learn of it from a small directory in Redis (owner
and metadata, refreshed while it lives) and send the owner ``playground:*`` cluster
messages on the Socket.IO channel: how many clients they have watching, and requests
for a full frame. Control requests are not forwarded: the process that receives one for
a session running elsewhere answers with an error that says so (deployments keep the
controlling browser on its process with sticky sessions).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time

from ..engine.errors import ScenarioError
from ..scenarios import event_rate, share
from .fanout import CLUSTER_PREFIX, room_of
from .limits import Limiter, client_address, trusted_networks
from .records import Records
from .finder import Searches
from .pair import PairSession
from .session import Session, collect_heap, freeze_heap, offload, tune_collector

log = logging.getLogger(__name__)

ANNOUNCE_EVERY = 5.0  # s between reports of this process's watcher counts
FREEZE_EVERY = 2.0  # s between moving the long-lived heap out of the collector's way
COLLECT_SLOW = 0.05  # s: a periodic full collection that pauses longer than this is logged
REMOTE_TTL = 15.0  # s after which an unrefreshed remote watcher count is forgotten
DIRECTORY_TTL = 60  # s a directory entry lives unless refreshed
DIRECTORY_PREFIX = "playground:session:"
HOST_PREFIX = "playground:host:"
HOST_TTL = 10  # s a process is taken for alive after its last heartbeat (one a second)
SAVE_EVERY = 5.0  # s between saving the records of sessions that run on
CHECKPOINT_EVERY = 5.0  # s between checkpoints of the SQLite store (in a thread)
ASK_EVERY = 0.5  # s between two requests for a full frame of the same remote session


def new_id(nbytes: int) -> str:
    """An unguessable identifier (``nbytes`` × 8 random bits, URL-safe)."""
    return secrets.token_urlsafe(nbytes)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Directory:
    """Which process runs which session, shared through Redis."""

    CACHE_SECONDS = 2.0  # a crowd joining at once asks Redis once per session

    def __init__(self, url: str):
        import redis

        # A bounded pool that waits for a free connection: a classroom joining at once
        # must queue for Redis, not fail with "too many connections".
        pool = redis.BlockingConnectionPool.from_url(url, max_connections=16, timeout=5,
                                                     socket_timeout=2)
        self.redis = redis.Redis(connection_pool=pool)
        self._cache: dict[str, tuple[float, dict | None]] = {}
        self._alive: dict[str, tuple[float, bool]] = {}  # host -> (until when, alive)

    def put(self, session: Session, host: str) -> None:
        entry = {"host": host, "token_sha256": session.token_sha256,
                 "scenario": session.metadata()}
        self.beat(host)  # an owner is alive from its first session on
        self.redis.set(DIRECTORY_PREFIX + session.id, json.dumps(entry), ex=DIRECTORY_TTL)

    def get(self, session_id: str) -> dict | None:
        now = time.monotonic()
        cached = self._cache.get(session_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        raw = self.redis.get(DIRECTORY_PREFIX + session_id)
        entry = None if raw is None else json.loads(raw)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[session_id] = (now + self.CACHE_SECONDS, entry)
        return entry

    def remove(self, session_id: str) -> None:
        self.redis.delete(DIRECTORY_PREFIX + session_id)

    def beat(self, host: str) -> None:
        """Say that process ``host`` is alive for the next ``HOST_TTL`` seconds."""
        self.redis.set(HOST_PREFIX + host, b"1", ex=HOST_TTL)

    def alive(self, host: str) -> bool:
        now = time.monotonic()
        cached = self._alive.get(host)
        if cached is not None and cached[0] > now:
            return cached[1]
        alive = bool(self.redis.exists(HOST_PREFIX + host))
        if len(self._alive) > 1000:
            self._alive.clear()
        self._alive[host] = (now + 1.0, alive)
        return alive

    def forget(self, session_id: str) -> None:
        """Read ``session_id``'s entry afresh next time (another process runs it now)."""
        self._cache.pop(session_id, None)


class Registry:
    """The app's sessions; see the module docstring."""

    def __init__(self, socketio, manager, config, store=None):
        self.socketio = socketio
        self.manager = manager
        self.config = config
        self.sessions: dict[str, Session] = {}
        self.clients: dict[str, str] = {}  # Socket.IO sid -> the session it watches
        self.limits = Limiter()  # rate limits per client address
        self.trusted_proxies = trusted_networks(config.get("TRUSTED_PROXIES", ""))
        self.owners: dict[str, str] = {}  # session id -> the address that created it
        self._announced: dict[str, int] = {}  # remote session -> watcher count last told
        self._asked: dict[str, float] = {}  # remote session -> when a frame was last asked
        self.remote: dict[str, dict[str, tuple[int, float]]] = {}  # session -> host -> (n, when)
        self.searches = Searches(socketio, config)
        self.lock = threading.Lock()
        self.host = getattr(manager, "host_id", "local")
        queue = config.get("MESSAGE_QUEUE")
        self.directory = Directory(queue) if queue else None
        manager.on_cluster = self.on_cluster
        if hasattr(manager, "watched_elsewhere"):
            manager.watched_elsewhere = self.watched_elsewhere
        self._started = False
        # Each session's recording, so that it survives its process (web/records.py).
        # A process id unique to this run (a restart is another process).
        self.process = self.host if self.host != "local" else new_id(12)
        # The embedded store is checkpointed here, off the event loop (store.SqliteStore).
        self._checkpoint = getattr(store, "checkpoint", None)
        self.records = (Records(store, config["SESSION_IDLE_SECONDS"], self.process,
                                config["TAKEOVER_TTL_SECONDS"],
                                config["SESSION_RECORD_TTL_SECONDS"])
                        if store is not None else None)

    # -- sessions ----------------------------------------------------------------------
    def address(self, environ: dict) -> str:
        """The client address a request's limits belong to (``limits.client_address``)."""
        return client_address(environ, self.trusted_proxies)

    def create(self, scenario: dict, owner: str = "local") -> Session:
        """A new running session created by the client at address ``owner``."""
        rate = offload(self.socketio, event_rate, scenario)
        limit = self.config["MAX_EVENT_RATE"]
        if rate > limit:
            raise ScenarioError(
                f"this scenario runs about {rate:,.0f} events per simulated second, more "
                f"than the {limit:,.0f} this server allows; use fewer nodes or slower timers")
        with self.lock:
            if len(self.sessions) >= self.config["MAX_SESSIONS"]:
                raise ScenarioError(f"this server already runs {len(self.sessions)} sessions, "
                                    "its limit; try again later")
            cap = self.config["SESSIONS_PER_ADDRESS"]
            if sum(1 for a in self.owners.values() if a == owner) >= cap:
                raise ScenarioError(f"this address already runs {cap} sessions on this "
                                    "server, its limit; close one (or let it expire) first")
            self._start_maintenance()
            sid = new_id(16)
            common = self._session_args(sid)
            if "compare" in scenario:  # a pair: run b counts as a session too
                if len(self.sessions) + 1 >= self.config["MAX_SESSIONS"]:
                    raise ScenarioError(f"this server already runs {len(self.sessions)} "
                                        "sessions, too many for a compare pair; try later")
                bid = new_id(16)
                session = PairSession(sid, new_id(24), scenario, twin_id=bid,
                                      twin_token=new_id(24),
                                      twin_audience=lambda: self.audience(bid), **common)
                self.sessions[bid] = session.twin
            else:
                session = Session(sid, new_id(24), scenario, **common)
            self.sessions[sid] = session
            self.owners[sid] = owner
        if self.directory is not None:
            self.directory.put(session, self.host)
            if isinstance(session, PairSession):
                self.directory.put(session.twin, self.host)
        session.start()
        self.changed(session)
        return session

    def _session_args(self, sid: str) -> dict:
        return {"socketio": self.socketio, "audience": lambda: self.audience(sid),
                "answer_waiting": self.manager.answer_waiting,
                "max_speed": self.config["MAX_SPEED"],
                "memory_budget": int(self.config["SESSION_MEMORY_MB"] * 2**20)}

    def get(self, session_id: str) -> Session | None:
        """The session, if this process runs it or can take it over from its record."""
        session = self.sessions.get(session_id)
        if session is None and self.records is not None:
            session = self._rebuild(session_id)
        return session

    def changed(self, session: Session) -> bool:
        """Save the record of a session that was created, controlled or acted on; False
        when another process has taken it over (this copy is stopped: ``_still_ours``)."""
        session = getattr(session, "leader", None) or session  # run b: run a's record
        if self.records is None:
            return True
        if not self._still_ours(session):
            return False
        self.records.save(session)
        return True

    def _rebuild(self, session_id: str) -> Session | None:
        """Take over a session nobody runs from its record (see web/records.py)."""
        if self.directory is not None:
            entry = self.directory.get(session_id)
            if entry is not None and entry["host"] != self.host and \
                    self.directory.alive(entry["host"]):
                return None  # its owner is alive
        record = self.records.load(session_id)
        if record is None:
            return None
        owner = record.get("owner")
        if self.directory is not None and owner not in (None, self.process) and \
                self.directory.alive(owner):
            return None  # the process that saved it last is alive: it runs it
        if "pair_of" in record:  # run b of a pair comes back with its run a
            return self.get(record["pair_of"]) and self.sessions.get(session_id)
        twin_id = record.get("twin")
        with self.lock:
            if session_id in self.sessions:
                return self.sessions[session_id]
            if len(self.sessions) + (twin_id is not None) >= self.config["MAX_SESSIONS"]:
                return None
            if not self.records.claim(session_id, record):
                return None  # another process is taking it over
            try:
                session = self._rebuilt(session_id, record)
            except (ScenarioError, KeyError, TypeError, ValueError):
                log.warning("the record of session %s does not rebuild it; deleted",
                            session_id, exc_info=True)
                self.records.delete(session_id)
                return None
            self._start_maintenance()
            # Held from now on, so that a request meanwhile waits for the replay (on the
            # session's lock) instead of finding no session.
            self.sessions[session_id] = session
            if twin_id is not None:
                self.sessions[twin_id] = session.twin
            self.owners[session_id] = "rebuilt"
        try:
            self._replay(session, record)
        except Exception:
            log.warning("session %s does not replay to its record; deleted", session_id,
                        exc_info=True)
            self.close(session_id)
            return None
        log.info("session %s rebuilt from its record at %g ms", session_id,
                 session.sim.now / 1000)
        if self.directory is not None:
            self.directory.put(session, self.host)
            if twin_id is not None:
                self.directory.put(session.twin, self.host)
        self.changed(session)  # this process's record now
        session.start()
        self.socketio.emit("resumed", {"session": session_id,
                                       "t_ms": round(session.sim.now / 1000, 3)},
                           to=room_of(session_id))
        return session

    def _rebuilt(self, session_id: str, record: dict) -> Session:
        """The session ``record`` describes (a pair if it names run b), at time 0."""
        scenario = share.decode(record["share"])
        common = {"token_sha256": record["token_sha256"], **self._session_args(session_id)}
        twin_id = record.get("twin")
        if twin_id is not None:
            return PairSession(session_id, None, scenario, twin_id=twin_id,
                               twin_token=new_id(24),
                               twin_audience=lambda: self.audience(twin_id), **common)
        return Session(session_id, None, scenario, **common)

    def _replay(self, session: Session, record: dict) -> None:
        """Replay a rebuilt session to its recorded moment (a pair's run b follows run
        a), in engine calls of bounded cost with a turn of the event loop between them
        (a long run does not hold up the other sessions); then let it play as it
        played."""
        now = int(round(float(record["t_ms"]) * 1000))
        frontier = max(now, int(round(float(record.get("frontier_ms", 0)) * 1000)))
        twin = getattr(session, "twin", None)
        with session.lock:
            while not session._call(lambda n: session.history.advance(frontier, n)):
                session._yield()
            if twin is not None:
                twin.follow("advance", frontier)
            if now < frontier:  # it had been sought back: the same moment and frontier
                while not session._call(lambda n: session.history.seek(now, n)):
                    session._yield()
                if twin is not None:
                    twin.follow("seek", now)
            session.speed = record.get("speed", 1.0)
            session.lecture = bool(record.get("lecture"))
            session.playing = bool(record.get("playing")) and session.sim.now < session.end_us
            session._wall = time.monotonic()
            session.resumed = True
            if twin is not None:
                twin.playing, twin.speed, twin.resumed = session.playing, session.speed, True
            session.want_full = True

    def elsewhere(self, session_id: str) -> dict | None:
        """The directory entry of a session another process runs, if any."""
        if self.directory is None or session_id in self.sessions:
            return None
        entry = self.directory.get(session_id)
        if entry is None or entry["host"] == self.host:
            return None
        return entry

    def token_matches(self, entry: dict, token: str) -> bool:
        return secrets.compare_digest(entry["token_sha256"], _digest(token))

    def close(self, session_id: str) -> None:
        with self.lock:
            session = self.sessions.get(session_id)
            session = getattr(session, "leader", session)  # run b closes with its run a
            if session is None:
                return
            self.sessions.pop(session.id, None)
            self.owners.pop(session.id, None)
            twin = getattr(session, "twin", None)
            if twin is not None:
                self.sessions.pop(twin.id, None)
        self.searches.cancel(session.id)
        session.close()
        if self.records is not None:
            self.records.delete(session.id)
            if twin is not None:
                self.records.delete(twin.id)
        # The upkeep loop freezes the heap (see ``_maintain``); a frozen session is never
        # collected, so unfreeze everything and collect once: its cycles go now.
        collect_heap()
        if self.directory is not None:
            try:
                self.directory.remove(session.id)
                if twin is not None:
                    self.directory.remove(twin.id)
            except Exception:
                log.exception("cannot remove session %s from the directory", session_id)

    def _still_ours(self, session: Session) -> bool:
        """Whether this process still runs ``session`` (run a, for a pair). A process
        stalled past ``HOST_TTL`` (or cut off from Redis) is given up for dead, and
        another may take its sessions over while it is in fact alive: the record then
        names that other process, which beats. This copy stops, without touching the
        record or the directory entry (the new owner's now), and its clients here are
        told (``resumed`` with ``moved``): they join again, as after a reconnect, and
        find the session on its owner."""
        if self.directory is None or self.records is None:
            return True  # one process: a record saved by another is a dead one's
        owner = self.records.owner(session.id)
        if owner is None or owner == self.process or not self.directory.alive(owner):
            return True
        log.warning("session %s was taken over by %s while this process was given up for "
                    "dead; this copy stops and its clients here move", session.id, owner)
        twin = getattr(session, "twin", None)
        ids = [session.id] + ([twin.id] if twin is not None else [])
        with self.lock:
            for session_id in ids:
                self.sessions.pop(session_id, None)
                self.owners.pop(session_id, None)
        self.searches.cancel(session.id)
        session.close()
        for session_id in ids:
            self.directory.forget(session_id)
            self.manager.forget(session_id, "resumed", {"session": session_id, "moved": True})
        collect_heap()
        return False

    def _take_over_orphans(self) -> None:
        """Rebuild the sessions watched here whose owner process stopped beating: the
        watchers are in the session's room already, so the first frame of the rebuilt
        session reaches them (see web/records.py)."""
        if self.records is None:
            return
        for session_id in list(self.manager.watched_sessions()):
            if session_id in self.sessions:
                continue
            entry = self.directory.get(session_id)
            if entry is not None and self.directory.alive(entry["host"]):
                continue
            session = self._rebuild(session_id)
            if session is not None:
                log.warning("session %s taken over: its owner %s stopped", session_id,
                            entry["host"] if entry else "(unknown)")
                session.poke(True)

    # -- audience ----------------------------------------------------------------------
    def audience(self, session_id: str) -> int:
        return self.manager.local_watchers(session_id) + self._remote_watchers(session_id)

    def watched_elsewhere(self, session_id: str) -> bool:
        """Whether clients of other processes watch this process's session."""
        return self._remote_watchers(session_id) > 0

    def _remote_watchers(self, session_id: str) -> int:
        remote = self.remote.get(session_id)
        if not remote:
            return 0
        cutoff = time.monotonic() - REMOTE_TTL
        return sum(n for n, when in remote.values() if when >= cutoff)

    def watch(self, sid: str, session_id: str) -> None:
        """Record that client ``sid`` now watches ``session_id`` (and only that one)."""
        self.clients[sid] = session_id
        with self.lock:
            self._start_maintenance()
        shown = self.manager.watch(sid, session_id)
        self.announce(session_id)  # first, so the owner publishes the frame asked for next
        if not shown:  # no picture here yet: ask for one
            self.want_frame(session_id, full=True)

    def unwatch(self, sid: str, disconnecting: bool = False) -> str | None:
        session_id = self.clients.pop(sid, None)
        self.manager.unwatch(sid)
        if session_id is not None:
            self.announce(session_id, minus=1 if disconnecting else 0)
        return session_id

    # -- cluster messages ----------------------------------------------------------------
    def want_frame(self, session_id: str, full: bool) -> None:
        """Ask the session for a frame: directly, or through the cluster channel at most
        once per ``ASK_EVERY`` per session (one full frame serves every client here)."""
        session = self.sessions.get(session_id)
        if session is not None:
            session.poke(full)
        elif self.directory is not None:
            now = time.monotonic()
            if now - self._asked.get(session_id, -ASK_EVERY) < ASK_EVERY:
                return
            self._asked[session_id] = now
            self.socketio.emit(CLUSTER_PREFIX + "frame_wanted",
                               {"session": session_id, "full": full})

    def announce(self, session_id: str, minus: int = 0, always: bool = False) -> None:
        """Tell the process that runs ``session_id`` how many clients watch it here.

        Only whether anyone watches matters to the owner, so a join or leave is told at
        once only when it crosses zero (a class joining at once sends one message, not
        one each); the upkeep loop sends every count again every ``ANNOUNCE_EVERY``.
        """
        if self.directory is None or session_id in self.sessions:
            return
        count = max(0, self.manager.local_watchers(session_id) - minus)
        told = self._announced.get(session_id)
        if not always and told is not None and (told > 0) == (count > 0):
            return
        self._announced[session_id] = count
        if count == 0:
            self._announced.pop(session_id, None)
        self.socketio.emit(CLUSTER_PREFIX + "watchers",
                           {"session": session_id, "host": self.host, "count": count})

    def on_cluster(self, event: str, data) -> None:
        """A cluster message from this or another process, or the local fan-out's
        ``need_full`` (it holds a delta without its base). Messages from the channel are
        acted on, never re-broadcast."""
        if not isinstance(data, dict):
            return
        if event == CLUSTER_PREFIX + "need_full":  # from this process's fan-out
            self.want_frame(data["session"], full=True)
            return
        session = self.sessions.get(data.get("session"))
        if session is None:
            return
        if event == CLUSTER_PREFIX + "frame_wanted":
            session.poke(bool(data.get("full", True)))
        elif event == CLUSTER_PREFIX + "watchers" and data.get("host") != self.host:
            hosts = self.remote.setdefault(session.id, {})
            before = hosts.get(data["host"], (0, 0))[0]
            hosts[data["host"]] = (int(data.get("count", 0)), time.monotonic())
            if data.get("count", 0) > before:
                session.wake.set()

    # -- upkeep --------------------------------------------------------------------------
    def _start_maintenance(self) -> None:
        if not self._started:
            self._started = True
            tune_collector()
            self.socketio.start_background_task(self._maintain)

    def _maintain(self) -> None:
        """Expire idle sessions, refresh cluster state, and keep garbage collection short.

        Simulations hold long-lived data (traces, checkpoints) that a full collection
        would walk every time, pausing every session for tens of milliseconds per
        collection and more as traces grow. Every ``FREEZE_EVERY`` seconds what has
        survived so far is frozen (``gc.freeze``), so collections only walk recent
        objects; closing a session unfreezes everything and collects once, so its memory is
        freed, and so does this loop every ``COLLECT_EVERY`` seconds (a setting; None or 0:
        never), so the reference cycles of the web layer (Socket.IO packets, requests) that
        a freeze caught go even while no session closes (``freeze_heap`` frees most of
        them before they are frozen; docs/deployment.md measures both).
        """
        last_announce = last_directory = last_freeze = last_save = last_collect = \
            last_beat = last_checkpoint = time.monotonic()
        while True:
            self.socketio.sleep(1.0)
            try:
                now = time.monotonic()
                if self.directory is not None and now - last_beat >= HOST_TTL:
                    # This process may have been given up for dead meanwhile (it stalled,
                    # or could not beat): see at once whether its sessions are still its.
                    last_save = now - SAVE_EVERY
                collect_every = self.config["COLLECT_EVERY"]
                if collect_every and now - last_collect >= collect_every:
                    last_collect = now
                    pause = collect_heap()
                    if pause > COLLECT_SLOW:
                        log.info("a full garbage collection paused the process %.0f ms",
                                 pause * 1000)
                if now - last_freeze >= FREEZE_EVERY:
                    last_freeze = now
                    freeze_heap()
                self.manager.forget_unwatched()
                self._asked = {k: v for k, v in self._asked.items() if now - v < ASK_EVERY}
                idle = self.config["SESSION_IDLE_SECONDS"]
                for session in list(self.sessions.values()):
                    if getattr(session, "leader", None) is not None:
                        continue  # run b of a pair: it ends with its run a
                    if self.audience(session.id) > 0:
                        session.last_active = now
                    elif now - session.last_active > idle:
                        log.info("session %s expired after %g s idle", session.id, idle)
                        self.close(session.id)
                        continue
                    if now - last_save >= SAVE_EVERY:
                        self.changed(session)
                        self.socketio.sleep(0)  # one record at a time between the frames
                if now - last_save >= SAVE_EVERY:
                    last_save = now
                if self._checkpoint is not None and now - last_checkpoint >= CHECKPOINT_EVERY:
                    last_checkpoint = now
                    offload(self.socketio, self._checkpoint)
                if self.directory is not None:
                    self.directory.beat(self.host)
                    last_beat = now
                    self._take_over_orphans()
                    if now - last_announce >= ANNOUNCE_EVERY:
                        last_announce = now
                        for session_id in self.manager.watched_sessions():
                            self.announce(session_id, always=True)
                    if now - last_directory >= DIRECTORY_TTL / 3:
                        last_directory = now
                        for session in list(self.sessions.values()):
                            leader = getattr(session, "leader", None) or session
                            if leader.id in self.sessions and self._still_ours(leader):
                                self.directory.put(session, self.host)
            except Exception:
                log.exception("session upkeep failed; retrying")
