"""What the saga model's handlers tell the checker (``ctx.tell``), and the trace.

The services tell every local transaction they commit (``LocalCommitted``, forward or
compensating) and every compensation they record for a step (``StepUndone``, with
``ran`` False for a tombstone: the undo of a step that never ran there). The orchestrator
tells how each saga started and ended in its log. From the services' facts and their
databases the checker judges the sagas (``checker.py``); the orchestrator's facts are for
the reader of the trace, and no invariant trusts them.
"""

from __future__ import annotations

from dataclasses import dataclass

from playground.models.base import Fact


# -- the services ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LocalCommitted(Fact):
    text = "committed {action} for saga {saga}"
    saga: int
    action: str


@dataclass(frozen=True, slots=True)
class StepUndone(Fact):
    text = "recorded step {step} of saga {saga} as compensated (it ran: {ran})"
    saga: int
    step: int
    ran: bool


# -- the orchestrator --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SagaStarted(Fact):
    text = "started saga {saga}"
    saga: int


@dataclass(frozen=True, slots=True)
class SagaEnded(Fact):
    """The orchestrator's log says the saga is over: ``completed`` or ``compensated``."""

    text = "saga {saga} {phase}"
    saga: int
    phase: str
