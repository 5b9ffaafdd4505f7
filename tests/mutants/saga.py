"""Mutants of the saga model: an orchestrator that undoes in the wrong order, skips an
undo or forgets the step that timed out, and a service without its idempotency key."""

from __future__ import annotations

from playground.models.saga.messages import STEPS, StepReply, idempotency_key
from playground.models.saga.orchestrator import (SAGA_MOVES, STEP_MOVES, Orchestrator,
                                                 SagaPhase, StepStatus)
from playground.models.saga.service import Outcome, Service

from . import mutant, replacing


@replacing(Orchestrator, "compensate_next")
def _compensations_run_forward(self, rec, ctx):
    for i, status in enumerate(rec.steps):  # the bug: the lowest step first
        if status is StepStatus.DONE or status is StepStatus.COMPENSATING:
            if status is StepStatus.DONE:
                rec.steps[i] = STEP_MOVES.move(status, StepStatus.COMPENSATING)
            rec.current = i
            rec.attempts = 0
            self.send_compensate(rec, ctx)
            return
    rec.phase = SAGA_MOVES.move(rec.phase, SagaPhase.COMPENSATED)
    ctx.count("sagas_compensated")


@replacing(Orchestrator, "compensation_timed_out")
def _compensation_skipped_on_retry(self, rec, ctx):
    self.give_up(rec, ctx)  # the bug: whatever the variant says, an unanswered undo is dropped


@replacing(Orchestrator, "step_timed_out")
def _timed_out_step_left_alone(self, rec, ctx):
    if rec.current == len(STEPS) - 1 or rec.attempts <= self.model.p["max_retries"]:
        ctx.count("retries")
        self.send_step(rec, ctx)
        return
    ctx.count("steps_timed_out")
    # the bug: a step that timed out is taken as not run, and only the steps under it undone
    rec.steps[rec.current] = STEP_MOVES.move(rec.steps[rec.current], StepStatus.REJECTED)
    rec.phase = SAGA_MOVES.move(rec.phase, SagaPhase.COMPENSATING)
    self.compensate_next(rec, ctx)


@replacing(Service, "step")
def _step_without_idempotency_key(self, state, msg, src, ctx):
    key = idempotency_key(msg.saga, msg.step)
    if state.db.processed.get(key) is Outcome.COMPENSATED:
        ctx.send(src, StepReply(msg.saga, msg.step, False, "already compensated"))
        return
    reason = self.business_rule(state, msg, ctx)  # the bug: a repeated request runs anew
    if reason:
        state.db.processed[key] = Outcome.REJECTED
    else:
        self.apply(state, msg.saga, msg.action, ctx)
        state.db.processed[key] = Outcome.APPLIED
    ctx.send(src, StepReply(msg.saga, msg.step, not reason, reason))


MUTANTS = (
    mutant("saga", "compensations_run_forward", "the orchestrator undoes the lowest step "
           "first", _compensations_run_forward),
    mutant("saga", "compensation_skipped_on_retry", "an unanswered compensation is written "
           "off instead of retried", _compensation_skipped_on_retry),
    mutant("saga", "timed_out_step_left_alone", "a step that timed out is not compensated, "
           "only the steps before it", _timed_out_step_left_alone),
    mutant("saga", "step_without_idempotency_key", "a service runs a repeated step request "
           "again", _step_without_idempotency_key),
)
