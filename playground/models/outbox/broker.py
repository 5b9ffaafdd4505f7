"""The broker: one durable log, pushed to the consumer until it acknowledges.

Every publish is appended (no deduplication) and acknowledged with its offset; each
entry is pushed to the consumer and pushed again every ``redeliver_ms`` until the
consumer acknowledges that offset. The log and the unacknowledged set survive a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import Role, Timer, on, timer

from .facts import DeliveryAcknowledged, EventStored
from .messages import BROKER, CONSUMER, Deliver, DeliveryAck, OutboxTimer, Publish, PublishAck

REDELIVER = Timer(OutboxTimer.REDELIVER)


@dataclass(slots=True)
class BrokerLog:
    entries: list = field(default_factory=list)  # OrderCreated by offset
    unacked: dict = field(default_factory=dict)  # offset -> OrderCreated not yet consumed


@dataclass(slots=True)
class BrokerState:
    db: BrokerLog = field(default_factory=BrokerLog)
    sent_at: dict = field(default_factory=dict)  # offset -> local time last pushed


class Broker(Role):
    name = BROKER
    State = BrokerState
    durable = ("db",)
    helper = True

    def start(self, state, ctx):
        """After a restart, resume pushing what the consumer has not acknowledged."""
        if state.db.unacked:
            ctx.set_timer(REDELIVER, self.model.redeliver_every)

    @on(Publish)
    def publish(self, state, msg, src, ctx):
        """Append to the durable log (no deduplication), acknowledge, push to the consumer."""
        log = state.db
        offset = len(log.entries)
        log.entries.append(msg.event)
        log.unacked[offset] = msg.event
        ctx.tell(EventStored(msg.event.order, offset))
        ctx.send(src, PublishAck(msg.event.order, offset))
        ctx.send(CONSUMER, Deliver(offset, msg.event))
        state.sent_at[offset] = ctx.now
        if not ctx.timer_armed(REDELIVER):
            ctx.set_timer(REDELIVER, self.model.redeliver_every)

    @timer(OutboxTimer.REDELIVER)
    def redeliver(self, state, _timer, ctx):
        due = ctx.now - self.model.redeliver_every
        for offset, event in state.db.unacked.items():
            sent = state.sent_at.get(offset)
            if sent is None or sent <= due:
                ctx.count("broker_redeliveries")
                ctx.send(CONSUMER, Deliver(offset, event))
                state.sent_at[offset] = ctx.now
        if state.db.unacked:
            ctx.set_timer(REDELIVER, self.model.redeliver_every)

    @on(DeliveryAck)
    def delivery_ack(self, state, msg, src, ctx):
        if state.db.unacked.pop(msg.offset, None) is not None:
            ctx.tell(DeliveryAcknowledged(msg.offset))
        state.sent_at.pop(msg.offset, None)

    def label(self, state):
        return "broker"

    def summary(self, node_id, state):
        return {"log_length": len(state.db.entries), "unacked": sorted(state.db.unacked)}
