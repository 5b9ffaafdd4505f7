"""Idempotency keys: a payment server, a key store and a ledger, under lost replies and races.

Theory of operation
-------------------
Clients (``c1`` … ``cK``) pay a payment server (``server``) that charges a ledger
(``ledger``, the card network and its book) and remembers finished payments in a key store
(``keys``, the database table or KV store of idempotency keys). Every client payment has a
reference (``payment``, e.g. ``c1-3``, the order it pays for); in the modes that use keys the
client sends it as the ``idempotency_key`` too. A client that gets no answer within
``client_timeout_ms`` sends the same request again, up to ``max_retries`` times.

The server has ``workers`` concurrent workers and a queue. A worker serves one request as a
sequence of steps, each a round trip to another node, so each takes simulated time and two
workers' steps interleave. The steps depend on the ``mode`` variant:

* ``none``: charge (``Charge`` → ``ChargeRecorded``), reply. A retry is a new charge.
* ``naive``: check (``KeyGet``), charge, save (``KeyPut`` COMPLETED with the receipt),
  reply. Between the check and the save nothing stops a second worker with the same key
  from passing the same check: time-of-check to time-of-use.
* ``unique_insert``: insert the key with status STARTED (``KeyInsert``; the table's unique
  constraint makes it fail with ``DuplicateKey`` if the row exists), charge, update the row
  to COMPLETED, reply. After a ``DuplicateKey`` the worker reads the row (``KeyGet``): a
  COMPLETED row's receipt is the reply; a STARTED row means another worker is on it, and
  the client gets "in progress" (a *conflict*).
* ``conditional_put``: put-if-absent (``KeyPutIfAbsent``, DynamoDB's
  ``attribute_not_exists``) writes STARTED or fails with ``ConditionFailed`` carrying the
  existing item, so the check and the write are one step and the answer comes with it.

Each key store operation is one handler step, hence atomic; the naive path is three
separate operations. The ledger takes ``charge_ms`` to process a charge and records it
when done. A worker's phases form a transition table (``WORKER`` in ``server.py``); an
illegal move raises.

The key guards the server's entry, not the link behind it: a ``Charge`` duplicated on the
way to the ledger, or sent again by a worker that took a stale key over, is a second
charge unless the ledger itself deduplicates. The ``processor`` variant says whether it
does: ``keyed`` (the default) passes the idempotency key on with every charge
(``ChargeWithKey``) and the ledger answers a key it has charged, or is charging, with
that one charge, as payment processors' APIs do; ``plain`` charges every request it gets.

A key store row keeps the *fingerprint* of the request that made it (the client and the
amount). A request that meets a row with another fingerprint reuses the key for another
payment and is rejected (``PaymentRejected``), as payment APIs reject a key reused with
different parameters; it is never handed the other request's receipt.

Simplifications: the key store and ledger are single nodes whose contents survive a crash
(``disk``); a charge pending in the ledger when it crashes is never made. A server worker
gives up on a step after ``server_timeout_ms`` and answers "failed"; a key left STARTED
by a worker that gave up or crashed stays STARTED, so that payment's later retries get
"in progress", unless ``recovery = expire`` lets a request of the same fingerprint take
over a key locked for longer than ``lock_timeout_ms``. The first worker's charge may
still land: with a keyed processor the takeover's charge gets it back, with a plain one
the payment is charged twice.

Invariants, judged by an observer from the facts and under every fault:

* ``at_most_one_charge``: the ledger holds at most one charge per payment (the
  ``Charged`` facts, tallied per payment).
* ``paid_means_charged``: a client told its payment is paid (``Paid``) holds the id of a
  charge the ledger made (``Charged``) on its card, for that payment and the amount it
  asked.

Broken settings: ``mode = none`` and ``naive`` (``at_most_one_charge``; naive only with
concurrent requests or with a plain processor: a keyed ledger absorbs its race's second
charge), ``processor = plain`` (``at_most_one_charge`` under link duplication or with
``recovery = expire``).

Facts told to the checker (``facts.py``): ``Charged`` and ``KeyedChargeAbsorbed`` (the
ledger); ``KeyInserted``, ``KeyClaimed``, ``KeyTakenOver`` and ``KeySaved`` (the key
store); ``RepliedFromStore``, ``AnsweredInProgress``, ``KeyReuseRejected``,
``StepTimedOut`` and ``LateChargeConfirmed`` (the server); ``Paid``, ``Rejected`` and
``GaveUp`` (the clients).

Modules: ``messages.py`` (the wire, node names, variant and timer enums), ``client.py``,
``server.py`` (the workers and their transition table), ``keystore.py``, ``ledger.py``,
``facts.py``, ``checker.py`` (the invariants and metrics), ``panel.py``.

Claims served: C12 (a lost reply and a retry charge twice with no key), C13 (a key and a
stored result answer the retry), C14 (naive check-then-act races), C15 (unique insert
first), C16 (conditional put).
"""

from __future__ import annotations

from playground.models import register
from playground.models.base import MS, Invariant, Model, Param, Variant

from .checker import Observer, PaymentChecker
from .client import Client
from .keystore import KeyStore
from .ledger import Ledger
from .messages import KEYS, LEDGER, SERVER, Mode, Processor, Recovery
from .panel import PaymentDisplay
from .server import Server, ServerState


