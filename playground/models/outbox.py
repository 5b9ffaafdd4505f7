"""Dual write vs the transactional outbox: getting an event out with the data it describes.

Theory of operation
-------------------
An order ``service`` writes orders to its local database, and the ``consumer`` (the
inventory service) must hear about every order through a message ``broker`` to reserve
stock. The question is how the service gets the event ``OrderCreated`` to the broker
without a distributed transaction between the database and the broker.

* ``mode = "dual_write"`` (naive): commit the order, then publish the event directly.
  Between the commit and the publish the service does ``publish_delay_ms`` of other
  work (a timer step), and until the broker acknowledges it keeps the event only in
  memory, resending every ``publish_timeout_ms``. A crash anywhere in that gap loses the
  event for good: the order exists and nobody downstream ever hears of it.
* ``mode = "publish_first"`` (naive, the other order): publish, wait for the broker's
  acknowledgement, do ``publish_delay_ms`` of work, then commit. A crash in that gap
  leaves a *phantom* event for an order that was never committed.
* ``mode = "outbox"``: the order row and an outbox row are written in **one** local
  transaction (one handler). A separate ``relay`` polls the outbox every ``poll_ms``,
  publishes each row to the broker, and only after the broker's ``PublishAck`` asks the
  service to delete the row. Nothing is lost through crashes of the service, relay or
  broker (the outbox and the broker's log are durable; the relay just polls again), but a
  relay that crashes after publishing and before deleting publishes the row again, and a
  lost delete or a broker that stored a publish whose acknowledgement never arrived do the
  same: delivery is at least once.

The broker appends every publish to its durable log (it does not deduplicate) and pushes
entries to the consumer, redelivering every ``redeliver_ms`` until the consumer
acknowledges the offset. The consumer reserves one item per event. With
``idempotent_consumer`` it records each event id in ``processed`` in the same local
transaction as the reservation and skips repeats; without it every delivery reserves again.

Simplifications: one producer, one partition, one consumer; a local transaction is one
atomic handler; the relay reads the outbox by messages to the service (its database).

The ghost notebook gets facts from handlers (committed, stored at the broker, applied)
and ``check`` stamps them with true time, which gives ``relay_lag_ms`` (commit → stored at
the broker) in true time whatever the node clocks say.

Invariants
----------
* ``no_lost_event`` (end of run, after a settle period): every committed order's event
  was consumed.
* ``no_phantom_event`` (end of run): no event reached the broker or the consumer for an
  order that was never committed.
* ``exactly_once_effect`` (every event): no order's event took effect twice at the
  consumer. A non-idempotent consumer breaks it whenever a duplicate is delivered.

Broken settings: ``mode = "dual_write"`` (``no_lost_event``), ``mode = "publish_first"``
(``no_phantom_event``), ``idempotent_consumer = false`` (``exactly_once_effect``).

Claims: C10 (dual write loses an event), C11 (the outbox loses none; a relay crash
duplicates an event and an idempotent consumer absorbs it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..stats import summarize
from . import register
from .base import MS, Invariant, Model, Param, Variant

SERVICE = "service"
RELAY = "relay"
BROKER = "broker"
CONSUMER = "consumer"
MODES = ("outbox", "dual_write", "publish_first")
COUNTERS = ("orders_placed", "duplicate_deliveries", "relay_retries", "broker_redeliveries")


# -- messages ----------------------------------------------------------------------------
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


# -- state -------------------------------------------------------------------------------
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


@dataclass(slots=True)
class RelayState:
    db: None = None  # the relay keeps nothing durable: the outbox table is its memory
    in_flight: dict = field(default_factory=dict)  # order id -> local time of the publish
    acked: dict = field(default_factory=dict)  # order id -> offset, delete not yet seen
    polls: int = 0
    published: int = 0


@dataclass(slots=True)
class BrokerLog:
    entries: list = field(default_factory=list)  # OrderCreated by offset
    unacked: dict = field(default_factory=dict)  # offset -> OrderCreated not yet consumed


@dataclass(slots=True)
class BrokerState:
    db: BrokerLog = field(default_factory=BrokerLog)
    sent_at: dict = field(default_factory=dict)  # offset -> local time last pushed


@dataclass(slots=True)
class InventoryDB:
    stock: int = 0
    reserved: dict = field(default_factory=dict)  # order id -> items reserved for it
    processed: dict = field(default_factory=dict)  # event id -> offset (idempotent consumer)


@dataclass(slots=True)
class ConsumerState:
    db: InventoryDB = field(default_factory=InventoryDB)


@dataclass(slots=True)
class OutboxGhost:
    """Facts from handlers, stamped with true time by ``check``."""

    dirty: list = field(default_factory=list)  # (fact, order)
    committed_at: dict = field(default_factory=dict)  # order -> true µs
    stored_at: dict = field(default_factory=dict)  # order -> true µs first stored
    relay_lag: list = field(default_factory=list)  # ms, commit -> stored at the broker
    deliveries: dict = field(default_factory=dict)  # order -> deliveries to the consumer


@register
class Outbox(Model):
    name = "outbox"
    title = "Dual write vs transactional outbox"
    invariants = (
        Invariant("no_lost_event", "Every committed order's event is eventually consumed."),
        Invariant("no_phantom_event", "No event is published for an order that was never "
                  "committed."),
        Invariant("exactly_once_effect", "No order's event takes effect twice at the "
                  "consumer."),
    )
    variants = (
        Variant("mode", "outbox", "How the service gets its event out: commit then publish "
                "(dual_write), publish then commit (publish_first), or the transactional "
                "outbox and a relay. Both naive modes are broken.", choices=MODES,
                broken=("dual_write", "publish_first")),
        Variant("idempotent_consumer", True, "The consumer records event ids and skips "
                "repeats.", broken=(False,)),
    )
    params = (
        Param("orders", 10, "Orders the service places by itself.",
              {"type": "integer", "minimum": 0, "maximum": 500}),
        Param("order_interval_ms", 100, "Time between automatic orders.",
              {"type": "number", "minimum": 1}),
        Param("publish_delay_ms", 30, "Naive modes: the service's work between the commit "
              "and the publish (or the publish and the commit).",
              {"type": "number", "minimum": 0}),
        Param("publish_timeout_ms", 100, "Resend a publish not acknowledged after this.",
              {"type": "number", "minimum": 1}),
        Param("poll_ms", 50, "How often the relay polls the outbox.",
              {"type": "number", "minimum": 1}),
        Param("batch", 10, "Outbox rows the relay reads per poll.",
              {"type": "integer", "minimum": 1, "maximum": 1000}),
        Param("redeliver_ms", 150, "The broker redelivers an unacknowledged entry after this.",
              {"type": "number", "minimum": 1}),
        Param("stock", 1000, "Items in the consumer's inventory.",
              {"type": "integer", "minimum": 0}),
    )
    commands = {"place_order": {"properties": {"item": {"type": "string", "maxLength": 40}}}}
    durable = ("db",)
    default_nodes = 4
    min_nodes = 4
    max_nodes = 4

    # -- the cluster -----------------------------------------------------------------------
    def node_ids(self):
        return [SERVICE, RELAY, BROKER, CONSUMER]

    def init_node(self, node_id):
        if node_id == SERVICE:
            return ServiceState()
        if node_id == RELAY:
            return RelayState()
        if node_id == BROKER:
            return BrokerState()
        state = ConsumerState()
        state.db.stock = self.p["stock"]
        return state

    def init_ghost(self):
        return OutboxGhost()

    def command_target(self, command, view):
        return SERVICE

    # -- handlers --------------------------------------------------------------------------
    def on_start(self, state, ctx):
        """Arm each node's loop; recovery needs nothing more (durable tables and log)."""
        kind = type(state)
        if kind is ServiceState:
            if state.db.auto_placed < self.p["orders"]:
                ctx.set_timer("workload", int(self.p["order_interval_ms"] * MS))
        elif kind is RelayState:
            if self.v["mode"] == "outbox":
                ctx.set_timer("poll", int(self.p["poll_ms"] * MS))
        elif kind is BrokerState:
            if state.db.unacked:
                ctx.set_timer("redeliver", int(self.p["redeliver_ms"] * MS))

    def on_command(self, state, command, ctx):
        """``place_order``: the service takes one order now."""
        self._place_order(state, command.get("item", "book"), ctx)

    def on_timer(self, state, name, ctx):
        kind = type(state)
        if kind is ServiceState:
            self._service_timer(state, name, ctx)
        elif kind is RelayState:
            state.polls += 1
            ctx.send(SERVICE, PollOutbox(self.p["batch"]))
            ctx.set_timer("poll", int(self.p["poll_ms"] * MS))
        elif kind is BrokerState:
            self._redeliver(state, ctx)

    def on_message(self, state, msg, src, ctx):
        kind = type(msg)
        if kind is Publish:
            self._on_publish(state, msg, src, ctx)
        elif kind is PublishAck:
            if type(state) is RelayState:
                self._relay_on_ack(state, msg, ctx)
            else:
                self._service_on_ack(state, msg, ctx)
        elif kind is PollOutbox:
            rows = tuple(list(state.db.outbox.values())[:msg.limit])
            ctx.send(src, OutboxRows(rows))
        elif kind is OutboxRows:
            self._relay_on_rows(state, msg, ctx)
        elif kind is DeleteOutboxRow:
            if state.db.outbox.pop(msg.order, None) is not None:
                ctx.note(f"outbox row {msg.order} deleted")
        elif kind is Deliver:
            self._consume(state, msg, src, ctx)
        elif kind is DeliveryAck:
            state.db.unacked.pop(msg.offset, None)
            state.sent_at.pop(msg.offset, None)

    # -- the order service -----------------------------------------------------------------
    def _place_order(self, state, item, ctx):
        db = state.db
        db.next_order += 1
        order = db.next_order
        event = OrderCreated(order, item)
        mode = self.v["mode"]
        ctx.count("orders_placed")
        if mode == "publish_first":
            state.uncommitted[order] = event
            ctx.note(f"order {order}: publishing before the commit")
            self._publish(event, ctx)
            return
        db.orders[order] = item
        if mode == "outbox":
            db.outbox[order] = event  # the same local transaction as the order row
            ctx.note(f"order {order} and its outbox row committed")
        else:
            state.unpublished[order] = event
            ctx.note(f"order {order} committed; publish in {self.p['publish_delay_ms']} ms")
            ctx.set_timer(f"publish:{order}", int(self.p["publish_delay_ms"] * MS))
        ctx.ghost.dirty.append(("committed", order))

    def _publish(self, event, ctx):
        ctx.send(BROKER, Publish(event))
        ctx.set_timer(f"publish:{event.order}", int(self.p["publish_timeout_ms"] * MS))

    def _service_timer(self, state, name, ctx):
        if name == "workload":
            state.db.auto_placed += 1
            self._place_order(state, "book", ctx)
            if state.db.auto_placed < self.p["orders"]:
                ctx.set_timer("workload", int(self.p["order_interval_ms"] * MS))
            return
        what, order = name.split(":")
        order = int(order)
        if what == "publish":
            event = state.unpublished.get(order) or state.uncommitted.get(order)
            if event is not None:
                ctx.note(f"order {order}: publishing to the broker")
                self._publish(event, ctx)
        elif what == "commit":
            event = state.uncommitted.pop(order)
            state.db.orders[order] = event.item
            ctx.note(f"order {order} committed after its event was published")
            ctx.ghost.dirty.append(("committed", order))

    def _service_on_ack(self, state, msg, ctx):
        ctx.cancel_timer(f"publish:{msg.order}")
        if state.unpublished.pop(msg.order, None) is not None:
            ctx.note(f"order {msg.order}: event acknowledged by the broker")
        elif msg.order in state.uncommitted and not ctx.timer_armed(f"commit:{msg.order}"):
            ctx.set_timer(f"commit:{msg.order}", int(self.p["publish_delay_ms"] * MS))

    # -- the relay -------------------------------------------------------------------------
    def _relay_on_rows(self, state, msg, ctx):
        """Publish rows not in flight; re-ask to delete rows the broker already has."""
        present = {}
        timeout = int(self.p["publish_timeout_ms"] * MS)
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
            ctx.note(f"publishing order {order} to the broker"
                     + (" again" if sent is not None else ""))
            state.in_flight[order] = ctx.now
            state.published += 1
            ctx.send(BROKER, Publish(event))
        for order in [o for o in state.acked if o not in present]:
            del state.acked[order]  # its row is gone

    def _relay_on_ack(self, state, msg, ctx):
        state.in_flight.pop(msg.order, None)
        state.acked[msg.order] = msg.offset
        ctx.note(f"the broker has order {msg.order}; deleting its outbox row")
        ctx.send(SERVICE, DeleteOutboxRow(msg.order))

    # -- the broker ------------------------------------------------------------------------
    def _on_publish(self, state, msg, src, ctx):
        """Append to the durable log (no deduplication), acknowledge, push to the consumer."""
        log = state.db
        offset = len(log.entries)
        log.entries.append(msg.event)
        log.unacked[offset] = msg.event
        ctx.ghost.dirty.append(("stored", msg.event.order))
        ctx.send(src, PublishAck(msg.event.order, offset))
        ctx.send(CONSUMER, Deliver(offset, msg.event))
        state.sent_at[offset] = ctx.now
        if not ctx.timer_armed("redeliver"):
            ctx.set_timer("redeliver", int(self.p["redeliver_ms"] * MS))

    def _redeliver(self, state, ctx):
        due = ctx.now - int(self.p["redeliver_ms"] * MS)
        for offset, event in state.db.unacked.items():
            sent = state.sent_at.get(offset)
            if sent is None or sent <= due:
                ctx.count("broker_redeliveries")
                ctx.send(CONSUMER, Deliver(offset, event))
                state.sent_at[offset] = ctx.now
        if state.db.unacked:
            ctx.set_timer("redeliver", int(self.p["redeliver_ms"] * MS))

    # -- the consumer ----------------------------------------------------------------------
    def _consume(self, state, msg, src, ctx):
        """Reserve one item per event; an idempotent consumer skips event ids it has seen."""
        db = state.db
        order = msg.event.order
        ghost = ctx.ghost
        ghost.deliveries[order] = ghost.deliveries.get(order, 0) + 1
        if ghost.deliveries[order] > 1:
            ctx.count("duplicate_deliveries")
        if self.v["idempotent_consumer"] and order in db.processed:
            ctx.note(f"order {order}: duplicate event skipped")
        else:
            db.stock -= 1
            db.reserved[order] = db.reserved.get(order, 0) + 1
            db.processed[order] = msg.offset
            ghost.dirty.append(("applied", order))
            ctx.note(f"order {order}: item reserved" + (
                " AGAIN" if db.reserved[order] > 1 else ""))
        ctx.send(src, DeliveryAck(msg.offset))

    # -- checking --------------------------------------------------------------------------
    def check(self, view, node_id):
        ghost = view.ghost
        if not ghost.dirty:
            return ()
        dirty, ghost.dirty = ghost.dirty, []
        out = []
        for fact, order in dirty:
            if fact == "committed":
                ghost.committed_at[order] = view.now
                if order in ghost.stored_at:  # published before it was committed
                    continue
            elif fact == "stored":
                if order not in ghost.stored_at:
                    ghost.stored_at[order] = view.now
                    committed = ghost.committed_at.get(order)
                    if committed is not None:
                        ghost.relay_lag.append((view.now - committed) / MS)
            else:
                times = view.nodes[CONSUMER].state.db.reserved.get(order, 0)
                if times > 1:
                    out.append(("exactly_once_effect", f"order {order}: the consumer applied "
                                f"its event {times} times (reserved {times} items)"))
        return out

    def _lost(self, view) -> list:
        """Committed orders whose event no longer exists anywhere and was never consumed."""
        service = view.nodes[SERVICE].state
        reserved = view.nodes[CONSUMER].state.db.reserved
        stored = view.ghost.stored_at
        return [o for o in service.db.orders
                if o not in reserved and o not in stored and o not in service.db.outbox
                and o not in service.unpublished]

    def _phantoms(self, view) -> list:
        """Orders with an event at the broker or consumer and no commit (nor one coming)."""
        service = view.nodes[SERVICE].state
        return [o for o in view.ghost.stored_at
                if o not in service.db.orders and o not in service.uncommitted]

    def check_final(self, view):
        out = []
        service = view.nodes[SERVICE].state
        reserved = view.nodes[CONSUMER].state.db.reserved
        for order in service.db.orders:
            if order in reserved:
                continue
            if order in view.ghost.stored_at:
                where = "the broker has it but the consumer never applied it"
            elif order in service.db.outbox:
                where = "it is still in the outbox"
            else:
                where = "it was never published: the service failed between commit and publish"
            out.append(("no_lost_event", f"order {order} was committed but its OrderCreated "
                        f"event was never consumed ({where})"))
        for order in self._phantoms(view):
            applied = " and the consumer reserved an item for it" if order in reserved else ""
            out.append(("no_phantom_event", f"OrderCreated for order {order} reached the "
                        f"broker{applied}, but order {order} was never committed"))
        return out

    def metrics(self, view):
        ghost = view.ghost
        reserved = view.nodes[CONSUMER].state.db.reserved
        lag = summarize(ghost.relay_lag)
        out = {name: view.counters.get(name, 0) for name in COUNTERS}  # zeros shown too
        out |= {
            "orders_committed": len(view.nodes[SERVICE].state.db.orders),
            "events_consumed": len(reserved),
            "lost_events": len(self._lost(view)),
            "phantom_events": len(self._phantoms(view)),
            "duplicate_effects": sum(n - 1 for n in reserved.values() if n > 1),
            "outbox_rows": len(view.nodes[SERVICE].state.db.outbox),
            "broker_backlog": len(view.nodes[BROKER].state.db.unacked),
            "relay_lag_ms": lag,
        }
        for key in ("p50", "p99", "max"):
            out[f"relay_lag_{key}_ms"] = lag.get(key, 0)
        return out

    # -- display ---------------------------------------------------------------------------
    def role(self, state):
        return {ServiceState: "order service", RelayState: "relay", BrokerState: "broker",
                ConsumerState: "consumer"}[type(state)]

    def summary(self, node_id, state):
        kind = type(state)
        if kind is ServiceState:
            return {"orders": len(state.db.orders), "outbox": sorted(state.db.outbox),
                    "unpublished": sorted(state.unpublished),
                    "uncommitted": sorted(state.uncommitted)}
        if kind is RelayState:
            return {"in_flight": sorted(state.in_flight), "awaiting_delete": sorted(state.acked),
                    "polls": state.polls, "published": state.published}
        if kind is BrokerState:
            return {"log_length": len(state.db.entries), "unacked": sorted(state.db.unacked)}
        return {"stock": state.db.stock, "applied": len(state.db.reserved)}

    def panel(self, view):
        service = view.nodes[SERVICE].state
        relay = view.nodes[RELAY].state
        broker = view.nodes[BROKER].state.db
        consumer = view.nodes[CONSUMER].state.db
        return {
            "mode": self.v["mode"],
            "orders": [{"order": o, "item": item,
                        "consumed": consumer.reserved.get(o, 0)}
                       for o, item in service.db.orders.items()],
            "outbox": sorted(service.db.outbox),
            "unpublished": sorted(service.unpublished),
            "uncommitted": sorted(service.uncommitted),
            "relay": {"in_flight": sorted(relay.in_flight), "awaiting_delete":
                      sorted(relay.acked), "polls": relay.polls, "published": relay.published},
            "broker": {"log": [{"offset": i, "order": e.order} for i, e in
                               enumerate(broker.entries)],
                       "unacked": sorted(broker.unacked)},
            "consumer": {"stock": consumer.stock,
                         "applied": {str(o): n for o, n in consumer.reserved.items()},
                         "processed": sorted(consumer.processed)},
            "lost": self._lost(view),
            "phantoms": self._phantoms(view),
        }
