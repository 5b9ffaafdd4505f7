"""Time travel over one run: periodic checkpoints plus deterministic replay.

Theory of operation
-------------------
A :class:`History` drives a :class:`~playground.engine.simulation.Simulation` forward in
slices of simulated time and saves a checkpoint whenever ``interval`` events (at least
``every_events``; see below) have run since the last one, so replaying from the nearest
checkpoint to any moment costs at most that many events. Because a run is a pure function of its seed and its command
list, replay reproduces the past exactly: seeking back and playing forward again walks
through the same states, and the checkpoints taken the first time stay valid.

``frontier`` is the furthest moment computed. ``fork`` makes the present the new end of
history: checkpoints and commands after it are dropped, so new commands start a new
future while the past is kept. ``act`` is a live action: it forks when the present is
behind the frontier, then applies the command now and records it on the timeline, so a
replay of :meth:`Simulation.timeline` reproduces what was seen.

``advance`` and ``seek`` take an optional ``limit`` of queue entries: they stop early
(answering False) and a later call with the same target goes on where they stopped, so
a caller can spread long work over slices of bounded cost.

A checkpoint holds the whole state, which grows with the run (a Raft log, the checker's
record of it), so keeping every one would hold memory that grows with the square of the
run's length. Checkpoints thin out with age instead: the newest ``RECENT`` are all kept,
and further back the spacing doubles with every further ``RECENT``-sized span of age, so
that a seek replays at most about ``2 × age / RECENT`` checkpoint intervals and the
number kept grows with the logarithm of the run's length. Checkpoint 0 (time 0) is
always kept; a thinned checkpoint never comes back, and seeks stay exact, since any
earlier checkpoint replays to the same state.

For the same reason a checkpoint costs more to save as the run goes on. The interval
grows with the last checkpoint's size (``BYTES_PER_EVENT``), so that saving never costs
much more than simulating the events between two checkpoints: in a short run the
interval is ``every_events``; after an hour of Raft it is several times that, and a seek
near the present replays more but the run is not slowed fivefold.
"""

from __future__ import annotations

import bisect

from .errors import ScenarioError

SLICE = 100_000  # µs of simulated time run between checkpoint decisions
RECENT = 32  # the newest checkpoints, all kept; older ones thin out (module docstring)
# Saving costs about as much per compressed checkpoint byte as simulating 1/80 of an event
# (raft-bench: 60 ns a byte, 5 µs an event): wait len(blob) / 80 events at least.
BYTES_PER_EVENT = 80
# Memory per trace record, measured as the growth of the process over a run (with the
# messages the records hold): 85 bytes for heartbeat with 101 nodes and 1 ms pulses,
# about 100 for raft-bench; and the live state's size per byte of its compressed
# checkpoint.
RECORD_BYTES = 100
STATE_PER_CHECKPOINT_BYTE = 5


