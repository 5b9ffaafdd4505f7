"""The heartbeat model's invariants and metrics, judged from what the registry heard and
published (its facts) against the engine's truth about each worker, never from the
detector's own counters.

* ``down_means_silent`` (false suspicion): a worker that is alive, not paused and whose
  link to the registry is intact is published DOWN only once the registry has heard
  nothing from it (no ``WorkerHeard``) for the silence the detector promises
  (``min_silence``), on the registry's clock.
* ``no_flapping``, from the published history (``StatusPublished``) of a worker that has
  not crashed: a DOWN worker is published UP again only after the registry has heard from
  it ``m`` times since it went DOWN, and a worker brought back UP is published DOWN again
  only after ``k`` sweeps of silence (``hysteresis_silence``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import MS, SECOND, Checker, Status
from playground.stats import summarize

from .facts import StatusPublished, WorkerHeard
from .messages import REGISTRY, Health

FAILURES = ("crashed", "paused", "cut")  # the truths a silent worker may hide


@dataclass(slots=True)
class HeartbeatGhost:
    """The observer's notebook: what the registry heard and published, and the truth."""

    registry_started: int | None = None  # the registry clock at its last start
    heard_at: dict = field(default_factory=dict)  # worker -> registry clock, last heard
    heard_since_down: dict = field(default_factory=dict)  # worker -> WorkerHeard count
    published: dict = field(default_factory=dict)  # worker -> its last published Health
    revived: dict = field(default_factory=dict)  # worker -> true µs published UP after DOWN
    crashed_at: dict = field(default_factory=dict)  # worker -> true µs of its last crash
    downs: dict = field(default_factory=dict)  # worker -> times marked down
    failed_since: dict = field(default_factory=dict)  # worker -> (kind, true µs)
    recovered_at: dict = field(default_factory=dict)  # worker -> true µs its last failure ended
    late_detections: list = field(default_factory=list)  # (worker, true µs)
    false_suspicions: list = field(default_factory=list)  # (worker, true µs)
    detections: list = field(default_factory=list)  # (worker, kind, ms)


