"""The orchestrator: runs each purchase forward step by step, and backward when one fails.

Its durable saga log (``db``) holds one ``SagaRecord`` per saga, written before every
send, so a restarted orchestrator resumes each unfinished saga where the log says it was.
A saga's phase and each step's status move through transition tables (``SAGA_MOVES``,
``STEP_MOVES``); an illegal move raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from playground.models.base import MS, Role, Transitions, command, on, timer

from .facts import SagaEnded, SagaStarted
from .messages import (LAST, PRICE, STEPS, WORKLOAD, Compensate, Compensated, SagaTimer,
                       StepReply, StepRequest, reply_timer)


class SagaPhase(Enum):
    RUNNING = "running"
    COMPENSATING = "compensating"
    COMPLETED = "completed"
    COMPENSATED = "compensated"


class StepStatus(Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    REJECTED = "rejected"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"
    GIVEN_UP = "given up"  # broken variant: compensation sent once, then written off


SAGA_MOVES = Transitions("saga", {
    SagaPhase.RUNNING: (SagaPhase.COMPENSATING, SagaPhase.COMPLETED),
    SagaPhase.COMPENSATING: (SagaPhase.COMPENSATED,),
})
STEP_MOVES = Transitions("saga step", {
    StepStatus.PENDING: (StepStatus.RUNNING,),
    # RUNNING -> COMPENSATING: the step timed out and may have run, so it is undone too.
    StepStatus.RUNNING: (StepStatus.DONE, StepStatus.REJECTED, StepStatus.COMPENSATING),
    StepStatus.DONE: (StepStatus.COMPENSATING,),
    StepStatus.COMPENSATING: (StepStatus.COMPENSATED, StepStatus.GIVEN_UP),
})


@dataclass(slots=True)
class SagaRecord:
    """One saga in the orchestrator's durable log."""

    saga: int
    phase: SagaPhase = SagaPhase.RUNNING
    steps: list = field(default_factory=lambda: [StepStatus.PENDING] * len(STEPS))
    current: int = 0  # the step running, or being compensated
    attempts: int = 0  # sends of the current request
    reject_at: str | None = None
    reason: str = ""


@dataclass(slots=True)
class SagaLog:
    sagas: dict = field(default_factory=dict)  # saga id -> SagaRecord
    started: int = 0


@dataclass(slots=True)
class OrchestratorState:
    db: SagaLog = field(default_factory=SagaLog)


