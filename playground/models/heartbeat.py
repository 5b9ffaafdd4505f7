"""Heartbeats and health probes: a registry's failure detector over a cluster of workers.

Theory of operation
-------------------
Node ``registry`` watches workers ``w1`` … ``wN`` (``nodes`` = N + 1). Two transports
(variant ``mode``):

* **push**: every worker sends a ``Heartbeat`` every ``interval_ms`` of its own clock;
* **pull**: every ``interval_ms`` the registry starts a probe round: it sends each worker
  a ``HealthProbe`` (a ``GET /health``) and each live, reachable worker answers with a
  ``HealthReply``. A round ends when every reply is in, or ``probe_timeout_ms`` after its
  last probe went out; the next round starts ``interval_ms`` after the previous one
  started, or at once if the round overran.

**The registry has a processing capacity.** Every pulse it receives, every probe it sends
and every reply it receives is a job in one FIFO queue (its state ``queue``), served one
at a time, ``service_ms`` each, by a timer: a pulse counts as *heard* only when it has been
served. Client command ``load`` adds other work (a deploy storm, an API burst) to the same
queue. Under load, pulses are heard late; in pull mode a round costs 2·N jobs, so the round
time and the probe load grow with the cluster until the registry is the bottleneck.

**The failure detector** sweeps every ``interval_ms`` (a timer, not a queued job). For each
worker the sweep sees either silence (nothing heard for more than ``timeout_ms``, or with
variant ``detector = phi`` a phi-accrual suspicion level above ``phi_threshold``) — a
*miss* — or not. Every job that proves a worker alive is a *success*. The worker's view
moves through the transition table ``TRANSITIONS`` (UP, SUSPECT, DOWN): ``k`` consecutive
misses mark it DOWN, ``m`` consecutive successes mark a DOWN worker UP again (hysteresis);
one success clears a mere suspicion. The detector sees only its own inputs: a crashed
worker, a paused one and one whose link is cut all fall silent the same way.

Simplifications: the registry's view is volatile (a restarted registry trusts everyone
again); the sweep is free; a reply to an earlier round is ignored as HTTP would.

Invariants
----------
* ``no_flapping`` — a worker's view changes only on sufficient evidence: it is marked DOWN
  only after ``k`` consecutive misses and marked UP again only after ``m`` consecutive
  successes, so a worker cannot bounce faster than the hysteresis allows. The observer
  keeps its own count of consecutive misses and successes as the evidence comes in, and
  checks every change of view against ``k`` and ``m``. The broken variant
  ``no_hysteresis`` acts on the first miss and the first success.
* ``down_means_silent`` — a worker is never marked DOWN less than one pulse interval after
  the registry last heard from it (served a pulse, or a reply within its round): a verdict
  of death must rest on the registry's own silence. The broken variant ``sender_clock``
  takes "last heard" from the timestamp in the pulse, on the worker's clock, and discards
  pulses that look older than the timeout: a worker whose clock runs behind is declared
  dead while its pulses arrive, and one whose clock runs ahead is kept alive after a crash.

Detection *quality* is not a safety property — no detector in an asynchronous system is
both complete and accurate — so the phenomena are metrics, judged against the engine's
truth: ``false_suspicions`` (a worker marked DOWN while it is alive, not paused, its links
to the registry intact, and has been so for at least ``timeout_ms``; a verdict within a
timeout after a real outage ended is a ``late_detection``), ``flaps`` (DOWN → UP),
``detection_time_ms`` for real crashes, ``probe_load`` (probes per second),
``registry_queue_max`` and ``_avg``, ``probe_round_ms`` and ``pulse_wait_ms`` (how long a
pulse or reply waited in the queue).

Claims: C17 (push, overloaded registry), C18 (pull, probe load grows with N), C19 (crashed,
paused and cut off look alike), C20 (flapping and hysteresis).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

from playground.stats import summarize
from playground.models import register
from playground.models.base import MS, SECOND, Invariant, Model, Param, Variant
from playground.models.fsm import IllegalTransition

REGISTRY = "registry"
PHI_WINDOW = 16  # inter-arrival samples kept per worker for the phi-accrual detector


# -- messages -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A worker's pulse (push mode), stamped with the worker's clock."""

    seq: int
    sent_at: int


