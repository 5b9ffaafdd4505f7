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

Push delivery with redelivery reorders: an event whose delivery was lost comes again only
after ``redeliver_ms``, and a relay that publishes again appends a second copy after later
events. With ``ordered_consumer`` the consumer is a Resequencer (Hohpe and Woolf): an
order's id is its sequence number, given in the transaction that commits the order, and
the consumer applies order ``n`` only after ``n − 1``, holding (durably, acknowledged) an
event that arrives ahead of its turn. Its sequence check also drops repeats. The price is
head-of-line blocking: an event that never arrives holds every later one back.

Simplifications: one producer, one partition, one consumer; a local transaction is one
atomic handler; the relay reads the outbox by messages to the service (its database).

Handlers tell the checker what happened as facts (``facts.py``): the order committed, its
event written to the outbox, published, stored at the broker, the publish acknowledged,
the outbox row deleted, the event delivered, applied or skipped as a duplicate, the
delivery acknowledged. The checker stamps them with true time, which gives
``relay_lag_ms`` (commit → stored at the broker) in true time whatever the node clocks
say.

Modules: ``messages.py`` (the wire, node names, timer kinds), one per role
(``service.py``, ``relay.py``, ``broker.py``, ``consumer.py``), ``facts.py``,
``checker.py`` (invariants and metrics), ``panel.py``.

Invariants
----------
* ``no_lost_event`` (end of run, after a settle period): every committed order's event
  was consumed.
* ``no_phantom_event`` (end of run): no event reached the broker or the consumer for an
  order that was never committed.
* ``exactly_once_effect`` (every event): no order's event took effect twice at the
  consumer. A non-idempotent consumer breaks it whenever a duplicate is delivered.
* ``events_in_commit_order`` (every event, only where ``ordered_consumer`` promises
  order): no order's event is applied after that of an order committed later. Without
  ``ordered_consumer`` it cannot fire; ``out_of_order_applies`` counts such applies in
  every variant. With ``ordered_consumer``, ``exactly_once_effect`` cannot fire either:
  the sequence check drops a repeat whatever ``idempotent_consumer`` says.

Broken settings: ``mode = "dual_write"`` (``no_lost_event``), ``mode = "publish_first"``
(``no_phantom_event``), ``idempotent_consumer = false`` (``exactly_once_effect``).
``ordered_consumer = false`` is not broken: it promises no order, and out-of-order
applies are a metric there, not a violation.

Claims: C10 (dual write loses an event), C11 (the outbox loses none; a relay crash
duplicates an event and an idempotent consumer absorbs it).
"""

from __future__ import annotations

from playground.models import register
from playground.models.base import MS, Invariant, Model, Param, Variant

from .broker import Broker
from .checker import OutboxChecker, OutboxGhost
from .consumer import Consumer
from .messages import BROKER, CONSUMER, MODES, RELAY, SERVICE
from .panel import OutboxDisplay
from .relay import Relay
from .service import Service


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
        Invariant("events_in_commit_order", "With an ordered consumer: no order's event is "
                  "applied after that of an order committed later."),
    )
    variants = (
        Variant("mode", "outbox", "How the service gets its event out: commit then publish "
                "(dual_write), publish then commit (publish_first), or the transactional "
                "outbox and a relay. Both naive modes are broken.", choices=MODES,
                broken=("dual_write", "publish_first")),
        Variant("idempotent_consumer", True, "The consumer records event ids and skips "
                "repeats.", broken=(False,)),
        Variant("ordered_consumer", False, "The consumer applies events in commit order "
                "(a Resequencer): an event ahead of its turn is held until the gap before "
                "it is filled. Off, events are applied as they arrive."),
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
    roles = (Service, Relay, Broker, Consumer)
    Checker = OutboxChecker
    Display = OutboxDisplay
    default_nodes = 4
    min_nodes = 4
    max_nodes = 4

    def setup(self):
        self.mode = self.v["mode"]
        self.order_interval = int(self.p["order_interval_ms"] * MS)
        self.publish_delay = int(self.p["publish_delay_ms"] * MS)
        self.publish_timeout = int(self.p["publish_timeout_ms"] * MS)
        self.poll_every = int(self.p["poll_ms"] * MS)
        self.redeliver_every = int(self.p["redeliver_ms"] * MS)

    def node_ids(self):
        return [SERVICE, RELAY, BROKER, CONSUMER]

    def role_of(self, node_id):
        return node_id

    def init_node(self, node_id):
        state = super().init_node(node_id)
        if node_id == CONSUMER:
            state.db.stock = self.p["stock"]
        return state

    def init_ghost(self):
        return OutboxGhost()

    def command_target(self, command, view):
        return SERVICE
