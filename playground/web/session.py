"""One live session: a simulation, its history, and the runner that paces it.

Theory of operation
-------------------
A :class:`Session` owns a scenario, the :class:`~playground.engine.simulation.Simulation`
built from it and the :class:`~playground.engine.history.History` that seeks and forks it.
Requests from the socket handlers (``control``, ``act``) and the runner's ticks both hold
the session's lock, so the simulation only ever sees one caller at a time.

The **runner** is one background task per session. While the session plays and somebody
watches, each tick advances simulated time by the wall time elapsed times the speed (or,
at ``"max"``, by as much as fits in one slice), stops early at a narrative caption
marked ``pause``, and emits one frame; ticks are at most 30 per second. Paused or
unwatched, the runner sleeps until a request wakes it.

**Bounded work.** No computation holds the event loop for more than a slice of about
``SLICE_SECONDS``: the engine is driven in calls of a bounded number of queue entries
(tuned to take a few ms each), and long work (a step or seek of many simulated seconds)
yields between slices, shows its progress to watchers (the frame's ``busy``) and stops
early when a newer request of the same session comes in (it is *superseded*; its answer
says so). A tick computes one slice at most, and the runner then waits at least as long
as that slice took, so one session never has more than about half of the process.
A session that cannot keep up with its speed falls behind instead of catching up: its
frames carry ``slowed`` with the speed it actually reaches, and other sessions are not
touched.

A playing session's frames are paced by their cost too: one that takes c seconds to
build and send comes at most every ``c / FRAME_COST_SHARE`` seconds.

**Memory.** A session's memory (trace records, checkpoints, live state) is estimated by
``History.memory_bytes`` and kept under ``memory_budget``: past it the session stops with
a ``notice`` that says so; seeking back and forking frees what lay beyond. A control or an action emits a
frame as soon as it is applied, so every watcher sees its effect at once. Frames are
built and handed to the fan-out while holding the lock, so their ``seq`` numbers leave in
order whoever emits them. Metrics and the model's panel are recomputed at most
``SLOW_EVERY`` frames apart while playing (charts need no more), and in every other frame.

A live action is recorded at the current simulated time (forking first when the session
was rewound), so ``recorded(scenario, sim)`` — and the share link made from it — replays
exactly what the audience saw.

**The script.** A scenario's timed commands and narrative are its script. A live action,
or a fork that drops scripted commands, leaves it: the later scripted commands are
dropped (the run forks) and the scenario records the moment as ``diverged_ms``, so every
caption after it is sent marked ``diverged`` (it was written for the original run), in
this session and in any replay of its share link. ``script`` rebuilds the original run
and stops at that moment. Captions may name roles, ``{leader}``, rendered with the node
that plays the role now. In lecture mode (``lecture``) a caption that does not pause stays
on screen at least ``DWELL`` seconds of wall time: the runner holds just before the next
caption until then. ``play`` with a time stops there (PageDown: play to the next caption). An exception raised by the model ends the session's run:
it is logged, the session answers every later request with the error, and its clients get
a ``failure`` with the link that reproduces it. Other sessions are untouched.
"""

from __future__ import annotations

import bisect
import gc
import hashlib
import hmac
import logging
import re
import threading
import time

from ..engine import commands as C
from ..engine.errors import ScenarioError
from ..engine.history import History
from ..engine.trace import record_json
from ..models.base import Status
from ..scenarios import build, presets, recorded, share
from ..scenarios.schema import MAX_BYTES, MAX_COMMANDS, unanswered
from . import serializer
from .fanout import room_of

log = logging.getLogger(__name__)