@dataclass(frozen=True, slots=True)
class HealthProbe:
    """The registry's ``GET /health`` of one probe round (pull mode)."""

    round: int


@dataclass(frozen=True, slots=True)
class HealthReply:
    """A worker's ``200 OK`` to a probe, stamped with the worker's clock."""

    round: int
    sent_at: int


# -- the detector's finite state machine ----------------------------------------------------
class Health(Enum):
    UP = "up"
    SUSPECT = "suspect"
    DOWN = "down"


class Evidence(Enum):
    MISS = "miss"  # a miss, fewer than k in a row
    MISS_K = "miss_k"  # the k-th (or later) consecutive miss
    SUCCESS = "success"  # a success, fewer than m in a row
    SUCCESS_M = "success_m"  # the m-th (or later) consecutive success


TRANSITIONS: dict[tuple[Health, Evidence], Health] = {
    (Health.UP, Evidence.MISS): Health.SUSPECT,
    (Health.UP, Evidence.MISS_K): Health.DOWN,
    (Health.UP, Evidence.SUCCESS): Health.UP,
    (Health.UP, Evidence.SUCCESS_M): Health.UP,
    (Health.SUSPECT, Evidence.MISS): Health.SUSPECT,
    (Health.SUSPECT, Evidence.MISS_K): Health.DOWN,
    (Health.SUSPECT, Evidence.SUCCESS): Health.UP,
    (Health.SUSPECT, Evidence.SUCCESS_M): Health.UP,
    (Health.DOWN, Evidence.MISS): Health.DOWN,
    (Health.DOWN, Evidence.MISS_K): Health.DOWN,
    (Health.DOWN, Evidence.SUCCESS): Health.DOWN,
    (Health.DOWN, Evidence.SUCCESS_M): Health.UP,
}


def transition(health: Health, evidence: Evidence) -> Health:
    """The detector's next view of a worker; an evidence it cannot take raises."""
    try:
        return TRANSITIONS[(health, evidence)]
    except KeyError:
        raise IllegalTransition(f"detector: no transition from {health} on "
                                f"{evidence}") from None


# -- registry jobs ------------------------------------------------------------------------
class JobKind(Enum):
    PULSE = "pulse"  # serve a received Heartbeat
    PROBE = "probe"  # send one HealthProbe
    REPLY = "reply"  # serve a received HealthReply
    WORK = "work"  # other work (client command ``load``)


@dataclass(frozen=True, slots=True)
class Job:
    kind: JobKind
    worker: str | None
    round: int
    cost: int  # µs of registry time
    enqueued_at: int  # registry clock, µs
    sent_at: int = 0  # the worker's clock when it sent the pulse or reply, µs


# -- states ---------------------------------------------------------------------------------
@dataclass(slots=True)
class WorkerView:
    """The detector's view of one worker."""

    health: Health = Health.UP
    last_heard: int = 0  # registry clock, µs
    misses: int = 0  # consecutive
    successes: int = 0  # consecutive
    intervals: list = field(default_factory=list)  # recent inter-arrival times, µs (phi)
    phi: float = 0.0


@dataclass(slots=True)
class RegistryState:
    views: dict = field(default_factory=dict)  # worker -> WorkerView
    queue: list = field(default_factory=list)  # Jobs waiting; queue[0] is in service
    round: int = 0
    round_started: int = 0
    outstanding: list = field(default_factory=list)  # workers not yet answered this round
    probes_left: int = 0  # probes of this round not yet sent
    queue_max: int = 0
    queue_area: int = 0  # ∫ queue length dt, registry µs
    queue_since: int = 0  # registry clock at the last queue change
    started_at: int = 0
    probes_sent: int = 0
    dropped_jobs: int = 0


@dataclass(slots=True)
class WorkerState:
    seq: int = 0
    pulses_sent: int = 0
    probes_answered: int = 0


