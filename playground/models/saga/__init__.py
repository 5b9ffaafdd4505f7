"""An orchestrated Saga: local transactions, compensations in reverse order, retries.

Theory of operation
-------------------
One business action, "buy an item", spans four services, each with its own local
database: ``order``, ``payment``, ``inventory`` and ``shipping``. There is no distributed
transaction. An ``orchestrator`` runs each purchase as a *saga* (Garcia-Molina and
Salem, 1987): a fixed sequence of local transactions (steps), each with a *compensating*
transaction that semantically undoes it::

    step                  service     compensation
    0 create_order        order       cancel_order
    1 charge ($100)       payment     refund ($100)
    2 reserve_item        inventory   release_item
    3 schedule_shipping   shipping    cancel_shipping
    4 approve_order       order       (none: after the last compensatable step the saga
                                       can only go forward, so this is retried forever)

* **Forward**: the orchestrator sends ``StepRequest`` for step *k* and waits for a
  ``StepReply``. A service rejects a step by business rule (card declined, out of stock,
  address undeliverable): from the purchase's data (the ``buy`` command's ``reject_at``)
  or at random (``reject_probability``), or because the item's ``stock`` ran out.
* **Timeouts and retries**: no reply within ``step_timeout_ms`` (the service crashed, is
  paused or cut off, or a message was lost) → resend, up to ``max_retries`` times. Then
  the step counts as failed; because it may have run without the reply getting back, its
  own compensation is run first.
* **Backward**: after step *k* fails the orchestrator sends ``Compensate`` for the steps
  that ran, in reverse order *k−1 … 0*, one at a time, waiting for ``Compensated`` before
  the next. A compensation is retried until it is acknowledged: a saga that started must
  end.
* **Idempotence at the services**: retries and network duplicates mean a service sees the
  same request more than once. Every service keeps ``processed``, keyed by the
  ``idempotency_key`` "saga:step", and answers a repeat with the stored outcome. A
  compensation for a step that never ran leaves a tombstone, so a late duplicate of the
  step is refused instead of running after its own undo.
* **Durability**: every service database and the orchestrator's saga log are durable
  (field ``db``); the orchestrator writes the log before it sends, and on restart resumes
  every unfinished saga where the log says it was.

A saga gives up isolation: each step is visible as soon as its service commits it. The
observer (``checker.py``) samples the true databases whenever a service tells it
committed something, and measures per saga the *inconsistency window* during which a
user would see "money taken, order not confirmed" (from the charge until the order is
approved or the refund is made): claim C09.

Simplifications: one orchestrator; one purchase of one item for $100 per saga; the
customer's balance is not limited; local transactions are atomic handlers.

Invariants
----------
Judged from the services' facts and databases, never from the orchestrator's log:

* ``saga_atomicity`` (end of run): every saga is fully completed (order approved, paid,
  item reserved, shipping scheduled) or fully compensated (nothing left at any service).
* ``money_conserved`` (every event, and at the end): a saga is charged at most once and
  refunded at most what it was charged; at the end every charge has either an approved
  order or a refund.
* ``reverse_order`` (every event): the services record a saga's compensations from the
  highest step down (``StepUndone`` facts, in the order they happened).

Variant ``no_compensation_retry`` (broken) sends each compensation once: when it times
out (service crashed or cut off) or the orchestrator restarts during compensation, the
orchestrator writes it off and moves on, so the saga is logged as compensated while a
service still holds its effect; ``saga_atomicity`` and ``money_conserved`` say which.

Facts (``facts.py``): ``LocalCommitted`` and ``StepUndone`` (the services); ``SagaStarted``
and ``SagaEnded`` (the orchestrator).

Modules: ``messages.py`` (the steps, the wire, timer kinds), ``orchestrator.py`` (forward
and backward, the saga log and its transition tables), ``service.py`` (the local
transactions, their compensations and the idempotency keys), ``facts.py``,
``checker.py``, ``panel.py``.

Claims: C08 (compensation in reverse order), C09 (the inconsistency window, measured).
"""

from __future__ import annotations

from playground.models import register
from playground.models.base import Invariant, Model, Param, Variant

from .checker import SagaChecker, SagaGhost
from .messages import ORCHESTRATOR, REJECTABLE, SERVICES
from .orchestrator import Orchestrator
from .panel import SagaDisplay
from .service import Service, ServiceState


@register
class Saga(Model):
    name = "saga"
    title = "Saga: local transactions with compensations"
    invariants = (
        Invariant("saga_atomicity", "At the end every saga is fully completed or fully "
                  "compensated at every service."),
        Invariant("money_conserved", "A saga is charged at most once and refunded at most "
                  "what it paid; every charge ends with an approved order or a refund."),
        Invariant("reverse_order", "Compensations take effect in reverse step order."),
    )
    variants = (
        Variant("no_compensation_retry", False, "Send each compensation once and write it "
                "off when it times out or the orchestrator restarts.", broken=(True,)),
    )
    params = (
        Param("sagas", 6, "Purchases the orchestrator starts by itself.",
              {"type": "integer", "minimum": 0, "maximum": 200}),
        Param("start_interval_ms", 300, "Time between automatic purchases.",
              {"type": "number", "minimum": 1}),
        Param("reject_probability", 0.2, "Chance that a service's business rule rejects a "
              "rejectable step (charge, reserve_item, schedule_shipping).",
              {"type": "number", "minimum": 0, "maximum": 1}),
        Param("stock", 100, "Items in the inventory at the start.",
              {"type": "integer", "minimum": 0}),
        Param("step_timeout_ms", 150, "How long the orchestrator waits for a reply.",
              {"type": "number", "minimum": 1}),
        Param("max_retries", 3, "Resends of a forward step before it counts as failed.",
              {"type": "integer", "minimum": 0, "maximum": 100}),
    )
    commands = {
        "buy": {"properties": {"reject_at": {"enum": list(REJECTABLE)}}},
    }
    roles = (Orchestrator, Service)
    Checker = SagaChecker
    Display = SagaDisplay
    default_nodes = 5
    min_nodes = 5
    max_nodes = 5

    def node_ids(self):
        return [ORCHESTRATOR, *SERVICES]

    def role_of(self, node_id):
        return Orchestrator.name if node_id == ORCHESTRATOR else Service.name

    def init_node(self, node_id):
        if node_id == ORCHESTRATOR:
            return super().init_node(node_id)
        state = ServiceState(node_id)
        state.db.stock = self.p["stock"] if node_id == "inventory" else 0
        return state

    def init_ghost(self):
        return SagaGhost()

    def command_target(self, command, view):
        return ORCHESTRATOR