def kept(number: int, age: int) -> bool:
    """Whether checkpoint ``number`` is kept once ``age`` checkpoints are newer than it.

    Within ages [RECENT × 2^(k-1), RECENT × 2^k) only numbers divisible by 2^k stay; a
    number that fails at one age fails at every greater age, so thinning is monotone."""
    if age < RECENT:
        return True
    return number % (1 << (age // RECENT).bit_length()) == 0


class History:
    """Checkpoints of one simulation for seek and fork."""

    def __init__(self, sim, every_events: int = 2000):
        self.sim = sim
        self.every_events = every_events
        self.times: list[int] = []
        self.blobs: list[bytes] = []
        self.numbers: list[int] = []  # each checkpoint's place in the sequence of saves
        self.interval = every_events  # events between checkpoints, grown with their size
        self._frontier = sim.now
        self._trace = None  # the longest trace seen on this timeline (for forward seeks)
        self._violations: list = []
        self._save()

    def _save(self) -> None:
        blob = self.sim.save()
        self.interval = max(self.every_events, len(blob) // BYTES_PER_EVENT)
        self.times.append(self.sim.now)
        self.blobs.append(blob)
        self.numbers.append(self.numbers[-1] + 1 if self.numbers else 0)
        self._events_at_save = self.sim.events
        newest = self.numbers[-1]
        keep = [i for i, n in enumerate(self.numbers) if kept(n, newest - n)]
        if len(keep) < len(self.numbers):
            self.times = [self.times[i] for i in keep]
            self.blobs = [self.blobs[i] for i in keep]
            self.numbers = [self.numbers[i] for i in keep]

    @property
    def bytes_held(self) -> int:
        return sum(len(b) for b in self.blobs)

    def memory_bytes(self) -> int:
        """An estimate of the memory this timeline holds: its trace records (and the
        longer trace kept for forward seeks), the checkpoints, and the live state (a few
        times its compressed size)."""
        records = len(self.sim.trace) + (len(self._trace) if self._trace is not None else 0)
        return (records * RECORD_BYTES + self.bytes_held
                + len(self.blobs[-1]) * STATE_PER_CHECKPOINT_BYTE)

    @property
    def frontier(self) -> int:
        """The furthest moment computed on this timeline (µs)."""
        return self._frontier

    def advance(self, t: int, limit: int | None = None) -> bool:
        """Run forward to ``t`` (finishing every event and command of that instant, even
        when the simulation is already there), checkpointing on the way. With ``limit``,
        stop after about that many queue entries; True when ``t`` was reached."""
        sim = self.sim
        if t < sim.now:
            return True
        while True:
            before = sim.events
            done = sim.run_until(min(t, sim.now + SLICE), limit)
            if limit is not None:
                limit -= max(1, sim.events - before)
            if sim.now > self.times[-1] and sim.events - self._events_at_save >= self.interval:
                if sim.now >= self._frontier:
                    self._save()
                else:
                    self._events_at_save = sim.events
            if done and sim.now >= t:
                break
            if limit is not None and (not done or limit <= 0):
                self._frontier = max(self._frontier, sim.now)
                return False
        self._frontier = max(self._frontier, sim.now)
        return True

    def seek(self, t: int, limit: int | None = None) -> bool:
        """Put the simulation at moment ``t`` (after every event of that instant). With
        ``limit``, as :meth:`advance`: False when stopped on the way, and calling again
        with the same ``t`` goes on from there."""
        if t < 0:
            raise ScenarioError("cannot seek before time 0")
        sim = self.sim
        i = bisect.bisect_right(self.times, t) - 1
        if t < sim.now or self.times[i] > sim.now:
            if self._trace is None or len(sim.trace) > len(self._trace):  # furthest records
                self._trace = sim.trace.copy()
                self._violations = sim.violations[:]
            sim.load(self.blobs[i], self._trace, self._violations)  # nearest checkpoint ≤ t
            self._events_at_save = sim.events
        return self.advance(t, limit)

    def fork(self) -> None:
        """Make the present the end of history: drop later checkpoints and commands."""
        self.sim.run_until(self.sim.now)
        self._fork_here()

    def _fork_here(self) -> None:
        sim = self.sim
        keep = bisect.bisect_left(self.times, sim.now)
        del self.times[keep:]
        del self.blobs[keep:]
        del self.numbers[keep:]
        del sim.commands[sim.cmd_pos:]
        self._trace, self._violations = None, []
        self._frontier = sim.now
        self._save()

    def behind(self) -> bool:
        """Whether the present is earlier than the frontier (a live action would fork)."""
        return self.sim.now < self._frontier

    def kept_commands(self) -> list[tuple[int, object]]:
        """The commands that stay on the timeline if a live action happens now: all of
        them, or, when the present is behind the frontier, those already run."""
        sim = self.sim
        timeline = sim.timeline()
        return timeline[:sim.commands_applied()] if self.behind() else timeline

    def act(self, cmd) -> bool:
        """A live action: fork if behind the frontier, apply ``cmd`` now (after every
        event of this instant), record it and advance the frontier. True if it forked."""
        sim = self.sim
        forked = self.behind()
        if forked:
            self.fork()
        sim.schedule(sim.now, cmd)  # runs after every event and command of this instant
        sim.run_until(sim.now)
        self._frontier = max(self._frontier, sim.now)
        return forked
