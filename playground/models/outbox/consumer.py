"""The consumer (the inventory service): reserves one item per ``OrderCreated`` event.

With ``idempotent_consumer`` it records each event id in ``processed`` in the same local
transaction as the reservation and skips a repeat (it still acknowledges it); without
it, every delivery reserves another item. Its database survives a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import Role, on

from .facts import DuplicateEventSkipped, EventApplied, EventDelivered
from .messages import CONSUMER, Deliver, DeliveryAck


@dataclass(slots=True)
class InventoryDB:
    stock: int = 0
    reserved: dict = field(default_factory=dict)  # order id -> items reserved for it
    processed: dict = field(default_factory=dict)  # event id -> offset (idempotent consumer)


@dataclass(slots=True)
class ConsumerState:
    db: InventoryDB = field(default_factory=InventoryDB)


class Consumer(Role):
    name = CONSUMER
    State = ConsumerState
    durable = ("db",)

    @on(Deliver)
    def deliver(self, state, msg, src, ctx):
        """Reserve one item per event; an idempotent consumer skips event ids it has seen."""
        db = state.db
        order = msg.event.order
        ctx.tell(EventDelivered(order, msg.offset))
        if self.model.v["idempotent_consumer"] and order in db.processed:
            ctx.tell(DuplicateEventSkipped(order, msg.offset))
        else:
            db.stock -= 1
            db.reserved[order] = db.reserved.get(order, 0) + 1
            db.processed[order] = msg.offset
            ctx.tell(EventApplied(order, msg.offset, db.reserved[order]))
        ctx.send(src, DeliveryAck(msg.offset))

    def label(self, state):
        return "consumer"

    def summary(self, node_id, state):
        return {"stock": state.db.stock, "applied": len(state.db.reserved)}
