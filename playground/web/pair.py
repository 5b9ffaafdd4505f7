"""A compare view: two sessions that run as one, a scenario and its second side.

Theory of operation
-------------------
A scenario with a ``compare`` field (a ``compare-*`` preset, its share link, or any
session compared from the browser) opens as a pair. The :class:`PairSession` is run *a*:
an ordinary session with the scenario as it is, and the only one with a runner and a
token. Its :class:`Twin` is run *b*: the same scenario with ``compare.set`` applied
(``playground.compare.changed``), judged by ``compare.expected``. Run b has no runner
and takes no requests of its own: after every tick and every control of run a it is
brought to the same simulated moment (advanced, sought or forked alike), and every
live action applies to both at the same instant, so both share the seed, the scenario
and everything the presenter does. Run a's lock is taken first, then run b's.

Each run keeps its own frames, room and watch link, so a browser follows both with the
ordinary frame stream; run a's runner emits run b's frames. Both carry a ``pair``
section: the two session ids, what was changed, the first trace records that differ
(``playground.compare.first_difference``, found incrementally as the traces grow) and,
in run a's slower frames, the metric deltas. A failure of one run's model stops that run
only, and a violation is one run's own: it shows on its side.
"""

from __future__ import annotations

import time

from ..compare import changed, deltas, first_difference
from ..engine.errors import ScenarioError
from ..engine.history import History
from ..scenarios import build, recorded, share
from .session import Session

DELTAS_EVERY = 0.2  # s between two metric comparisons while playing


class Twin(Session):
    """Run b of a pair: moved and drawn by its leader, run a."""

    def __init__(self, session_id: str, token: str, scenario: dict, *, leader, **kw):
        super().__init__(session_id, token, scenario, **kw)
        self.leader = leader

    def metadata(self) -> dict:
        return {**super().metadata(), "pair": self.leader.pair_ids("b")}

    def start(self) -> None:
        """Run b has no runner: its leader's moves it."""

    def poke(self, full: bool = False) -> None:
        with self.lock:
            self.want_frame = True
            self.want_full = self.want_full or full
        self.leader.poke()

    def follow(self, op: str, now_us: int) -> None:
        """Bring this run to the leader's moment after ``op`` (the leader's lock held)."""
        with self.lock:
            if self.closed or self.failure is not None:
                return
            try:
                if op == "seek":
                    self.history.seek(now_us)
                    self.finished = False
                    self.want_full = True
                elif op == "fork":
                    self.history.fork()
                    self.finished = False
                    self.share = share.encode(recorded(self.scenario, self.sim))
                    self.want_full = True
                elif op == "script":  # the leader went back to its script: so does run b
                    self.scenario = changed(self.leader.scenario, self.leader.settings)
                    self.sim = build(self.scenario)
                    self.history = History(self.sim)
                    self.history.advance(now_us)
                    self.finished = False
                    self.share = share.encode(recorded(self.scenario, self.sim))
                    self.want_full = True
                else:
                    self.history.advance(now_us)
                if self.sim.now >= self.end_us:
                    self._finish()
            except Exception as exc:  # this run's model failed: it stops, the other goes on
                self._fail(exc)
            self.playing = self.leader.playing and self.failure is None
            self.speed = self.leader.speed

    def extra_sections(self, slow: bool) -> dict:
        return {"pair": self.leader.pair_state("b")}


class PairSession(Session):
    """Run a of a pair, which drives run b (see the module docstring)."""

    def __init__(self, session_id: str, token: str, scenario: dict, *, twin_id: str,
                 twin_token: str, twin_audience, **kw):
        super().__init__(session_id, token, scenario, **kw)
        self.settings = dict(scenario["compare"]["set"])
        self.twin = Twin(twin_id, twin_token, changed(scenario, self.settings), leader=self,
                         **{**kw, "audience": twin_audience})
        self._checked = 0  # trace records known equal in both runs
        self._difference: dict | None = None
        self._deltas: dict = {}
        self._deltas_at = 0.0

    def pair_ids(self, side: str) -> dict:
        return {"side": side, "a": self.id, "b": self.twin.id, "set": self.settings}

    def metadata(self) -> dict:
        return {**super().metadata(), "pair": self.pair_ids("a")}

    def close(self, wait: float = 2.0) -> None:
        super().close(wait)
        self.twin.close(wait)

    def _tick(self, wall: float) -> None:
        super()._tick(wall)
        self.twin.follow("advance", self.sim.now)

    def _control(self, op: str, value) -> dict:
        answer = super()._control(op, value)
        self.twin.follow(op, self.sim.now)
        return answer

    def _emit_frame(self) -> None:
        super()._emit_frame()
        twin = self.twin
        with twin.lock:
            if not twin.closed and twin.audience() > 0:
                twin._emit_frame()

    def act(self, command) -> dict:
        """Apply ``command`` to both runs at this instant (run b's own failure stays on
        its side and does not refuse the action)."""
        with self.lock:
            answer = super().act(command)
            try:
                self.twin.act(command)
            except ScenarioError:
                pass
        return answer

    # -- where the runs part ------------------------------------------------------------
    def difference(self) -> dict | None:
        """The first trace records that differ, scanning only records not yet compared
        (both locks held, or called from run a's frame while it holds them)."""
        a, b = self.sim.trace, self.twin.sim.trace
        shortest = min(len(a), len(b))
        ended = self.finished and self.twin.finished and len(a) != len(b)
        known = self._difference
        if known is not None and (known["event"] < shortest
                                  or (ended and known["event"] == shortest)):
            return known
        self._difference = None
        start = min(self._checked, shortest)
        found = first_difference(a[start:shortest], b[start:shortest])
        if found is not None:
            found["event"] += start
            for side in ("a", "b"):
                found[side]["i"] = found["event"]
            self._difference = found
        else:
            self._checked = shortest
            if ended:
                self._difference = first_difference(a, b)
        return self._difference

    def pair_state(self, side: str, slow: bool = False) -> dict:
        with self.twin.lock:
            if self.twin.sim is None:
                return {**self.pair_ids(side), "first_difference": None, "deltas": {}}
            now = time.monotonic()
            if slow and (not self.playing or now - self._deltas_at >= DELTAS_EVERY):
                self._deltas_at = now
                self._deltas = deltas(self.sim.metrics(), self.twin.sim.metrics())
            return {**self.pair_ids(side), "first_difference": self.difference(),
                    "deltas": self._deltas}

    def extra_sections(self, slow: bool) -> dict:
        return {"pair": self.pair_state("a", slow)}