class HeartbeatChecker(Checker):
    def __init__(self, model):
        super().__init__(model)
        k, interval = self.p["k"], model.interval
        # The least silence, on the registry's clock, that the detector's rules allow before
        # a DOWN: a timeout detector's first miss needs more than timeout_ms of it, and
        # k − 1 more sweeps follow; phi may count its first miss after any silence.
        first_miss = 0 if self.v["detector"] == "phi" else self.p["timeout_ms"] * MS
        self.min_silence = first_miss
        self.hysteresis_silence = first_miss + (k - 1) * interval

    def truth(self, view, w: str) -> str | None:
        """Why ``w`` really is silent (crashed, paused, cut), or None if it is fine."""
        status = view.nodes[w].status
        if status is not Status.ALIVE:
            return str(status)
        cut = view.is_cut(w, REGISTRY)
        if not self.model.push:
            cut = cut or view.is_cut(REGISTRY, w)
        return "cut" if cut else None

    def check(self, view, node_id):
        ghost = view.ghost
        if node_id is None:  # a cut, heal or partition: whose link changed is not known
            for w in view.node_ids[1:]:
                self._note_failure(view, ghost, w)
            return ()
        if node_id != REGISTRY:
            self._note_failure(view, ghost, node_id)
            return ()
        reg = view.nodes[REGISTRY].state
        now = view.local_time(REGISTRY)
        if ghost.registry_started != reg.started_at:  # a (re)started registry trusts anew
            ghost.registry_started = reg.started_at
            ghost.heard_at = dict.fromkeys(reg.views, reg.started_at)
            ghost.published = dict.fromkeys(reg.views, Health.UP)
            ghost.revived.clear()
        found = []
        for fact in view.facts:
            kind = type(fact)
            if kind is WorkerHeard:
                ghost.heard_at[fact.worker] = now
                ghost.heard_since_down[fact.worker] = \
                    ghost.heard_since_down.get(fact.worker, 0) + 1
            elif kind is StatusPublished:
                found += self._judge(view, ghost, fact, now)
                ghost.published[fact.worker] = fact.status
        return found

    def _judge(self, view, ghost, fact: StatusPublished, now: int) -> list:
        w = fact.worker
        self._note_failure(view, ghost, w)
        crashed = view.nodes[w].status is Status.CRASHED
        found = []
        if fact.status is Health.DOWN:
            ghost.downs[w] = ghost.downs.get(w, 0) + 1
            ghost.heard_since_down[w] = 0
            silence = now - ghost.heard_at.get(w, now)
            if self.truth(view, w) is None and silence < self.min_silence:
                found.append(("down_means_silent", f"{w} was marked down (time "
                              f"#{ghost.downs[w]}) {silence / MS:g} ms after the registry "
                              f"last heard from it, while it was alive and reachable"))
            revived = ghost.revived.pop(w, None)
            if (revived is not None and not crashed and ghost.crashed_at.get(w, -1) < revived
                    and silence < self.hysteresis_silence):
                found.append(("no_flapping", f"{w} was marked down (time #{ghost.downs[w]}) "
                              f"{silence / MS:g} ms after the registry last heard from it, "
                              f"having been marked up again; k = {self.p['k']} sweeps need "
                              f"{self.hysteresis_silence / MS:g} ms of silence"))
            self._judge_down(view, ghost, w)
        elif fact.previous is Health.DOWN and not crashed:
            ghost.revived[w] = view.now
            heard = ghost.heard_since_down.get(w, 0)
            if heard < self.p["m"]:
                found.append(("no_flapping", f"{w} was marked up again (after down "
                              f"#{ghost.downs.get(w, 0)}) having been heard from {heard} "
                              f"time(s) since; the hysteresis requires m = {self.p['m']}"))
        return found

    def _note_failure(self, view, ghost, w: str) -> None:
        kind = self.truth(view, w)
        known = ghost.failed_since.get(w)
        if kind is None:
            if known is not None:
                del ghost.failed_since[w]
                ghost.recovered_at[w] = view.now
        elif known is None or known[0] != kind:
            ghost.failed_since[w] = (kind, view.now)
            if kind == "crashed":
                ghost.crashed_at[w] = view.now

    def _judge_down(self, view, ghost, w: str) -> None:
        self._note_failure(view, ghost, w)
        failed = ghost.failed_since.get(w)
        if failed is None:
            healthy_for = view.now - ghost.recovered_at.get(w, 0)
            if healthy_for >= self.p["timeout_ms"] * MS:
                ghost.false_suspicions.append((w, view.now))
            else:  # an outage that ended less than a timeout ago: detected, but too late
                ghost.late_detections.append((w, view.now))
        else:
            ghost.detections.append((w, failed[0], (view.now - failed[1]) / MS))

    def metrics(self, view):
        ghost = view.ghost
        reg = view.nodes[REGISTRY].state
        elapsed = max(1, view.local_time(REGISTRY) - reg.started_at)
        area = reg.queue_area + len(reg.queue) * (view.local_time(REGISTRY) - reg.queue_since)
        by_kind = {kind: [ms for _w, k, ms in ghost.detections if k == kind] for kind in FAILURES}
        crashes = by_kind["crashed"]
        rounds = view.samples.get("probe_round_ms", [])
        waits = view.samples.get("pulse_wait_ms", [])
        return {
            "false_suspicions": len(ghost.false_suspicions),
            "late_detections": len(ghost.late_detections),
            "flaps": view.counters.get("flaps", 0),
            "marked_down": view.counters.get("marked_down", 0),
            "suspicions": view.counters.get("suspicions", 0),
            "detection_time_ms": summarize(crashes),
            "detection_time_ms_max": max(crashes) if crashes else 0,
            **{f"detection_ms_{kind}": max(times) if times else None
               for kind, times in by_kind.items()},
            "probe_load": round(view.counters.get("probes_sent", 0) * SECOND / max(1, view.now),
                                3),
            "registry_queue_max": reg.queue_max,
            "registry_queue_avg": round(area / elapsed, 3),
            "probe_round_ms_mean": round(sum(rounds) / len(rounds), 3) if rounds else 0,
            "probe_round_ms_max": max(rounds) if rounds else 0,
            "pulse_wait_ms_max": max(waits) if waits else 0,
            "workers_down": sum(1 for v in reg.views.values() if v.health is Health.DOWN),
        }
