"""A service (a saga participant): its own database, its local transactions and their undo.

Every service runs a step and its compensation at most once per ``idempotency_key``
("saga:step", kept in ``processed``) and answers a repeat with the stored outcome; a
compensation for a step that never ran leaves a tombstone, so a late duplicate of the
step is refused instead of running after its own undo. The four services share this
role; each uses its own tables of ``ServiceDB``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from playground.models.base import Role, Transitions, on

from .facts import LocalCommitted, StepUndone
from .messages import (PRICE, REJECT_REASON, REJECTABLE, Compensate, Compensated, StepReply,
                       StepRequest, idempotency_key)


class Outcome(Enum):
    """What a service recorded under an idempotency key."""

    APPLIED = "applied"
    REJECTED = "rejected"
    COMPENSATED = "compensated"  # undone, or a tombstone if the step never ran


class OrderStatus(Enum):
    PENDING = "pending"
    APPROVED = "approved"
    CANCELLED = "cancelled"


ORDER_MOVES = Transitions("order row", {
    OrderStatus.PENDING: (OrderStatus.APPROVED, OrderStatus.CANCELLED),
})


@dataclass(slots=True)
class ServiceDB:
    """A service's local database; each service uses its own tables."""

    processed: dict = field(default_factory=dict)  # idempotency_key -> Outcome
    orders: dict = field(default_factory=dict)  # saga -> OrderStatus          (order)
    charged: dict = field(default_factory=dict)  # saga -> dollars charged      (payment)
    refunded: dict = field(default_factory=dict)  # saga -> dollars refunded    (payment)
    stock: int = 0  # items on the shelf                                        (inventory)
    reserved: dict = field(default_factory=dict)  # saga -> items held          (inventory)
    shipments: dict = field(default_factory=dict)  # saga -> "scheduled"/"cancelled"


@dataclass(slots=True)
class ServiceState:
    service: str = ""
    db: ServiceDB = field(default_factory=ServiceDB)


class Service(Role):
    name = "service"
    State = ServiceState
    durable = ("db",)

    @on(StepRequest)
    def step(self, state, msg, src, ctx):
        """Run the local transaction once per idempotency key; repeat the stored answer."""
        db = state.db
        key = idempotency_key(msg.saga, msg.step)
        outcome = db.processed.get(key)
        if outcome is None:
            reason = self.business_rule(state, msg, ctx)
            if reason:
                outcome = db.processed[key] = Outcome.REJECTED
                ctx.note(f"saga {msg.saga}: {msg.action} rejected ({reason})")
            else:
                self.apply(state, msg.saga, msg.action, ctx)
                outcome = db.processed[key] = Outcome.APPLIED
                ctx.note(f"saga {msg.saga}: {msg.action} committed")
        else:
            ctx.count("duplicate_requests")
        reason = {Outcome.APPLIED: "", Outcome.REJECTED: REJECT_REASON.get(msg.action, ""),
                  Outcome.COMPENSATED: "already compensated"}[outcome]
        ctx.send(src, StepReply(msg.saga, msg.step, outcome is Outcome.APPLIED, reason))

    def business_rule(self, state, msg, ctx) -> str:
        """Why this step is refused ('' when it may run)."""
        if msg.action not in REJECTABLE:
            return ""
        if msg.action == "reserve_item" and state.db.stock <= 0:
            return "out of stock"
        if msg.reject or ctx.rng.random() < self.model.p["reject_probability"]:
            return REJECT_REASON[msg.action]
        return ""

    @on(Compensate)
    def compensate(self, state, msg, src, ctx):
        """Undo a step once; a step that never ran gets a tombstone so it never will."""
        db = state.db
        key = idempotency_key(msg.saga, msg.step)
        outcome = db.processed.get(key)
        if outcome is Outcome.APPLIED:
            self.apply(state, msg.saga, msg.action, ctx)
            ctx.note(f"saga {msg.saga}: {msg.action} committed")
        elif outcome is None:
            ctx.note(f"saga {msg.saga}: {msg.action} for a step that never ran (tombstone)")
        else:
            ctx.count("duplicate_requests")
        if outcome is not Outcome.COMPENSATED and outcome is not Outcome.REJECTED:
            db.processed[key] = Outcome.COMPENSATED
            ctx.tell(StepUndone(msg.saga, msg.step, outcome is Outcome.APPLIED))
        ctx.send(src, Compensated(msg.saga, msg.step))

    def apply(self, state, saga, action, ctx):
        """One local transaction on this service's tables."""
        db = state.db
        if action == "create_order":
            db.orders[saga] = OrderStatus.PENDING
        elif action == "approve_order":
            db.orders[saga] = ORDER_MOVES.move(db.orders[saga], OrderStatus.APPROVED)
        elif action == "cancel_order":
            db.orders[saga] = ORDER_MOVES.move(db.orders[saga], OrderStatus.CANCELLED)
        elif action == "charge":
            db.charged[saga] = db.charged.get(saga, 0) + PRICE
        elif action == "refund":
            db.refunded[saga] = db.refunded.get(saga, 0) + db.charged.get(saga, 0)
        elif action == "reserve_item":
            db.stock -= 1
            db.reserved[saga] = db.reserved.get(saga, 0) + 1
        elif action == "release_item":
            db.stock += 1
            db.reserved[saga] = db.reserved.get(saga, 0) - 1
        elif action == "schedule_shipping":
            db.shipments[saga] = "scheduled"
        elif action == "cancel_shipping":
            db.shipments[saga] = "cancelled"
        else:
            raise ValueError(f"unknown saga action {action!r}")
        ctx.tell(LocalCommitted(saga, action))

    def label(self, state):
        return state.service

    def summary(self, node_id, state):
        return {"processed": len(state.db.processed), "table": table_json(node_id, state.db)}


def table_json(service: str, db: ServiceDB) -> dict:
    if service == "order":
        return {str(s): st.value for s, st in db.orders.items()}
    if service == "payment":
        return {str(s): {"charged": c, "refunded": db.refunded.get(s, 0)}
                for s, c in db.charged.items()}
    if service == "inventory":
        return {"stock": db.stock, "reserved": {str(s): n for s, n in db.reserved.items()}}
    return {str(s): v for s, v in db.shipments.items()}