@dataclass(slots=True)
class HeartbeatGhost:
    """The observer's notebook: the detector's changes awaiting judgement, and the truth."""

    changes: list = field(default_factory=list)  # (worker, old Health, new Health)
    heard_at: dict = field(default_factory=dict)  # worker -> registry clock of last success
    misses: dict = field(default_factory=dict)  # worker -> consecutive misses seen
    successes: dict = field(default_factory=dict)  # worker -> consecutive successes seen
    downs: dict = field(default_factory=dict)  # worker -> times marked down
    failed_since: dict = field(default_factory=dict)  # worker -> (kind, true µs)
    recovered_at: dict = field(default_factory=dict)  # worker -> true µs its last failure ended
    late_detections: list = field(default_factory=list)  # (worker, true µs)
    false_suspicions: list = field(default_factory=list)  # (worker, true µs)
    detections: list = field(default_factory=list)  # (worker, kind, ms)


@register
class Heartbeats(Model):
    name = "heartbeat"
    title = "Heartbeats and health probes"
    invariants = (
        Invariant("no_flapping", "A worker is marked down only after k consecutive misses and "
                                 "up again only after m consecutive successes."),
        Invariant("down_means_silent", "A worker is never marked down less than one pulse "
                                       "interval after the registry last heard from it."),
    )
    variants = (
        Variant("mode", "push", "push: workers send pulses; pull: the registry probes them.",
                choices=("push", "pull")),
        Variant("detector", "timeout", "timeout: silence longer than timeout_ms is a miss; "
                "phi: a phi-accrual suspicion above phi_threshold is a miss.",
                choices=("timeout", "phi")),
        Variant("no_hysteresis", False, "Mark down on the first miss and up on the first "
                "success, whatever k and m say.", broken=(True,)),
        Variant("sender_clock", False, "Judge silence by the timestamp the worker put in its "
                "pulse (its clock) instead of the registry's own clock.", broken=(True,)),
    )
    params = (
        Param("interval_ms", 100, "Pulse period (push) or probe period (pull), and the "
              "detector's sweep period.", {"type": "number", "minimum": 1, "maximum": 60000}),
        Param("timeout_ms", 300, "Silence after which a sweep counts a miss.",
              {"type": "number", "minimum": 1, "maximum": 600000}),
        Param("probe_timeout_ms", 50, "Pull: how long a round waits for replies after its "
              "last probe went out.", {"type": "number", "minimum": 1, "maximum": 600000}),
        Param("service_ms", 2, "Registry time to serve one pulse, probe or reply.",
              {"type": "number", "minimum": 0.001, "maximum": 10000}),
        Param("k", 3, "Consecutive misses that mark a worker down.",
              {"type": "integer", "minimum": 1, "maximum": 100}),
        Param("m", 3, "Consecutive successes that mark a down worker up.",
              {"type": "integer", "minimum": 1, "maximum": 100}),
        Param("phi_threshold", 8, "Suspicion level counted as a miss (detector = phi).",
              {"type": "number", "minimum": 0.1, "maximum": 100}),
        Param("phi_min_std_ms", 20, "Floor on the standard deviation of inter-arrival times "
              "(detector = phi), so a very regular worker is not suspected at once.",
              {"type": "number", "minimum": 0.001, "maximum": 600000}),
        Param("queue_limit", 100000, "Jobs the registry's queue holds; more are dropped.",
              {"type": "integer", "minimum": 1, "maximum": 10000000}),
    )
    commands = {
        "load": {"properties": {"jobs": {"type": "integer", "minimum": 1, "maximum": 100000},
                                "job_ms": {"type": "number", "minimum": 0.001,
                                           "maximum": 10000}},
                 "required": ["jobs"]},
    }
    default_nodes = 6
    min_nodes = 2

    # -- the cluster -------------------------------------------------------------------
    def node_ids(self):
        return [REGISTRY] + [f"w{i}" for i in range(1, self.n)]

    def peers_of(self, node_id, all_ids):
        return tuple(x for x in all_ids if x != REGISTRY) if node_id == REGISTRY else (REGISTRY,)

    def init_node(self, node_id):
        return RegistryState() if node_id == REGISTRY else WorkerState()

    def init_ghost(self):
        return HeartbeatGhost()

    def command_target(self, command, view):
        return REGISTRY

    @property
    def _k(self) -> int:
        return 1 if self.v["no_hysteresis"] else self.p["k"]

    @property
    def _m(self) -> int:
        return 1 if self.v["no_hysteresis"] else self.p["m"]

    def _interval(self) -> int:
        return max(1, int(self.p["interval_ms"] * MS))

    # -- handlers ----------------------------------------------------------------------
    def on_start(self, state, ctx):
        """Workers start pulsing at a random phase; the registry trusts everyone at first."""
        if ctx.node != REGISTRY:
            if self.v["mode"] == "push":
                ctx.set_timer("pulse", ctx.rng.randint(1, self._interval()))
            return
        state.started_at = state.queue_since = ctx.now
        state.views = {w: WorkerView(last_heard=ctx.now) for w in ctx.peers}
        ghost = ctx.ghost
        for w in ctx.peers:
            ghost.misses[w] = ghost.successes[w] = 0
            ghost.heard_at[w] = ctx.now
        ctx.set_timer("sweep", self._interval())
        if self.v["mode"] == "pull":
            ctx.set_timer("round", 1)

    def on_message(self, state, msg, src, ctx):
        """A worker answers probes; the registry queues pulses and replies for service."""
        kind = type(msg)
        if kind is HealthProbe:
            state.probes_answered += 1
            ctx.send(src, HealthReply(msg.round, ctx.now))
        elif kind is Heartbeat:
            self._enqueue(state, Job(JobKind.PULSE, src, 0, self._cost(), ctx.now, msg.sent_at),
                          ctx)
        elif kind is HealthReply:
            self._enqueue(state, Job(JobKind.REPLY, src, msg.round, self._cost(), ctx.now,
                                     msg.sent_at), ctx)

    def on_timer(self, state, name, ctx):
        """pulse (worker), serve / sweep / round / round_deadline (registry)."""
        if name == "pulse":
            state.seq += 1
            state.pulses_sent += 1
            ctx.send(REGISTRY, Heartbeat(state.seq, ctx.now))
            ctx.set_timer("pulse", self._interval())
        elif name == "serve":
            self._serve(state, ctx)
        elif name == "sweep":
            self._sweep(state, ctx)
            ctx.set_timer("sweep", self._interval())
        elif name == "round":
            self._start_round(state, ctx)
        elif name == "round_deadline":
            self._end_round(state, ctx)

    def on_command(self, state, command, ctx):
        """``load``: other work lands in the registry's queue."""
        cost = max(1, int(command.get("job_ms", self.p["service_ms"]) * MS))
        ctx.note(f"{command['jobs']} other jobs of {cost / MS:g} ms arrive at the registry")
        for _ in range(command["jobs"]):
            self._enqueue(state, Job(JobKind.WORK, None, 0, cost, ctx.now), ctx)

    # -- the registry's queue --------------------------------------------------------------
    def _cost(self) -> int:
        return max(1, int(self.p["service_ms"] * MS))

    def _queue_changed(self, state, ctx) -> None:
        state.queue_area += len(state.queue) * (ctx.now - state.queue_since)
        state.queue_since = ctx.now

    def _enqueue(self, state, job: Job, ctx) -> None:
        if len(state.queue) >= self.p["queue_limit"]:
            state.dropped_jobs += 1
            ctx.count("registry_jobs_dropped")
            return
        self._queue_changed(state, ctx)
        state.queue.append(job)
        state.queue_max = max(state.queue_max, len(state.queue))
        if len(state.queue) == 1:
            ctx.set_timer("serve", job.cost)

    def _serve(self, state, ctx) -> None:
        """The job at the head of the queue is done: apply it, start the next one."""
        self._queue_changed(state, ctx)
        job = state.queue.pop(0)
        if state.queue:
            ctx.set_timer("serve", state.queue[0].cost)
        if job.kind is JobKind.PULSE:
            ctx.observe("pulse_wait_ms", (ctx.now - job.enqueued_at) / MS)
            self._success(state, job, ctx)
        elif job.kind is JobKind.PROBE:
            state.probes_sent += 1
            ctx.count("probes_sent")
            ctx.send(job.worker, HealthProbe(job.round))
            state.probes_left -= 1
            if state.probes_left == 0 and job.round == state.round:
                ctx.set_timer("round_deadline", max(1, int(self.p["probe_timeout_ms"] * MS)))
        elif job.kind is JobKind.REPLY:
            ctx.observe("pulse_wait_ms", (ctx.now - job.enqueued_at) / MS)
            if job.round != state.round or job.worker not in state.outstanding:
                ctx.count("late_replies")
                return
            state.outstanding.remove(job.worker)
            self._success(state, job, ctx)
            if not state.outstanding and state.probes_left == 0:
                self._end_round(state, ctx)

    # -- pull: probe rounds ------------------------------------------------------------------
    def _start_round(self, state, ctx) -> None:
        state.round += 1
        state.round_started = ctx.now
        workers = list(state.views)
        state.outstanding = list(workers)
        state.probes_left = len(workers)
        for w in workers:
            self._enqueue(state, Job(JobKind.PROBE, w, state.round, self._cost(), ctx.now), ctx)

    def _end_round(self, state, ctx) -> None:
        ctx.cancel_timer("round_deadline")
        took = ctx.now - state.round_started
        ctx.observe("probe_round_ms", took / MS)
        if state.outstanding:
            ctx.note(f"probe round {state.round} ended without replies from "
                     f"{', '.join(state.outstanding)}", round=state.round, took_ms=took / MS)
        state.outstanding = []
        ctx.set_timer("round", max(1, self._interval() - took))

    # -- the failure detector ---------------------------------------------------------------
    def _suspicion(self, view: WorkerView, now: int) -> float:
        """Phi accrual (Hayashibara et al.): −log10 P(a pulse comes later than this silence),
        with the inter-arrival times of recent pulses taken as normally distributed."""
        silence = now - view.last_heard
        samples = view.intervals or [self._interval()]
        mean = sum(samples) / len(samples)
        var = sum((x - mean) ** 2 for x in samples) / len(samples)
        std = max(math.sqrt(var), self.p["phi_min_std_ms"] * MS)
        p_later = 0.5 * math.erfc((silence - mean) / (std * math.sqrt(2)))
        return -math.log10(max(p_later, 1e-300))

    def _sweep(self, state, ctx) -> None:
        """Count a miss for every worker the registry has not heard from recently enough."""
        now = ctx.now
        for w, view in state.views.items():
            if self.v["detector"] == "phi":
                view.phi = self._suspicion(view, now)
                silent = view.phi > self.p["phi_threshold"]
            else:
                silent = now - view.last_heard > self.p["timeout_ms"] * MS
            if not silent:
                continue
            view.misses += 1
            view.successes = 0
            ctx.ghost.misses[w] = ctx.ghost.misses.get(w, 0) + 1
            ctx.ghost.successes[w] = 0
            self._move(view, w, Evidence.MISS_K if view.misses >= self._k else Evidence.MISS, ctx)

    def _success(self, state, job: Job, ctx) -> None:
        """A served pulse or reply: the worker was alive when it sent it."""
        w = job.worker
        view = state.views.get(w)
        if view is None:
            return
        ctx.ghost.heard_at[w] = ctx.now
        heard = ctx.now
        if self.v["sender_clock"]:
            heard = job.sent_at
            if ctx.now - heard > self.p["timeout_ms"] * MS:
                ctx.count("stale_pulses")  # older than the timeout by its stamp: discarded
                return
        view.intervals.append(heard - view.last_heard)
        del view.intervals[:-PHI_WINDOW]
        view.last_heard = heard
        view.misses = 0
        view.successes += 1
        ctx.ghost.successes[w] = ctx.ghost.successes.get(w, 0) + 1
        ctx.ghost.misses[w] = 0
        self._move(view, w, Evidence.SUCCESS_M if view.successes >= self._m
                   else Evidence.SUCCESS, ctx)

    def _move(self, view: WorkerView, w: str, evidence: Evidence, ctx) -> None:
        old = view.health
        new = transition(old, evidence)
        if new is old:
            return
        view.health = new
        ctx.ghost.changes.append((w, old, new))
        if new is Health.DOWN:
            ctx.count("marked_down")
            ctx.note(f"registry marks {w} DOWN after {view.misses} consecutive misses",
                     worker=w, misses=view.misses,
                     silent_ms=(ctx.now - view.last_heard) / MS)
        elif old is Health.DOWN:
            ctx.count("flaps")
            ctx.note(f"registry marks {w} UP again after {view.successes} successes",
                     worker=w, successes=view.successes)
        elif new is Health.SUSPECT:
            ctx.count("suspicions")
            ctx.note(f"registry suspects {w}", worker=w)

    # -- checking ---------------------------------------------------------------------------
    def _truth(self, view, w: str) -> str | None:
        """Why ``w`` really is silent (crashed, paused, cut), or None if it is fine."""
        status = view.nodes[w].status
        if status != "alive":
            return str(status)
        cut = view.is_cut(w, REGISTRY)
        if self.v["mode"] == "pull":
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
        if not ghost.changes:
            return ()
        found = []
        now = view.local_time(REGISTRY)
        for w, old, new in ghost.changes:
            if new is Health.DOWN:
                ghost.downs[w] = ghost.downs.get(w, 0) + 1
                quiet = now - ghost.heard_at.get(w, now)
                if quiet < self._interval():
                    found.append(("down_means_silent", f"{w} was marked down (time "
                                                       f"#{ghost.downs[w]}) {quiet / MS:g} ms "
                                                       f"after the registry last heard from "
                                                       f"it"))
                seen = ghost.misses.get(w, 0)
                if seen < self.p["k"]:
                    found.append(("no_flapping", f"{w} was marked down (time #{ghost.downs[w]}) "
                                                 f"after {seen} consecutive miss(es); the "
                                                 f"hysteresis requires k = {self.p['k']}"))
                self._judge_down(view, ghost, w)
            elif old is Health.DOWN:
                seen = ghost.successes.get(w, 0)
                if seen < self.p["m"]:
                    found.append(("no_flapping", f"{w} was marked up again (after down "
                                                 f"#{ghost.downs.get(w, 0)}) after {seen} "
                                                 f"consecutive success(es); the hysteresis "
                                                 f"requires m = {self.p['m']}"))
        ghost.changes.clear()
        return found

    def _note_failure(self, view, ghost, w: str) -> None:
        kind = self._truth(view, w)
        known = ghost.failed_since.get(w)
        if kind is None:
            if known is not None:
                del ghost.failed_since[w]
                ghost.recovered_at[w] = view.now
        elif known is None or known[0] != kind:
            ghost.failed_since[w] = (kind, view.now)

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

    # -- display and metrics -------------------------------------------------------------------
    def metrics(self, view):
        ghost = view.ghost
        reg = view.nodes[REGISTRY].state
        elapsed = max(1, view.local_time(REGISTRY) - reg.started_at)
        area = reg.queue_area + len(reg.queue) * (view.local_time(REGISTRY) - reg.queue_since)
        crashes = [ms for _w, kind, ms in ghost.detections if kind == "crashed"]
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
            "probe_load": round(view.counters.get("probes_sent", 0) * SECOND / max(1, view.now), 3),
            "registry_queue_max": reg.queue_max,
            "registry_queue_avg": round(area / elapsed, 3),
            "probe_round_ms_mean": round(sum(rounds) / len(rounds), 3) if rounds else 0,
            "probe_round_ms_max": max(rounds) if rounds else 0,
            "pulse_wait_ms_max": max(waits) if waits else 0,
            "workers_down": sum(1 for v in reg.views.values() if v.health is Health.DOWN),
        }

    def role(self, state):
        return "registry" if isinstance(state, RegistryState) else "worker"

    def summary(self, node_id, state):
        if isinstance(state, RegistryState):
            return {"queue": len(state.queue), "queue_max": state.queue_max,
                    "round": state.round, "probes_sent": state.probes_sent,
                    "down": [w for w, v in state.views.items() if v.health is Health.DOWN]}
        return {"pulses_sent": state.pulses_sent, "probes_answered": state.probes_answered}

    def panel(self, view):
        reg = view.nodes[REGISTRY].state
        now = view.local_time(REGISTRY)
        rows = []
        for w, v in reg.views.items():
            failed = view.ghost.failed_since.get(w)
            rows.append({"worker": w, "health": v.health.value,
                         "last_heard_ms_ago": (now - v.last_heard) / MS,
                         "misses": v.misses, "successes": v.successes,
                         "phi": round(v.phi, 3),
                         "truth": failed[0] if failed else "alive"})
        return {"mode": self.v["mode"], "detector": self.v["detector"],
                "k": self._k, "m": self._m,
                "registry": {"queue": len(reg.queue), "queue_max": reg.queue_max,
                             "round": reg.round, "outstanding": list(reg.outstanding)},
                "views": rows,
                "false_suspicions": [{"worker": w, "at_ms": t / MS}
                                     for w, t in view.ghost.false_suspicions[-20:]]}