FPS = 30
MAX_TICK_WALL = 0.25  # s of wall time one tick may catch up (a stalled runner does not leap)
SLICE_SECONDS = 0.02  # s of computation before the event loop gets a turn
PROGRESS_EVERY = 0.25  # s between frames that show the progress of long work
CALL_SECONDS = (0.002, 0.006)  # the time one engine call aims at (queue entries tuned)
MIN_SPEED = 0.01
SLOWED_FOR = 15  # ticks a session must keep up before it is no longer shown as slowed
FRAME_COST_SHARE = 0.25  # of the wall time a playing session may spend on its frames
SLOW_EVERY = 6  # frames between recomputing metrics and the panel while playing (5 per s)
DWELL = 3.0  # s of wall time a caption stays on screen in lecture mode before the next one
_ROLE_NAME = re.compile(r"\{([a-z][a-z _-]{0,30})\}")


# The process has one heap: a freeze must not fall between the registry's unfreeze and
# collection when a session closes (tests run several apps and threads in one process).
HEAP = threading.Lock()


EXPEDITE_TURNS = 3  # turns of the event loop a runner lets go by for an answer to leave
FREEZE_EVERY = 0.1  # s at least between two freezes of the heap
COLLECT_BEFORE_FREEZE = True  # collect the young objects first (benchmarks/gc_heap.py)
YOUNG = 1  # the generations collected before a freeze: 0 and 1, never the whole heap
YOUNGEST_THRESHOLD = 10_000  # allocations between automatic collections of generation 0


def tune_collector() -> None:
    """Collect the youngest generation automatically after ``YOUNGEST_THRESHOLD`` net
    allocations instead of Python's 700.

    While sessions play, ``freeze_heap`` collects the young generations ten times a
    second anyway; the automatic collections in between walked the same young objects
    (the frames and documents of every session, alive until their next frame) over and
    over, and with 50 sessions cost about a tenth of the process's CPU
    (``benchmarks/frame_cost.py`` counts them)."""
    gc.set_threshold(YOUNGEST_THRESHOLD, *gc.get_threshold()[1:])


def freeze_heap() -> None:
    """Move every object that has survived so far out of the cyclic collector's way
    (``gc.freeze``), at most every FREEZE_EVERY: long work allocates millions of trace
    records, and a full collection would walk all of them between two slices.

    Frozen garbage is never collected, so each freeze first collects the two young
    generations (``YOUNG``: most objects made since the last freeze; about half a
    millisecond, where collecting all that is not frozen yet took up to 40 ms in long
    work): most reference cycles the web layer drops (Socket.IO packets, requests) go
    then. Simulations build no reference cycles; a cycle still in use at a freeze, or
    already in the oldest generation, is freed by ``collect_heap``, when a session
    closes and every ``COLLECT_EVERY`` seconds (docs/deployment.md has the figures)."""
    global _frozen_at
    now = time.monotonic()
    if now - _frozen_at >= FREEZE_EVERY:
        _frozen_at = now
        with HEAP:
            if COLLECT_BEFORE_FREEZE:
                gc.collect(YOUNG)  # the young generations only: what came since the last
            gc.freeze()


_frozen_at = 0.0
_slicing = 0  # sessions of this process running long work in slices now


def collect_heap() -> float:
    """Unfreeze the heap and run one full collection, so that garbage frozen since the
    last one (and a closed session) is freed; the pause it took, in seconds."""
    with HEAP:
        started = time.perf_counter()
        gc.unfreeze()
        gc.collect()
        return time.perf_counter() - started


def offload(socketio, fn, *args):
    """``fn(*args)`` for work that cannot be sliced (validating a large scenario,
    estimating its cost, checkpointing the SQLite store, which waits for the disk): under
    eventlet in a thread of its own, so the event loop keeps its turns (the interpreter
    switches threads every few ms); else here."""
    if socketio.async_mode == "eventlet":
        from eventlet import tpool  # only where eventlet already runs the server

        return tpool.execute(fn, *args)
    return fn(*args)


class OverBudget(ScenarioError):
    """The session holds more memory than its budget allows."""


