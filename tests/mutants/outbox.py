"""Mutants of the outbox model: the relay, the broker and the consumer."""

from __future__ import annotations

from playground.models.outbox.broker import Broker
from playground.models.outbox.consumer import Consumer
from playground.models.outbox.facts import EventDelivered, EventPublished
from playground.models.outbox.messages import (BROKER, SERVICE, DeleteOutboxRow, DeliveryAck,
                                               Publish)
from playground.models.outbox.relay import Relay

from . import mutant, replacing


@replacing(Relay, "rows")
def _relay_deletes_before_the_ack(self, state, msg, src, ctx):
    for event in msg.rows:
        state.published += 1
        ctx.send(BROKER, Publish(event))
        ctx.tell(EventPublished(event.order))
        ctx.send(SERVICE, DeleteOutboxRow(event.order))  # the bug: before the PublishAck


@replacing(Broker, "redeliver")
def _broker_never_redelivers(self, state, _timer, ctx):
    pass  # the bug: an unacknowledged entry is pushed once only


@replacing(Consumer, "deliver")
def _consumer_without_dedup(self, state, msg, src, ctx):
    ctx.tell(EventDelivered(msg.event.order, msg.offset))
    if self.model.v["ordered_consumer"]:
        self._resequence(state.db, msg, ctx)
    else:
        self._apply(state.db, msg.offset, msg.event, ctx)  # the bug: no look at processed
    ctx.send(src, DeliveryAck(msg.offset))


@replacing(Consumer, "_resequence")
def _consumer_applies_on_arrival(self, db, msg, ctx):
    if msg.event.order not in db.processed:  # the bug: no wait for the gap to fill
        self._apply(db, msg.offset, msg.event, ctx)
        db.next_seq = max(db.next_seq, msg.event.order + 1)


MUTANTS = (
    mutant("outbox", "relay_deletes_before_the_ack", "the relay deletes an outbox row as "
           "soon as it has published it, before the broker's acknowledgement",
           _relay_deletes_before_the_ack),
    mutant("outbox", "broker_never_redelivers", "the broker pushes each entry once and "
           "never again, acknowledged or not", _broker_never_redelivers),
    mutant("outbox", "consumer_without_dedup", "the consumer applies every delivery, "
           "whatever it has processed", _consumer_without_dedup),
    mutant("outbox", "consumer_applies_on_arrival", "the ordered consumer applies an event "
           "as it arrives instead of holding it until the gap before it is filled",
           _consumer_applies_on_arrival),
)