class Orchestrator(Role):
    name = "orchestrator"
    State = OrchestratorState
    durable = ("db",)

    def start(self, state, ctx):
        """Start the workload; after a restart, resume every unfinished saga from the log."""
        log = state.db
        if log.started < self.model.p["sagas"]:
            ctx.set_timer(WORKLOAD, int(self.model.p["start_interval_ms"] * MS))
        for rec in log.sagas.values():
            if rec.phase is SagaPhase.RUNNING:
                ctx.note(f"saga {rec.saga}: resumed at step {STEPS[rec.current].action}")
                self.send_step(rec, ctx)
            elif rec.phase is SagaPhase.COMPENSATING:
                if self.model.v["no_compensation_retry"]:
                    self.give_up(rec, ctx)
                else:
                    ctx.note(f"saga {rec.saga}: resumed compensating "
                             f"{STEPS[rec.current].compensation}")
                    self.send_compensate(rec, ctx)

    # -- forward ------------------------------------------------------------------------------
    @command("buy")
    def buy(self, state, cmd, ctx):
        """Start one purchase now (optionally doomed to fail at a step)."""
        self.start_saga(state, ctx, cmd.get("reject_at"))

    @timer(SagaTimer.WORKLOAD)
    def workload(self, state, _timer, ctx):
        self.start_saga(state, ctx, None)
        if state.db.started < self.model.p["sagas"]:
            ctx.set_timer(WORKLOAD, int(self.model.p["start_interval_ms"] * MS))

    def start_saga(self, state, ctx, reject_at):
        log = state.db
        log.started += 1
        rec = SagaRecord(log.started, reject_at=reject_at)
        log.sagas[rec.saga] = rec
        ctx.count("sagas_started")
        ctx.tell(SagaStarted(rec.saga))
        ctx.note(f"saga {rec.saga}: started" + (f" (will fail at {reject_at})"
                                                 if reject_at else ""))
        rec.steps[0] = STEP_MOVES.move(rec.steps[0], StepStatus.RUNNING)
        self.send_step(rec, ctx)

    def send_step(self, rec, ctx):
        step = STEPS[rec.current]
        rec.attempts += 1
        ctx.send(step.service, StepRequest(rec.saga, rec.current, step.action, PRICE,
                                           rec.reject_at == step.action))
        ctx.set_timer(reply_timer(rec.saga), int(self.model.p["step_timeout_ms"] * MS))

    def send_compensate(self, rec, ctx):
        step = STEPS[rec.current]
        rec.attempts += 1
        ctx.send(step.service, Compensate(rec.saga, rec.current, step.compensation))
        ctx.set_timer(reply_timer(rec.saga), int(self.model.p["step_timeout_ms"] * MS))

    @timer(SagaTimer.REPLY)
    def reply_timeout(self, state, name, ctx):
        """No reply in time: resend the step, or the compensation (or, broken, give up)."""
        rec = state.db.sagas[name.arg]
        if rec.phase is SagaPhase.RUNNING:
            self.step_timed_out(rec, ctx)
        elif rec.phase is SagaPhase.COMPENSATING:
            self.compensation_timed_out(rec, ctx)

    def step_timed_out(self, rec, ctx):
        """Resend the step, or after ``max_retries`` resends count it as failed."""
        if rec.current == LAST or rec.attempts <= self.model.p["max_retries"]:
            ctx.count("retries")
            ctx.note(f"saga {rec.saga}: no answer to {STEPS[rec.current].action}; retrying")
            self.send_step(rec, ctx)
            return
        step = STEPS[rec.current]
        ctx.count("steps_timed_out")
        rec.reason = f"{step.action} timed out after {rec.attempts} attempts"
        ctx.note(f"saga {rec.saga}: {rec.reason}; compensating")
        # It may have run with the reply lost: undo it first.
        rec.steps[rec.current] = STEP_MOVES.move(rec.steps[rec.current],
                                                 StepStatus.COMPENSATING)
        rec.phase = SAGA_MOVES.move(rec.phase, SagaPhase.COMPENSATING)
        rec.attempts = 0
        self.send_compensate(rec, ctx)

    @on(StepReply)
    def step_reply(self, state, msg, src, ctx):
        """Done: on to the next step (or completed); rejected: start compensating."""
        rec = state.db.sagas.get(msg.saga)
        if (rec is None or rec.phase is not SagaPhase.RUNNING or msg.step != rec.current
                or rec.steps[msg.step] is not StepStatus.RUNNING):
            return  # a duplicate or a reply to a request already given up on
        ctx.cancel_timer(reply_timer(rec.saga))
        if msg.ok:
            rec.steps[msg.step] = STEP_MOVES.move(rec.steps[msg.step], StepStatus.DONE)
            if msg.step == LAST:
                rec.phase = SAGA_MOVES.move(rec.phase, SagaPhase.COMPLETED)
                ctx.count("sagas_completed")
                ctx.tell(SagaEnded(rec.saga, rec.phase.value))
                ctx.note(f"saga {rec.saga}: completed")
                return
            rec.current += 1
            rec.attempts = 0
            rec.steps[rec.current] = STEP_MOVES.move(rec.steps[rec.current],
                                                     StepStatus.RUNNING)
            self.send_step(rec, ctx)
            return
        rec.steps[msg.step] = STEP_MOVES.move(rec.steps[msg.step], StepStatus.REJECTED)
        rec.phase = SAGA_MOVES.move(rec.phase, SagaPhase.COMPENSATING)
        rec.reason = f"{STEPS[msg.step].action} rejected: {msg.reason}"
        ctx.count("steps_rejected")
        ctx.note(f"saga {rec.saga}: {rec.reason}; compensating")
        self.compensate_next(rec, ctx)

    # -- backward ------------------------------------------------------------------------------
    def compensation_timed_out(self, rec, ctx):
        """A compensation must succeed: send it again (the broken variant writes it off)."""
        if self.model.v["no_compensation_retry"]:
            self.give_up(rec, ctx)
            return
        ctx.count("retries")
        ctx.note(f"saga {rec.saga}: no answer to {STEPS[rec.current].compensation}; "
                 "retrying")
        self.send_compensate(rec, ctx)

    @on(Compensated)
    def compensated(self, state, msg, src, ctx):
        """The service undid the step: compensate the one below it."""
        rec = state.db.sagas.get(msg.saga)
        if (rec is None or rec.phase is not SagaPhase.COMPENSATING or msg.step != rec.current
                or rec.steps[msg.step] is not StepStatus.COMPENSATING):
            return  # a duplicate acknowledgement
        ctx.cancel_timer(reply_timer(rec.saga))
        rec.steps[msg.step] = STEP_MOVES.move(rec.steps[msg.step], StepStatus.COMPENSATED)
        ctx.count("compensations_run")
        ctx.note(f"saga {rec.saga}: {STEPS[msg.step].compensation} done")
        self.compensate_next(rec, ctx)

    def give_up(self, rec, ctx):
        """Broken variant: write the outstanding compensation off and move on."""
        rec.steps[rec.current] = STEP_MOVES.move(rec.steps[rec.current], StepStatus.GIVEN_UP)
        ctx.count("compensations_given_up")
        ctx.note(f"saga {rec.saga}: gave up on {STEPS[rec.current].compensation} "
                 "(not retried)")
        self.compensate_next(rec, ctx)

    def compensate_next(self, rec, ctx):
        """Compensate the highest step that ran and is not undone yet, or finish."""
        for i in range(rec.current, -1, -1):
            status = rec.steps[i]
            if status is StepStatus.DONE or status is StepStatus.COMPENSATING:
                if status is StepStatus.DONE:
                    rec.steps[i] = STEP_MOVES.move(status, StepStatus.COMPENSATING)
                rec.current = i
                rec.attempts = 0
                self.send_compensate(rec, ctx)
                return
        ctx.cancel_timer(reply_timer(rec.saga))
        rec.phase = SAGA_MOVES.move(rec.phase, SagaPhase.COMPENSATED)
        ctx.count("sagas_compensated")
        ctx.tell(SagaEnded(rec.saga, rec.phase.value))
        ctx.note(f"saga {rec.saga}: compensated ({rec.reason})")

    # -- display ---------------------------------------------------------------------------------
    def label(self, state):
        return self.name

    def summary(self, node_id, state):
        log = state.db
        return {"started": log.started,
                "running": sum(1 for r in log.sagas.values()
                               if r.phase in (SagaPhase.RUNNING, SagaPhase.COMPENSATING)),
                "sagas": {str(s): record_json(r) for s, r in list(log.sagas.items())[-8:]}}


def record_json(rec: SagaRecord) -> dict:
    return {"phase": rec.phase.value, "current": rec.current, "attempts": rec.attempts,
            "steps": [s.value for s in rec.steps], "reason": rec.reason,
            "reject_at": rec.reject_at}