@register
class Idempotency(Model):
    name = "idempotency"
    title = "Idempotency keys: lost replies, retries and check-then-act races"
    invariants = (
        Invariant("at_most_one_charge",
                  "The ledger holds at most one charge for each payment (idempotency key)."),
        Invariant("paid_means_charged",
                  "A client told its payment is paid holds a charge the ledger made for "
                  "that payment and the amount it asked."),
    )
    variants = (
        Variant("mode", "unique_insert",
                "How the server uses the idempotency key: none (no key), naive "
                "(check, charge, then save), unique_insert (insert STARTED first), "
                "conditional_put (put-if-absent).",
                choices=("none", "naive", "unique_insert", "conditional_put"),
                broken=("none", "naive")),
        Variant("recovery", "none",
                "What becomes of a key left STARTED by a worker that gave up or crashed "
                "(unique_insert and conditional_put). none: it stays STARTED, and its "
                "payment's retries get 'in progress' until the client gives up. expire: a "
                "retry takes over a key locked longer than lock_timeout_ms and charges; "
                "the first worker's charge may still land, and only a keyed processor "
                "absorbs it.",
                choices=("none", "expire")),
        Variant("processor", "keyed",
                "What the ledger (the payment processor) does with a repeated request. "
                "keyed: the idempotency key travels with the charge and a key already "
                "charged gets that charge back, as payment APIs do. plain: every request "
                "is a new charge, so a charge duplicated between server and ledger, or "
                "sent again after a takeover, charges twice.",
                choices=("keyed", "plain"), broken=("plain",)),
    )
    params = (
        Param("workers", 4, "Server workers serving requests concurrently.",
              {"type": "integer", "minimum": 1, "maximum": 32}),
        Param("payments_per_second", 0, "New payments each client starts per second of its "
              "clock (0: only the payments you inject).",
              {"type": "number", "minimum": 0, "maximum": 100}),
        Param("double_submit_fraction", 0.0, "Fraction of workload payments sent twice at "
              "once (a double click).", {"type": "number", "minimum": 0, "maximum": 1}),
        Param("amount", 25, "Amount of a workload payment.",
              {"type": "integer", "minimum": 1, "maximum": 1_000_000}),
        Param("client_timeout_ms", 400, "A client resends a request not answered in this "
              "time.", {"type": "number", "minimum": 1, "maximum": 600_000}),
        Param("max_retries", 3, "Resends per payment before the client gives up.",
              {"type": "integer", "minimum": 0, "maximum": 100}),
        Param("retry_backoff_ms", 150, "Wait before resending after an 'in progress' or "
              "'failed' answer.", {"type": "number", "minimum": 1, "maximum": 600_000}),
        Param("charge_ms", 100, "Time the ledger takes to process a charge.",
              {"type": "number", "minimum": 0, "maximum": 600_000}),
        Param("server_timeout_ms", 300, "A worker gives up on a step not answered in this "
              "time and answers 'failed'.", {"type": "number", "minimum": 1,
                                              "maximum": 600_000}),
        Param("lock_timeout_ms", 1000, "With recovery: a STARTED key locked longer than this "
              "(on the key store's clock) may be taken over.",
              {"type": "number", "minimum": 1, "maximum": 600_000}),
    )
    _CLIENT = {"type": "string", "pattern": "^c[1-9][0-9]*$", "maxLength": 40}
    _KEY = {"type": "string", "minLength": 1, "maxLength": 40}
    _AMOUNT = {"type": "integer", "minimum": 1, "maximum": 1_000_000}
    commands = {
        "pay": {"properties": {"node": _CLIENT, "amount": _AMOUNT, "key": _KEY}},
        "double_submit": {"properties": {"node": _CLIENT, "amount": _AMOUNT, "key": _KEY}},
    }
    roles = (Client, Server, KeyStore, Ledger)
    Checker = PaymentChecker
    Display = PaymentDisplay
    default_nodes = 5
    min_nodes = 4
    max_nodes = 23

    def setup(self):
        self.mode = Mode(self.v["mode"])
        self.recovery = Recovery(self.v["recovery"])
        self.processor = Processor(self.v["processor"])
        self.clients = [f"c{i}" for i in range(1, self.n - 2)]
        self.client_timeout = _ms(self.p["client_timeout_ms"])
        self.retry_backoff = _ms(self.p["retry_backoff_ms"])
        self.server_timeout = _ms(self.p["server_timeout_ms"])
        self.lock_timeout = _ms(self.p["lock_timeout_ms"])
        self.charge_time = _ms(self.p["charge_ms"])

    def node_ids(self):
        """Clients c1 … cK, then the server, the key store and the ledger."""
        return self.clients + [SERVER, KEYS, LEDGER]

    def role_of(self, node_id):
        return node_id if node_id in (SERVER, KEYS, LEDGER) else Client.name

    def init_node(self, node_id):
        if node_id == SERVER:
            return ServerState(workers=[None] * int(self.p["workers"]))
        return super().init_node(node_id)

    def init_ghost(self):
        return Observer()

    def command_target(self, command, view):
        return command.get("node", "c1")


def _ms(value) -> int:
    return int(round(value * MS))
