"""What the nodes of the outbox model say to each other, and the names they share.

The relay reads the outbox through the service (``PollOutbox`` → ``OutboxRows``) and
removes a row with ``DeleteOutboxRow``; whoever publishes (the relay, or the service
itself in the naive modes) sends ``Publish`` to the broker and gets ``PublishAck`` with
the entry's offset; the broker pushes ``Deliver`` to the consumer until ``DeliveryAck``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

SERVICE = "service"
RELAY = "relay"
BROKER = "broker"
CONSUMER = "consumer"
MODES = ("outbox", "dual_write", "publish_first")


class OutboxTimer(Enum):
    """Timer kinds; the values are the timers' names (or the prefix before the order)."""

    WORKLOAD = "workload"  # the service places its next order
    PUBLISH = "publish:"  # + order: naive modes, publish (again) from the service's memory
    COMMIT = "commit:"  # + order: publish first, commit once the event is acknowledged
    POLL = "poll"  # the relay polls the outbox
    REDELIVER = "redeliver"  # the broker pushes unacknowledged entries again


@dataclass(frozen=True, slots=True)
class OrderCreated:
    """The event: one order was placed (its id is the event's id)."""

    order: int
    item: str


@dataclass(frozen=True, slots=True)
class Publish:
    event: OrderCreated


@dataclass(frozen=True, slots=True)
class PublishAck:
    order: int
    offset: int


@dataclass(frozen=True, slots=True)
class PollOutbox:
    limit: int


@dataclass(frozen=True, slots=True)
class OutboxRows:
    rows: tuple  # OrderCreated events still in the outbox, oldest first


@dataclass(frozen=True, slots=True)
class DeleteOutboxRow:
    order: int


@dataclass(frozen=True, slots=True)
class Deliver:
    offset: int
    event: OrderCreated


@dataclass(frozen=True, slots=True)
class DeliveryAck:
    offset: int