class Session:
    """A live simulation with its controls; see the module docstring."""

    def __init__(self, session_id: str, token: str | None, scenario: dict, *, socketio,
                 audience, max_speed: float, memory_budget: int | None = None,
                 token_sha256: str | None = None, answer_waiting=None):
        self.id = session_id
        self.token = token  # None for a session rebuilt from its record: only the hash is kept
        self.token_sha256 = token_sha256 or hashlib.sha256(token.encode()).hexdigest()
        self.scenario = scenario
        self.sim = build(scenario)
        self.history = History(self.sim)
        self.node_ids = self.sim.node_ids
        self.frames = serializer.FrameBuilder(session_id)
        self.socketio = socketio
        self.audience = audience  # callable: how many clients watch, on every process
        # callable: whether a frame answering a client's request waits to be written
        self.answer_waiting = answer_waiting or (lambda: False)
        self.max_speed = max_speed
        self.end_us = scenario["duration_ms"] * 1000
        self.playing = False
        self.speed: float | str = 1.0
        self.failure: dict | None = None
        self.finished = False
        self.script = _script_of(scenario)  # the original run, to go back to (or None)
        self.until_us: int | None = None  # play stops here (PageDown)
        self.lecture = False
        self.resumed = False  # rebuilt from its record after its process was lost
        self._shown = (None, 0.0)  # (the caption on screen, wall time it appeared)
        self.share = share.pack(scenario)  # validated by the caller
        self.lock = threading.RLock()
        self.wake = socketio.server.eio.create_event()
        self.stopped = socketio.server.eio.create_event()  # set when the runner has ended
        self._running = False
        self.want_frame = False
        self.want_full = True
        self.closed = False
        self.last_active = time.monotonic()
        self._wall = time.monotonic()
        self._carry = 0.0
        self.memory_budget = memory_budget  # bytes (History.memory_bytes), None: no limit
        self.generation = 0  # bumped by every request: long work older than it stops
        self.busy: dict | None = None  # long work under way: {"op", "done"}
        self.slowed: dict | None = None  # {"speed": reached} while it cannot keep up
        self.notice: str | None = None  # why the session stopped by itself (a limit)
        self.cpu_seconds = 0.0  # computation spent on this session's simulation
        self._chunk = 256  # queue entries per engine call, tuned to CALL_SECONDS
        self._slow_ticks = 0
        self._reached = [0.0, 0.0]  # simulated and wall seconds of recent ticks (decaying)
        self._last_cost = 0.0  # s the last tick computed
        self._frame_cost = 0.0  # s a frame takes to build and send (decaying average)
        self._last_frame = 0.0  # when the last frame was sent (time.monotonic)

    def token_ok(self, token: str) -> bool:
        """Whether ``token`` controls this session (compared by its SHA-256)."""
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        return hmac.compare_digest(digest, self.token_sha256)

    # -- links -------------------------------------------------------------------------
    @property
    def share_url(self) -> str:
        return "/s/" + self.share

    @property
    def watch_url(self) -> str:
        return "/w/" + self.id

    def metadata(self) -> dict:
        """What a client needs to label the session (sent on join and in full frames)."""
        sc = self.scenario
        return {"model": sc["model"], "name": sc.get("name"), "title": sc.get("title"),
                "description": sc.get("description"), "claims": sc.get("claims", []),
                "expected": sc.get("expected"), "seed": sc["seed"], "nodes": sc["nodes"],
                "node_ids": list(self.node_ids), "variant": sc["variant"],
                "params": sc["params"], "network": sc["network"],
                "duration_ms": sc["duration_ms"], "narrative": [unanswered(c) for c in sc["narrative"]],
                "lecture_speed": sc.get("lecture_speed"),
                "helpers": [n for n in self.sim.node_ids if self.sim.model.is_helper(n)],
                "node_roles": {n: self.sim.model.role_of(n) for n in self.sim.node_ids},
                "share_url": self.share_url, "watch_url": self.watch_url}

    # -- the runner ----------------------------------------------------------------------
    def start(self) -> None:
        self._running = True
        self.socketio.start_background_task(self._run)

    def close(self, wait: float = 2.0) -> None:
        """Stop the runner (waiting up to ``wait`` s for it) and let go of the simulation,
        so that it is garbage as soon as the registry collects, whoever still holds the
        session for a moment."""
        self.closed = True
        self.wake.set()
        if self._running:
            self.stopped.wait(wait)
        with self.lock:
            self.sim = self.history = None

    def poke(self, full: bool = False) -> None:
        """Ask the runner for a frame now (a full one if ``full``). Takes no lock, so a
        client joining during long work is not held up by it."""
        self.want_frame = True
        self.want_full = self.want_full or full
        self.wake.set()

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self.stopped.set()

    def _loop(self) -> None:
        interval = 1 / FPS
        next_tick = time.monotonic()
        while not self.closed:
            self._let_answers_go()
            started = time.monotonic()
            self.wake.clear()
            with self.lock:
                watched = self.audience() > 0
                active = self.playing and watched and self.failure is None
                try:
                    if active:
                        self._tick(started)
                        freeze_heap()
                    else:
                        self._wall = started
                    stopped = active and not self.playing  # its last frame always goes
                    if watched and (self.want_frame or stopped
                                    or active and self._frame_due(started)):
                        self._emit_frame()
                except OverBudget as exc:
                    self._stop_over_budget(exc)
                except Exception as exc:  # the model or the engine failed: stop this run
                    self._fail(exc)
                self._last_cost = time.monotonic() - started
            if active and self.playing:
                # Ticks on a fixed schedule, 30 per second. A runner that fell a whole tick
                # behind (the process is short of CPU) drops the missed ticks instead of
                # rushing through them: simulated time follows the wall clock anyway, and
                # every wait is a real one, so the other sessions and requests get their turn.
                # A tick that computed for c seconds is followed by a wait of at least c:
                # a session that cannot keep up takes half the process at most.
                next_tick += interval
                now = time.monotonic()
                if next_tick <= now:
                    next_tick = now + interval
                self.wake.wait(max(next_tick - now, self._last_cost))
            else:
                next_tick = time.monotonic()
                self.wake.wait(1.0)

    def _let_answers_go(self) -> None:
        """Before a tick, let the event loop turn while a client's request is being
        answered (``answer_waiting``: web/fanout.py), so that its answer does not wait
        behind this tick: EXPEDITE_TURNS turns at most, and none while some session runs
        long work in slices (a turn would then be one of its slices, and this session's
        watchers would wait for them)."""
        for _ in range(EXPEDITE_TURNS):
            if _slicing or not self.answer_waiting():
                return
            self._yield()

    def _tick(self, wall: float) -> None:
        """Advance simulated time for the wall time since the previous tick, one slice at
        most; a session that does not get there is slowed (it falls behind, it does not
        catch up later)."""
        sim = self.sim
        elapsed = min(MAX_TICK_WALL, wall - self._wall)
        self._wall = wall
        start = sim.now
        stop = self.end_us
        pause_at = self._next_pausing_caption(start)
        if self.until_us is not None:
            pause_at = self.until_us if pause_at is None else min(pause_at, self.until_us)
        if pause_at is not None:
            stop = min(stop, pause_at)
        elif self.lecture:
            stop = min(stop, self._dwell_limit(start, wall))
        if self.speed == "max":
            target = stop
        else:
            self._carry += elapsed * self.speed * 1_000_000
            step = int(self._carry)
            self._carry -= step
            target = min(stop, start + step)
        deadline = time.monotonic() + SLICE_SECONDS
        while True:
            done = self._call(lambda n: self.history.advance(target, n))
            if done or time.monotonic() >= deadline:
                break
        if self.speed != "max":
            self._keep_up(done, (sim.now - start) / 1e6, elapsed)
        if not done:  # amid an instant, maybe: the next tick finishes it
            return
        if sim.now >= self.end_us:
            self.playing = False
            self._finish()
        elif pause_at is not None and sim.now >= pause_at:
            self.playing = False
            self.until_us = None

    def _dwell_limit(self, now_us: int, wall: float) -> int:
        """How far the run may go in lecture mode: to just before the next caption while
        the one on screen has not been there ``DWELL`` seconds, else to just before the
        caption after the next (so no caption is ever skipped)."""
        times = [int(round(c["at_ms"] * 1000)) for c in self.scenario["narrative"]]
        nxt = bisect.bisect_right(times, now_us)
        if nxt and self._shown[0] != nxt - 1:
            self._shown = (nxt - 1, wall)
        if nxt and wall - self._shown[1] < DWELL and nxt < len(times):
            return times[nxt] - 1
        return times[nxt + 1] - 1 if nxt + 1 < len(times) else self.end_us

    def _keep_up(self, done: bool, simulated: float, elapsed: float) -> None:
        """Per-session CPU accounting: whether this session keeps up with its speed."""
        reached = self._reached
        reached[0] = reached[0] * 0.9 + simulated
        reached[1] = reached[1] * 0.9 + elapsed
        if not done:
            self._carry = 0.0  # the time it could not compute is skipped, not owed
            self._slow_ticks = SLOWED_FOR
        elif self._slow_ticks:
            self._slow_ticks -= 1
        if self._slow_ticks and reached[1] > 0:
            self.slowed = {"speed": float(f"{reached[0] / reached[1]:.2g}")}
        else:
            self.slowed = None

    def _call(self, work) -> bool:
        """One engine call ``work(limit)`` of a bounded number of queue entries, tuned to
        take about CALL_SECONDS; accounts its time and, when the timeline grew, checks
        the memory budget (moving within what was computed is always allowed)."""
        frontier = self.history.frontier
        started = time.monotonic()
        done = work(self._chunk)
        took = time.monotonic() - started
        self.cpu_seconds += took
        if took < CALL_SECONDS[0] and not done:
            self._chunk = min(self._chunk * 2, 1 << 20)
        elif took > CALL_SECONDS[1]:
            self._chunk = max(self._chunk // 2, 16)
        if self.history.frontier > frontier:
            self._check_memory()
        return done

    def _check_memory(self) -> None:
        if self.memory_budget is None:
            return
        held = self.history.memory_bytes()
        if held > self.memory_budget:
            raise OverBudget(
                f"this session holds about {held / 2**20:.0f} MiB, more than the "
                f"{self.memory_budget / 2**20:.0f} MiB one session may hold on this server; "
                "seek back and fork to free what lies beyond, or start a new session")

    def _stop_over_budget(self, exc: OverBudget) -> None:
        """Stop playing at the memory budget and say why (lock held)."""
        self.playing = False
        self.notice = str(exc)
        self.want_frame = True
        if self.audience() > 0:
            self._emit_frame()

    def _sliced(self, op: str, work, progress) -> bool:
        """Run ``work(limit)`` until it answers True, in slices of about SLICE_SECONDS
        with a turn of the event loop between them, showing watchers ``progress()``
        (0 to 1) now and then; False when a newer request superseded it (lock held)."""
        global _slicing
        generation = self.generation
        slice_start = shown = time.monotonic()
        _slicing += 1
        try:
            while not self._call(work):
                now = time.monotonic()
                if now - slice_start < SLICE_SECONDS:
                    continue
                if now - shown >= PROGRESS_EVERY and self._frame_due(now):
                    shown = now
                    self.busy = {"op": op, "done": round(min(1.0, max(0.0, progress())), 3)}
                    if self.audience() > 0:
                        self._emit_frame()
                freeze_heap()
                self._yield()
                if self.generation != generation or self.closed:
                    return False
                slice_start = time.monotonic()
            return True
        finally:
            _slicing -= 1
            self.busy = None

    def _yield(self) -> None:
        """Give the event loop a turn (the lock stays held: this session waits)."""
        self.socketio.sleep(0)

    def _next_pausing_caption(self, after_us: int) -> int | None:
        for caption in self.scenario["narrative"]:
            at = int(round(caption["at_ms"] * 1000))
            if at > after_us and caption.get("pause"):
                return at
        return None

    def _caption(self) -> dict | None:
        """The caption on screen now: its roles named, marked if the run left the script
        before it."""
        shown = None
        for caption in self.scenario["narrative"]:
            if caption["at_ms"] * 1000 <= self.sim.now:
                shown = caption
        if shown is None:
            return None
        diverged = self.scenario.get("diverged_ms")
        out = {**unanswered(shown),
               "diverged": diverged is not None and shown["at_ms"] > diverged}
        if "{" in shown["text"]:
            out["text"] = _ROLE_NAME.sub(self._player, shown["text"])
        return out

    def _player(self, match) -> str:
        """``{leader}`` in a caption: the live node that plays that role now."""
        sim, role = self.sim, match.group(1)
        for nid in sim.node_ids:
            node = sim.nodes[nid]
            if node.status is not Status.CRASHED and sim.model.role(node.state) == role:
                return nid
        return f"(no {role})"

    def _script_section(self) -> dict:
        diverged = self.scenario.get("diverged_ms")
        return {"diverged_ms": diverged, "can_return": diverged is not None
                and self.script is not None}

    def _finish(self) -> None:
        if not self.finished:
            self.finished = True
            self.sim.finish()

    def _emit_frame(self) -> None:
        """Build the next frame and hand it to the fan-out (holding the lock, so frames
        leave in ``seq`` order whoever emits them)."""
        started = time.monotonic()
        frame = self._frame()
        try:
            self.socketio.emit("frame", frame, to=room_of(self.id))
        except Exception:  # delivery trouble is not the simulation's: log it and go on
            log.exception("session %s: frame %d could not be delivered", self.id,
                          frame["seq"])
            self.want_full = True
        done = time.monotonic()
        self._frame_cost = 0.7 * self._frame_cost + 0.3 * (done - started)
        self._last_frame = done

    def _frame_due(self, now: float) -> bool:
        """Whether a playing session's next frame is due: frames that cost c seconds to
        build and send come at most every FRAME_COST_SHARE⁻¹ × c (a 101-node session's
        frames are costly; a 5-node session's come on every tick)."""
        return now - self._last_frame >= self._frame_cost / FRAME_COST_SHARE

    def _frame(self) -> dict:
        full = self.want_full
        self.want_frame = self.want_full = False
        sections = {"frontier_ms": round(self.history.frontier / 1000, 3),
                    "duration_ms": self.scenario["duration_ms"], "playing": self.playing,
                    "speed": self.speed, "caption": self._caption(),
                    "script": self._script_section(),
                    "share_url": self.share_url, "failure": self.failure,
                    "busy": self.busy, "slowed": self.slowed, "notice": self.notice}
        if full:
            sections["scenario"] = self.metadata()
        # Metrics and the panel: in every frame of a paused session, in every SLOW_EVERY-th
        # while playing, and not in the progress frames of long work (its end has them).
        slow = full or (self.busy is None and (not self.playing
                                               or self.frames.seq % SLOW_EVERY == 0))
        sections.update(self.extra_sections(slow))
        return self.frames.build(self.sim, full=full, sections=sections, slow=slow)

    def extra_sections(self, slow: bool) -> dict:
        """Frame sections of a kind of session (a compare pair's ``pair``); none here."""
        return {}

    def _fail(self, exc: Exception) -> dict:
        """Stop the run after an exception; tell the session's clients (lock held)."""
        log.exception("session %s failed at t=%d µs", self.id, self.sim.now)
        self.playing = False
        try:
            replay = share.link_path(recorded(self.scenario, self.sim))
        except Exception:  # the recorded scenario itself is unusable; offer the last good one
            replay = self.share_url
        self.failure = {"session": self.id, "error": f"{type(exc).__name__}: {exc}"[:300],
                        "at_ms": round(self.sim.now / 1000, 3), "replay_url": replay}
        self.socketio.emit("failure", self.failure, to=room_of(self.id))
        try:
            self.want_full = True
            self._emit_frame()
        except Exception:
            log.exception("session %s: cannot draw the failed simulation", self.id)
        return self.failure

    # -- requests (called by the socket handlers) ----------------------------------------
    def _answered(self, started: bool = False) -> None:
        """After a request changed the session its watchers see the result at once (lock
        held); ``started``: the session just began to play, so the runner wakes to tick."""
        if self.audience() > 0:
            self._emit_frame()
        else:
            self.want_frame = True
        if started:
            self.wake.set()

    def _guard(self) -> None:
        if self.closed:
            raise ScenarioError(f"session {self.id} has ended")
        if self.failure is not None:
            raise ScenarioError(f"this session's simulation failed ({self.failure['error']}); "
                                f"replay it from {self.failure['replay_url']}")

    def control(self, op: str, value) -> dict:
        """Apply one control operation; the answer's extra fields, or ScenarioError. Any
        long work under way in this session stops first (it is superseded)."""
        self.generation += 1
        with self.lock:
            self.last_active = time.monotonic()
            self._guard()
            self.notice = None
            try:
                answer = self._control(op, value)
            except OverBudget as exc:
                self._stop_over_budget(exc)
                raise
            except ScenarioError:
                raise
            except Exception as exc:
                failure = self._fail(exc)
                raise ScenarioError(f"the simulation failed: {failure['error']}") from None
            self._answered(started=op == "play")
        return answer

    def _control(self, op: str, value) -> dict:
        sim = self.sim
        if op not in ("lecture", "speed"):
            self.until_us = None
        if op == "play":
            if sim.now >= self.end_us:
                raise ScenarioError(f"the run has reached its end ({self.end_us / 1000:g} ms); "
                                    "seek back to play again")
            if value is not None:
                until = int(round(value * 1000))
                if until <= sim.now:
                    raise ScenarioError(f"play: {value:g} ms is not after the present "
                                        f"({sim.now / 1000:g} ms)")
                self.until_us = min(until, self.end_us)
            self.playing = True
            self._wall = time.monotonic()
            self._carry = 0.0
        elif op == "pause":
            self.playing = False
        elif op == "step":
            self.playing = False
            if value is None:
                target = sim.next_time()
                if target > self.end_us:
                    raise ScenarioError("nothing is left to run before the end of the scenario")
            else:
                target = min(self.end_us, sim.now + int(round(value * 1000)))
            target = int(target)
            start = sim.now
            if not self._sliced("step", lambda n: self.history.advance(target, n),
                                lambda: (sim.now - start) / max(1, target - start)):
                return {"t_ms": round(sim.now / 1000, 3), "superseded": True}
            if sim.now >= self.end_us:
                self._finish()
        elif op == "speed":
            self.speed = value
            self._carry = 0.0
        elif op == "seek":
            frontier_ms = self.history.frontier / 1000
            if value > frontier_ms:
                raise ScenarioError(f"seek: {value:g} ms is beyond the furthest moment computed "
                                    f"({frontier_ms:g} ms)")
            target = int(round(value * 1000))
            start = min(sim.now, target)
            self.finished = False
            self.want_full = True
            if not self._sliced("seek", lambda n: self.history.seek(target, n),
                                lambda: (sim.now - start) / max(1, target - start)):
                return {"t_ms": round(sim.now / 1000, 3), "superseded": True}
        elif op == "fork":
            before = len(sim.timeline())
            self.history.fork()
            if len(sim.timeline()) < before:  # scripted commands dropped: the script is left
                self._diverge()
            self.finished = False
            self.share = share.encode(recorded(self.scenario, sim))
            self.want_full = True
        elif op == "lecture":
            self.lecture = value
        elif op == "script":
            self._back_to_script()
        return {"t_ms": round(sim.now / 1000, 3)}

    def _diverge(self) -> None:
        """Note that the run leaves its script now (unless it left it earlier)."""
        now_ms = self.sim.now / 1000
        if self.scenario.get("diverged_ms", now_ms) >= now_ms:
            self.scenario = {**self.scenario, "diverged_ms": now_ms}

    def _back_to_script(self) -> None:
        """Rebuild the original run and stop at the moment the session left it."""
        diverged = self.scenario.get("diverged_ms")
        if diverged is None:
            raise ScenarioError("script: this run has not left its script")
        if self.script is None:
            raise ScenarioError("script: the original script of this recording is not known "
                                "(it is not a preset's); open the preset again")
        self.scenario = self.script
        self.sim = build(self.script)
        self.history = History(self.sim)
        self.history.advance(int(round(diverged * 1000)))
        self.playing = self.finished = False
        self.share = share.encode(recorded(self.scenario, self.sim))
        self.want_full = True

    def act(self, command) -> dict:
        """Apply a parsed command now and record it; ``{at_ms, share_url}``."""
        self.generation += 1
        with self.lock:
            self.last_active = time.monotonic()
            self._guard()
            sim = self.sim
            if sim.now > self.end_us:
                raise ScenarioError("the run has reached its end; seek back to act")
            timeline = sim.timeline()
            applied = sim.commands_applied()
            # Commands still to come are the script's (or a recorded future): dropped.
            kept = [c for i, c in enumerate(timeline) if i < applied or c[0] <= sim.now]
            if len(kept) >= MAX_COMMANDS:
                raise ScenarioError(f"this session already holds {MAX_COMMANDS} commands, the "
                                    "most a scenario may have")
            diverged = min(self.scenario.get("diverged_ms", sim.now / 1000), sim.now / 1000)
            new_share = self._share_with(command, kept, diverged)
            if len(kept) < len(timeline):
                self.history.fork()
                self.want_full = True
            self.scenario = {**self.scenario, "diverged_ms": diverged}
            try:
                if self.history.act(command):
                    self.want_full = True
            except Exception as exc:
                failure = self._fail(exc)
                raise ScenarioError(f"the simulation failed: {failure['error']}") from None
            self.share = new_share
            self._answered()
        return {"at_ms": round(sim.now / 1000, 3), "share_url": self.share_url}

    def _share_with(self, command, kept: list, diverged_ms: float) -> str:
        """The share string of the recording with ``command`` added now after the commands
        ``kept``, left the script at ``diverged_ms`` (refused if it would not fit in a
        share link).

        Every part was validated already (the scenario when the session was created, each
        command as it came in), so the recording is packed as it is, in the order the
        simulation runs it.
        """
        at = self.sim.now
        pos = bisect.bisect_right([t for t, _ in kept], at)
        timeline = kept[:pos] + [(at, command)] + kept[pos:]
        candidate = dict(self.scenario)
        candidate["commands"] = [{"at_ms": t / 1000, **C.to_json(c)} for t, c in timeline]
        candidate["diverged_ms"] = diverged_ms
        body = share.canonical(candidate)
        size = len(body)
        packed = share.pack(candidate, body)
        if size > MAX_BYTES or len(packed) > share.MAX_SHARE_CHARS:
            raise ScenarioError("this session's recording no longer fits in a share link; "
                                "fork from an earlier moment or start a new session")
        return packed

    # -- export --------------------------------------------------------------------------
    def trace_record(self, index: int) -> dict | None:
        """One trace record as ``record_json`` (with its message body), if it exists now."""
        with self.lock:
            trace = self.sim.trace
            if not 0 <= index < len(trace):
                return None
            return record_json(index, trace[index])

    def trace_copy(self):
        """A copy of the trace up to now, for an export to read at its own pace (the
        columns are copied in bulk; the records' data is shared, never changed)."""
        with self.lock:
            return self.sim.trace.copy()


def _script_of(scenario: dict) -> dict | None:
    """The run a scenario was scripted as: itself while it is on script; once it left the
    script (a recording with ``diverged_ms``), the preset it was made from, if it is one."""
    if "diverged_ms" not in scenario:
        return scenario
    preset = presets().get(scenario.get("name"))
    same = preset is not None and all(
        preset.get(k) == scenario.get(k) for k in ("model", "seed", "nodes", "variant", "params",
                                                    "network", "duration_ms", "narrative"))
    return preset if same else None
