"""The registry role: one FIFO queue of jobs served one at a time, probe rounds (pull), and
the failure detector's sweep.

Every pulse received, every probe sent and every reply received is a ``Job``; the
``serve`` timer finishes the job at the head of the queue after its cost, and only then
is a pulse *heard*. Client command ``load`` queues other work in front of the pulses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from playground.models.base import MS, Role, command, on, timer

from .detector import WorkerView
from .facts import WorkerHeard
from .messages import (REGISTRY, ROUND, ROUND_DEADLINE, SERVE, SWEEP, Health, HealthProbe,
                       HealthReply, Heartbeat, HeartbeatTimer)


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


class Registry(Role):
    name = REGISTRY
    State = RegistryState

    def start(self, state, ctx):
        """Trust every worker (a restarted registry too), arm the sweep, and in pull mode
        start the first probe round."""
        state.started_at = state.queue_since = ctx.now
        state.views = {w: WorkerView(last_heard=ctx.now) for w in ctx.peers}
        ctx.set_timer(SWEEP, self.model.interval)
        if not self.model.push:
            ctx.set_timer(ROUND, 1)

    # -- what arrives ---------------------------------------------------------------------
    @on(Heartbeat)
    def pulse(self, state, msg: Heartbeat, src, ctx):
        self._enqueue(state, Job(JobKind.PULSE, src, 0, self.model.cost, ctx.now, msg.sent_at),
                      ctx)

    @on(HealthReply)
    def reply(self, state, msg: HealthReply, src, ctx):
        self._enqueue(state, Job(JobKind.REPLY, src, msg.round, self.model.cost, ctx.now,
                                 msg.sent_at), ctx)

    @command("load")
    def load(self, state, cmd, ctx):
        """Other work lands in the registry's queue."""
        cost = max(1, int(cmd.get("job_ms", self.model.p["service_ms"]) * MS))
        ctx.note(f"{cmd['jobs']} other jobs of {cost / MS:g} ms arrive at the registry")
        for _ in range(cmd["jobs"]):
            self._enqueue(state, Job(JobKind.WORK, None, 0, cost, ctx.now), ctx)

    # -- the queue ------------------------------------------------------------------------
    def _queue_changed(self, state, ctx) -> None:
        state.queue_area += len(state.queue) * (ctx.now - state.queue_since)
        state.queue_since = ctx.now

    def _enqueue(self, state, job: Job, ctx) -> None:
        if len(state.queue) >= self.model.p["queue_limit"]:
            state.dropped_jobs += 1
            ctx.count("registry_jobs_dropped")
            return
        self._queue_changed(state, ctx)
        state.queue.append(job)
        state.queue_max = max(state.queue_max, len(state.queue))
        if len(state.queue) == 1:
            ctx.set_timer(SERVE, job.cost)

    @timer(HeartbeatTimer.SERVE)
    def serve(self, state, _timer, ctx):
        """The job at the head of the queue is done: apply it, start the next one."""
        self._queue_changed(state, ctx)
        job = state.queue.pop(0)
        if state.queue:
            ctx.set_timer(SERVE, state.queue[0].cost)
        if job.kind is JobKind.PULSE:
            ctx.observe("pulse_wait_ms", (ctx.now - job.enqueued_at) / MS)
            self._heard(state, job, ctx)
        elif job.kind is JobKind.PROBE:
            state.probes_sent += 1
            ctx.count("probes_sent")
            ctx.send(job.worker, HealthProbe(job.round))
            state.probes_left -= 1
            if state.probes_left == 0 and job.round == state.round:
                ctx.set_timer(ROUND_DEADLINE,
                              max(1, int(self.model.p["probe_timeout_ms"] * MS)))
        elif job.kind is JobKind.REPLY:
            ctx.observe("pulse_wait_ms", (ctx.now - job.enqueued_at) / MS)
            if job.round != state.round or job.worker not in state.outstanding:
                ctx.count("late_replies")
                return
            state.outstanding.remove(job.worker)
            self._heard(state, job, ctx)
            if not state.outstanding and state.probes_left == 0:
                self._end_round(state, ctx)

    def _heard(self, state, job: Job, ctx) -> None:
        view = state.views.get(job.worker)
        if view is None:
            return
        ctx.tell(WorkerHeard(job.worker))
        self.model.detector.heard(view, job.worker, job.sent_at, ctx)

    # -- the detector's sweep -------------------------------------------------------------
    @timer(HeartbeatTimer.SWEEP)
    def sweep(self, state, _timer, ctx):
        self.model.detector.sweep(state.views, ctx)
        ctx.set_timer(SWEEP, self.model.interval)

    # -- pull: probe rounds ---------------------------------------------------------------
    @timer(HeartbeatTimer.ROUND)
    def start_round(self, state, _timer, ctx):
        state.round += 1
        state.round_started = ctx.now
        workers = list(state.views)
        state.outstanding = list(workers)
        state.probes_left = len(workers)
        for w in workers:
            self._enqueue(state, Job(JobKind.PROBE, w, state.round, self.model.cost, ctx.now),
                          ctx)

    @timer(HeartbeatTimer.ROUND_DEADLINE)
    def round_deadline(self, state, _timer, ctx):
        self._end_round(state, ctx)

    def _end_round(self, state, ctx) -> None:
        ctx.cancel_timer(ROUND_DEADLINE)
        took = ctx.now - state.round_started
        ctx.observe("probe_round_ms", took / MS)
        if state.outstanding:
            ctx.note(f"probe round {state.round} ended without replies from "
                     f"{', '.join(state.outstanding)}", round=state.round, took_ms=took / MS)
        state.outstanding = []
        ctx.set_timer(ROUND, max(1, self.model.interval - took))

    # -- display ----------------------------------------------------------------------------
    def summary(self, node_id, state):
        return {"queue": len(state.queue), "queue_max": state.queue_max,
                "round": state.round, "probes_sent": state.probes_sent,
                "down": [w for w, v in state.views.items() if v.health is Health.DOWN]}
