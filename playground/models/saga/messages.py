"""The saga's steps, what the orchestrator and the services say to each other, and timers.

The orchestrator sends ``StepRequest`` (a forward local transaction) and ``Compensate``
(its semantic undo); a service answers ``StepReply`` and ``Compensated``. Every request
carries the saga and the step, which together are the service's ``idempotency_key``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from playground.models.base import Timer

ORCHESTRATOR = "orchestrator"
SERVICES = ("order", "payment", "inventory", "shipping")
PRICE = 100  # dollars per purchase


@dataclass(frozen=True, slots=True)
class SagaStep:
    """One local transaction of the saga and the compensation that undoes it."""

    action: str
    service: str
    compensation: str | None
    rejectable: bool  # a business rule at the service may refuse it


STEPS = (
    SagaStep("create_order", "order", "cancel_order", False),
    SagaStep("charge", "payment", "refund", True),
    SagaStep("reserve_item", "inventory", "release_item", True),
    SagaStep("schedule_shipping", "shipping", "cancel_shipping", True),
    SagaStep("approve_order", "order", None, False),
)
LAST = len(STEPS) - 1
REJECTABLE = tuple(s.action for s in STEPS if s.rejectable)
REJECT_REASON = {"charge": "card declined", "reserve_item": "out of stock",
                 "schedule_shipping": "address undeliverable"}


def idempotency_key(saga: int, step: int) -> str:
    return f"{saga}:{step}"


class SagaTimer(Enum):
    """Timer kinds; the values are the timers' names (or the prefix before the saga)."""

    WORKLOAD = "workload"  # the orchestrator starts its next purchase
    REPLY = "saga:"  # + saga: no reply to the saga's outstanding request in time


WORKLOAD = Timer(SagaTimer.WORKLOAD)


def reply_timer(saga: int) -> Timer:
    return Timer(SagaTimer.REPLY, saga)


@dataclass(frozen=True, slots=True)
class StepRequest:
    saga: int
    step: int
    action: str
    amount: int
    reject: bool  # the purchase's data make this step fail its business rule


@dataclass(frozen=True, slots=True)
class StepReply:
    saga: int
    step: int
    ok: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Compensate:
    saga: int
    step: int
    action: str


@dataclass(frozen=True, slots=True)
class Compensated:
    saga: int
    step: int
