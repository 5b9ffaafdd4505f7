"""The order service and its local database: the ``orders`` table and the ``outbox`` table.

How it gets ``OrderCreated`` out depends on the ``mode`` variant: in ``outbox`` mode the
order row and the outbox row are one local transaction (one handler) and the relay does
the rest; ``dual_write`` commits, works ``publish_delay_ms`` (a timer step), then
publishes from memory until acknowledged; ``publish_first`` publishes, waits for the
acknowledgement, works ``publish_delay_ms``, then commits. The database survives a
crash; what the service holds in memory does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import Role, Timer, command, on, timer

from .facts import (EventPublished, OrderCommitted, OutboxRowDeleted, OutboxRowWritten,
                    PublishAcknowledged)
from .messages import (BROKER, SERVICE, DeleteOutboxRow, OrderCreated, OutboxRows,
                       OutboxTimer, PollOutbox, Publish, PublishAck)

WORKLOAD = Timer(OutboxTimer.WORKLOAD)


@dataclass(slots=True)
class OrderDB:
    """The service's local database: the orders table and the outbox table."""

    orders: dict = field(default_factory=dict)  # order id -> item
    outbox: dict = field(default_factory=dict)  # order id -> OrderCreated, oldest first
    next_order: int = 0
    auto_placed: int = 0  # orders the workload has placed


@dataclass(slots=True)
class ServiceState:
    db: OrderDB = field(default_factory=OrderDB)
    unpublished: dict = field(default_factory=dict)  # dual write: committed, not yet acked
    uncommitted: dict = field(default_factory=dict)  # publish first: published, not committed


class Service(Role):
    name = SERVICE
    State = ServiceState
    durable = ("db",)

    def start(self, state, ctx):
        """Resume the workload; recovery needs nothing more (the tables are durable)."""
        if state.db.auto_placed < self.model.p["orders"]:
            ctx.set_timer(WORKLOAD, self.model.order_interval)

    @command("place_order")
    def place_order(self, state, command, ctx):
        """``place_order``: the service takes one order now."""
        self._place_order(state, command.get("item", "book"), ctx)

    @timer(OutboxTimer.WORKLOAD)
    def workload(self, state, _timer, ctx):
        state.db.auto_placed += 1
        self._place_order(state, "book", ctx)
        if state.db.auto_placed < self.model.p["orders"]:
            ctx.set_timer(WORKLOAD, self.model.order_interval)

    def _place_order(self, state, item, ctx):
        db = state.db
        db.next_order += 1
        order = db.next_order
        event = OrderCreated(order, item)
        mode = self.model.mode
        ctx.count("orders_placed")
        if mode == "publish_first":
            state.uncommitted[order] = event
            ctx.note(f"order {order}: publishing before the commit")
            self._publish(event, ctx)
            return
        db.orders[order] = item
        ctx.tell(OrderCommitted(order, item))
        if mode == "outbox":
            db.outbox[order] = event  # the same local transaction as the order row
            ctx.tell(OutboxRowWritten(order))
        else:
            state.unpublished[order] = event
            ctx.note(f"order {order}: publish in {self.model.p['publish_delay_ms']} ms")
            ctx.set_timer(Timer(OutboxTimer.PUBLISH, order), self.model.publish_delay)

    def _publish(self, event, ctx):
        ctx.send(BROKER, Publish(event))
        ctx.tell(EventPublished(event.order))
        ctx.set_timer(Timer(OutboxTimer.PUBLISH, event.order), self.model.publish_timeout)

    @timer(OutboxTimer.PUBLISH)
    def publish(self, state, publish, ctx):
        """Naive modes: publish from memory, first after the gap, then until acknowledged."""
        order = publish.arg
        event = state.unpublished.get(order) or state.uncommitted.get(order)
        if event is not None:
            self._publish(event, ctx)

    @timer(OutboxTimer.COMMIT)
    def commit(self, state, commit, ctx):
        """Publish first: commit the order whose event the broker has."""
        event = state.uncommitted.pop(commit.arg)
        state.db.orders[event.order] = event.item
        ctx.tell(OrderCommitted(event.order, event.item))

    @on(PublishAck)
    def publish_ack(self, state, msg, src, ctx):
        """Naive modes: stop resending; publish first: commit after the gap."""
        ctx.cancel_timer(Timer(OutboxTimer.PUBLISH, msg.order))
        commit = Timer(OutboxTimer.COMMIT, msg.order)
        if state.unpublished.pop(msg.order, None) is not None:
            ctx.tell(PublishAcknowledged(msg.order, msg.offset))
        elif msg.order in state.uncommitted and not ctx.timer_armed(commit):
            ctx.tell(PublishAcknowledged(msg.order, msg.offset))
            ctx.set_timer(commit, self.model.publish_delay)

    @on(PollOutbox)
    def poll(self, state, msg, src, ctx):
        """The relay reads the oldest outbox rows."""
        ctx.send(src, OutboxRows(tuple(list(state.db.outbox.values())[:msg.limit])))

    @on(DeleteOutboxRow)
    def delete_row(self, state, msg, src, ctx):
        if state.db.outbox.pop(msg.order, None) is not None:
            ctx.tell(OutboxRowDeleted(msg.order))

    def label(self, state):
        return "order service"

    def summary(self, node_id, state):
        return {"orders": len(state.db.orders), "outbox": sorted(state.db.outbox),
                "unpublished": sorted(state.unpublished),
                "uncommitted": sorted(state.uncommitted)}
