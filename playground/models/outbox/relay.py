"""The relay (outbox mode): polls the outbox, publishes each row, deletes it once stored.

It publishes a row not already in flight (again after ``publish_timeout_ms`` without an
acknowledgement) and asks the service to delete it only after the broker's
``PublishAck``; a row it saw acknowledged but still finds gets another delete, not another
publish. It keeps nothing durable: the outbox table is its memory, so a relay that
crashes between the publish and the delete publishes the row again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import Role, Timer, on, timer

from .facts import EventPublished, PublishAcknowledged
from .messages import (BROKER, RELAY, SERVICE, DeleteOutboxRow, OutboxRows, OutboxTimer,
                       PollOutbox, Publish, PublishAck)

POLL = Timer(OutboxTimer.POLL)


@dataclass(slots=True)
class RelayState:
    """Nothing durable: the outbox table is the relay's memory."""

    in_flight: dict = field(default_factory=dict)  # order id -> local time of the publish
    acked: dict = field(default_factory=dict)  # order id -> offset, delete not yet seen
    polls: int = 0
    published: int = 0


class Relay(Role):
    name = RELAY
    State = RelayState

    def start(self, state, ctx):
        if self.model.mode == "outbox":
            ctx.set_timer(POLL, self.model.poll_every)

    @timer(OutboxTimer.POLL)
    def poll(self, state, _timer, ctx):
        state.polls += 1
        ctx.send(SERVICE, PollOutbox(self.model.p["batch"]))
        ctx.set_timer(POLL, self.model.poll_every)

    @on(OutboxRows)
    def rows(self, state, msg, src, ctx):
        """Publish rows not in flight; re-ask to delete rows the broker already has."""
        present = {}
        timeout = self.model.publish_timeout
        for event in msg.rows:
            order = event.order
            present[order] = True
            if order in state.acked:
                ctx.send(SERVICE, DeleteOutboxRow(order))
                continue
            sent = state.in_flight.get(order)
            if sent is not None and ctx.now - sent < timeout:
                continue
            if sent is not None:
                ctx.count("relay_retries")
                ctx.note(f"order {order}: no acknowledgement in time, publishing again")
            state.in_flight[order] = ctx.now
            state.published += 1
            ctx.send(BROKER, Publish(event))
            ctx.tell(EventPublished(order))
        for order in [o for o in state.acked if o not in present]:
            del state.acked[order]  # its row is gone

    @on(PublishAck)
    def publish_ack(self, state, msg, src, ctx):
        """The broker has the event: now, and only now, delete its row."""
        state.in_flight.pop(msg.order, None)
        state.acked[msg.order] = msg.offset
        ctx.tell(PublishAcknowledged(msg.order, msg.offset))
        ctx.send(SERVICE, DeleteOutboxRow(msg.order))

    def label(self, state):
        return "relay"

    def summary(self, node_id, state):
        return {"in_flight": sorted(state.in_flight), "awaiting_delete": sorted(state.acked),
                "polls": state.polls, "published": state.published}
