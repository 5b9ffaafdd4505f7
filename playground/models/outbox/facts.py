"""What the outbox model's handlers tell the checker (``ctx.tell``), and the trace.

The life of one order's event, from the trace alone: the order row committed
(``OrderCommitted``) with its outbox row in the same transaction (``OutboxRowWritten``),
published (``EventPublished``), stored in the broker's log (``EventStored``), the publish
acknowledged (``PublishAcknowledged``), the outbox row deleted (``OutboxRowDeleted``),
delivered to the consumer (``EventDelivered``), held until the events committed before it
are applied (``EventHeld``, ordered consumer), applied (``EventApplied``) or skipped as a
duplicate (``DuplicateEventSkipped``), and the delivery acknowledged
(``DeliveryAcknowledged``).
"""

from __future__ import annotations

from dataclasses import dataclass

from playground.models.base import Fact


@dataclass(frozen=True, slots=True)
class OrderCommitted(Fact):
    """The order row is in the service's database."""

    text = "order {order} committed"
    order: int
    item: str


@dataclass(frozen=True, slots=True)
class OutboxRowWritten(Fact):
    """The order's event is in the outbox, in the same transaction as the order row."""

    text = "order {order}: event written to the outbox"
    order: int


@dataclass(frozen=True, slots=True)
class EventPublished(Fact):
    """The service (naive modes) or the relay sent the event to the broker."""

    text = "order {order}: event published to the broker"
    order: int


@dataclass(frozen=True, slots=True)
class EventStored(Fact):
    """The broker appended the event to its durable log (it does not deduplicate)."""

    text = "order {order}: event stored at offset {offset}"
    order: int
    offset: int


@dataclass(frozen=True, slots=True)
class PublishAcknowledged(Fact):
    """The publisher learnt that the broker has the event."""

    text = "order {order}: publish acknowledged (offset {offset})"
    order: int
    offset: int


@dataclass(frozen=True, slots=True)
class OutboxRowDeleted(Fact):
    text = "outbox row {order} deleted"
    order: int


@dataclass(frozen=True, slots=True)
class EventDelivered(Fact):
    """The consumer received the entry at ``offset`` (each redelivery again)."""

    text = "order {order}: event delivered from offset {offset}"
    order: int
    offset: int


@dataclass(frozen=True, slots=True)
class EventApplied(Fact):
    """The consumer reserved an item for the order; ``times`` counts them so far."""

    text = "order {order}: item reserved ({times} so far)"
    order: int
    offset: int
    times: int


@dataclass(frozen=True, slots=True)
class EventHeld(Fact):
    """An ordered consumer got an event ahead of its sequence and holds it."""

    text = "order {order}: event held until order {waiting_for} is applied"
    order: int
    waiting_for: int


@dataclass(frozen=True, slots=True)
class DuplicateEventSkipped(Fact):
    """An idempotent (or ordered) consumer met an event it had processed (or holds) and
    skipped it."""

    text = "order {order}: duplicate event skipped"
    order: int
    offset: int


@dataclass(frozen=True, slots=True)
class DeliveryAcknowledged(Fact):
    """The broker removed the entry at ``offset`` from its unacknowledged set."""

    text = "offset {offset} acknowledged by the consumer"
    offset: int
