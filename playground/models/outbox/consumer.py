"""The consumer (the inventory service): reserves one item per ``OrderCreated`` event.

With ``idempotent_consumer`` it records each event id in ``processed`` in the same local
transaction as the reservation and skips a repeat (it still acknowledges it); without
it, every delivery reserves another item.

With ``ordered_consumer`` it applies events in the order the service committed them, as
a Resequencer (Hohpe and Woolf) does: an order's id is its sequence number, given in the
transaction that commits the order, and the consumer keeps ``next_seq``, the next one it
may apply. An event ahead of it is held in ``held`` (in the same database, so holding it
and acknowledging it is safe) until the gap before it is filled; an event behind it has
been applied already and is skipped, so the sequence check deduplicates too. Without it,
events are applied as they arrive, which redelivery and a relay's retries reorder. Its
database survives a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import Role, on

from .facts import DuplicateEventSkipped, EventApplied, EventDelivered, EventHeld
from .messages import CONSUMER, Deliver, DeliveryAck, OrderCreated


@dataclass(slots=True)
class InventoryDB:
    stock: int = 0
    reserved: dict = field(default_factory=dict)  # order id -> items reserved for it
    processed: dict = field(default_factory=dict)  # event id -> offset (idempotent consumer)
    next_seq: int = 1  # ordered consumer: the next order id it may apply
    held: dict = field(default_factory=dict)  # ordered: order id -> (offset, event) held


@dataclass(slots=True)
class ConsumerState:
    db: InventoryDB = field(default_factory=InventoryDB)


class Consumer(Role):
    name = CONSUMER
    State = ConsumerState
    durable = ("db",)

    @on(Deliver)
    def deliver(self, state, msg, src, ctx):
        """Apply the event (in sequence, with ``ordered_consumer``), then acknowledge it."""
        db = state.db
        order = msg.event.order
        ctx.tell(EventDelivered(order, msg.offset))
        if self.model.v["ordered_consumer"]:
            self._resequence(db, msg, ctx)
        elif self.model.v["idempotent_consumer"] and order in db.processed:
            ctx.tell(DuplicateEventSkipped(order, msg.offset))
        else:
            self._apply(db, msg.offset, msg.event, ctx)
        ctx.send(src, DeliveryAck(msg.offset))

    def _resequence(self, db, msg, ctx):
        """Hold an event ahead of ``next_seq``; apply every event the gap was holding up."""
        order = msg.event.order
        if order < db.next_seq or order in db.held:
            ctx.tell(DuplicateEventSkipped(order, msg.offset))
            return
        db.held[order] = (msg.offset, msg.event)
        if order > db.next_seq:
            ctx.count("held_events")
            ctx.tell(EventHeld(order, db.next_seq))
        while db.next_seq in db.held:
            offset, event = db.held.pop(db.next_seq)
            self._apply(db, offset, event, ctx)
            db.next_seq += 1

    def _apply(self, db, offset: int, event: OrderCreated, ctx):
        """Reserve one item for the event's order: one local transaction."""
        order = event.order
        db.stock -= 1
        db.reserved[order] = db.reserved.get(order, 0) + 1
        db.processed[order] = offset
        ctx.tell(EventApplied(order, offset, db.reserved[order]))

    def label(self, state):
        return "consumer"

    def summary(self, node_id, state):
        return {"stock": state.db.stock, "applied": len(state.db.reserved),
                "held": sorted(state.db.held)}
