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
when done. A worker's phases form a transition table (``WORKER``); an illegal move raises.

Simplifications: the key store and ledger are single nodes whose contents survive a crash
(``disk``); a charge pending in the ledger when it crashes is never made. A server worker
gives up on a step after ``server_timeout_ms`` and answers "failed"; a key left STARTED
by a worker that gave up or crashed stays STARTED, so that payment's later retries get
"in progress", unless the ``recovery`` variant lets a request take over a key locked for
longer than ``lock_timeout_ms`` (``expire``: the first worker's charge may still land, a
double charge; ``processor_key``: the charge carries the key to the ledger, which
answers a key it has charged with that charge, like a payment processor's own API). The
network between server and ledger may duplicate a ``Charge``: that is a second charge
in every mode, since the key guards the server's entry and not the link behind it; only
``processor_key`` recovery, which passes the key to the ledger, absorbs it.

Invariant: ``at_most_one_charge``: the ledger holds at most one charge per payment. It is
checked when the ledger changes, from the observer's tally of charges per payment.

Claims served: C12 (a lost reply and a retry charge twice with no key), C13 (a key and a
stored result answer the retry), C14 (naive check-then-act races), C15 (unique insert
first), C16 (conditional put).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from playground.models import register
from playground.models.base import MS, SECOND, Invariant, Model, Param, Variant
from playground.models.fsm import Transitions

SERVER = "server"
KEYS = "keys"
LEDGER = "ledger"
SHOWN = 50  # rows of the key store and ledger shown in the panel (the newest)


class Mode(Enum):
    NONE = "none"
    NAIVE = "naive"
    UNIQUE_INSERT = "unique_insert"
    CONDITIONAL_PUT = "conditional_put"


class KeyStatus(Enum):
    STARTED = "STARTED"
    COMPLETED = "COMPLETED"


class Recovery(Enum):
    """What becomes of a key left STARTED (see the ``recovery`` variant)."""

    NONE = "none"
    EXPIRE = "expire"
    PROCESSOR_KEY = "processor_key"


class Phase(Enum):
    """What a server worker is waiting for."""

    IDLE = "idle"
    CHECKING = "checking"  # naive: KeyGet sent
    CLAIMING = "claiming"  # unique_insert / conditional_put: the claim on the key sent
    READING = "reading"  # unique_insert: reading the row that won the insert
    CHARGING = "charging"  # Charge sent to the ledger
    SAVING = "saving"  # the receipt is being written to the key store


WORKER = Transitions("payment worker", {
    Phase.IDLE: (Phase.CHECKING, Phase.CLAIMING, Phase.CHARGING),
    Phase.CHECKING: (Phase.CHARGING, Phase.IDLE),
    Phase.CLAIMING: (Phase.CHARGING, Phase.READING, Phase.CLAIMING, Phase.IDLE),
    Phase.READING: (Phase.CLAIMING, Phase.IDLE),  # to CLAIMING: taking a stale key over
    Phase.CHARGING: (Phase.SAVING, Phase.IDLE),
    Phase.SAVING: (Phase.IDLE,),
})

FIRST_PHASE = {Mode.NONE: Phase.CHARGING, Mode.NAIVE: Phase.CHECKING,
               Mode.UNIQUE_INSERT: Phase.CLAIMING, Mode.CONDITIONAL_PUT: Phase.CLAIMING}


# -- messages -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Receipt:
    """The result of a payment: what the key store keeps and a retry gets back."""

    charge_id: str
    amount: int


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    payment: str
    amount: int
    idempotency_key: str | None


@dataclass(frozen=True, slots=True)
class PaymentReceipt:
    payment: str
    charge_id: str
    amount: int
    from_store: bool


@dataclass(frozen=True, slots=True)
class PaymentInProgress:
    payment: str


@dataclass(frozen=True, slots=True)
class PaymentFailed:
    payment: str
    reason: str


@dataclass(frozen=True, slots=True)
class Charge:
    op: int
    payment: str
    amount: int


@dataclass(frozen=True, slots=True)
class ChargeWithKey:
    """A charge that passes the idempotency key on: the ledger (like a payment processor's
    own API) answers a key it has seen with the charge it made for it."""

    op: int
    payment: str
    amount: int
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class ChargeRecorded:
    op: int
    charge_id: str


@dataclass(frozen=True, slots=True)
class KeyGet:
    op: int
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class KeyItem:
    """The row for a key, or ``status`` None when there is none."""

    op: int
    idempotency_key: str
    status: KeyStatus | None
    receipt: Receipt | None


@dataclass(frozen=True, slots=True)
class KeyPut:
    """An unconditional write of a key's row."""

    op: int
    idempotency_key: str
    status: KeyStatus
    receipt: Receipt | None


@dataclass(frozen=True, slots=True)
class KeyInsert:
    """INSERT (key, STARTED) into a table with a unique constraint on the key."""

    op: int
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class KeyPutIfAbsent:
    """A put of (key, STARTED) with the condition ``attribute_not_exists(key)``."""

    op: int
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class KeyTakeOver:
    """Take over a STARTED row whose lock is at least ``older_than`` µs old (the key
    store's clock): it is locked anew and ``KeyWritten`` comes back; otherwise the row
    comes back as a ``KeyItem``."""

    op: int
    idempotency_key: str
    older_than: int


@dataclass(frozen=True, slots=True)
class KeyWritten:
    op: int
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class DuplicateKey:
    op: int
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class ConditionFailed:
    """The put-if-absent lost; the existing item comes back with the refusal."""

    op: int
    idempotency_key: str
    status: KeyStatus
    receipt: Receipt | None


# -- states ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KeyRecord:
    status: KeyStatus
    receipt: Receipt | None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    charge_id: str
    payment: str
    amount: int


@dataclass(slots=True)
class Outstanding:
    """A client payment awaiting its receipt."""

    amount: int
    started_at: int  # client clock, µs
    attempts: int = 0  # requests sent so far (the first one and double submits included)
    retries: int = 0  # resends after a timeout, an answer to retry, or a user's resubmit


@dataclass(slots=True)
class ClientDisk:
    next_payment: int = 0


@dataclass(slots=True)
class ClientState:
    disk: ClientDisk = field(default_factory=ClientDisk)
    outstanding: dict = field(default_factory=dict)  # payment -> Outstanding
    paid: int = 0
    gave_up: int = 0


@dataclass(slots=True)
class Job:
    """One request a server worker is serving."""

    client: str
    payment: str
    amount: int
    idempotency_key: str | None
    phase: Phase = Phase.IDLE
    op: int = 0  # the store or ledger operation awaited
    receipt: Receipt | None = None
    took_over: bool = False  # its claim is a takeover of a stale STARTED key


@dataclass(slots=True)
class ServerDisk:
    next_op: int = 0  # persisted so replies addressed to a previous incarnation never match


@dataclass(slots=True)
class ServerState:
    disk: ServerDisk = field(default_factory=ServerDisk)
    workers: list = field(default_factory=list)  # Job | None per worker
    queue: list = field(default_factory=list)  # (client, PaymentRequest), oldest first
    ops: dict = field(default_factory=dict)  # op -> worker index


@dataclass(slots=True)
class KeyTable:
    items: dict = field(default_factory=dict)  # idempotency_key -> KeyRecord
    locked_at: dict = field(default_factory=dict)  # STARTED key -> when it was locked (µs)


@dataclass(slots=True)
class KeyStoreState:
    disk: KeyTable = field(default_factory=KeyTable)


@dataclass(slots=True)
class LedgerBook:
    entries: list = field(default_factory=list)  # LedgerEntry, in order
    by_key: dict = field(default_factory=dict)  # idempotency key -> charge id (keyed charges)


@dataclass(slots=True)
class LedgerState:
    disk: LedgerBook = field(default_factory=LedgerBook)
    pending: dict = field(default_factory=dict)  # timer name -> (server, Charge)
    next_pending: int = 0
    waiting: dict = field(default_factory=dict)  # key being charged -> [(server, op)] also asking


@dataclass(slots=True)
class Observer:
    """Ghost: the charge ids the ledger recorded for each payment."""

    charges: dict = field(default_factory=dict)  # payment -> [charge_id]


METRICS = ("payments", "requests", "charges", "duplicate_charges", "retries",
           "double_submits", "replies_from_store", "conflicts", "server_timeouts",
           "late_charges", "paid", "gave_up", "takeovers", "processor_dedups")


def _ms(value) -> int:
    return int(round(value * MS))


@register
class Idempotency(Model):
    name = "idempotency"
    title = "Idempotency keys: lost replies, retries and check-then-act races"
    invariants = (
        Invariant("at_most_one_charge",
                  "The ledger holds at most one charge for each payment (idempotency key)."),
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
                "retry takes over a key locked longer than lock_timeout_ms and charges, "
                "but the first worker's charge may still land. processor_key: the same "
                "takeover, with the key passed on to the ledger, which answers a key it "
                "has seen with the charge it made.",
                choices=("none", "expire", "processor_key"), broken=("expire",)),
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
    durable = ("disk",)
    default_nodes = 5
    min_nodes = 4
    max_nodes = 23

    def __init__(self, nodes, params, variant):
        super().__init__(nodes, params, variant)
        self.mode = Mode(variant.get("mode", "unique_insert"))
        self.recovery = Recovery(variant.get("recovery", "none"))

    # -- the cluster ---------------------------------------------------------------------
    def node_ids(self):
        """Clients c1 … cK, then the server, the key store and the ledger."""
        return [f"c{i}" for i in range(1, self.n - 2)] + [SERVER, KEYS, LEDGER]

    def init_node(self, node_id):
        if node_id == SERVER:
            return ServerState(workers=[None] * int(self.p["workers"]))
        if node_id == KEYS:
            return KeyStoreState()
        if node_id == LEDGER:
            return LedgerState()
        return ClientState()

    def init_ghost(self):
        return Observer()

    def command_target(self, command, view):
        return command.get("node", "c1")

    # -- handlers ------------------------------------------------------------------------
    def on_start(self, state, ctx):
        """Clients with a workload start their payment timer."""
        if type(state) is ClientState and self.p["payments_per_second"] > 0:
            self._arm_workload(ctx)

    def on_command(self, state, command, ctx):
        """A user's ``pay`` or ``double_submit`` at a client."""
        if type(state) is not ClientState:
            ctx.note(f"{command['type']} ignored: {ctx.node} is not a client")
            return
        amount = int(command.get("amount", self.p["amount"]))
        copies = 2 if command["type"] == "double_submit" else 1
        self._pay(state, ctx, amount, copies, command.get("key"))

    def on_timer(self, state, name, ctx):
        kind = type(state)
        if kind is ClientState:
            if name == "workload":
                self._workload(state, ctx)
            else:
                self._client_timeout(state, name.removeprefix("retry:"), ctx)
        elif kind is ServerState:
            self._worker_timeout(state, int(name.removeprefix("worker:")), ctx)
        elif kind is LedgerState:
            self._charge_done(state, name, ctx)

    def on_message(self, state, msg, src, ctx):
        handler = _HANDLERS.get(type(msg))
        if handler is None:
            raise TypeError(f"{ctx.node} cannot handle {type(msg).__name__}")
        handler(self, state, msg, src, ctx)

    # -- client ----------------------------------------------------------------------------
    def _arm_workload(self, ctx):
        period = SECOND / self.p["payments_per_second"]
        ctx.set_timer("workload", max(1, int(period * (0.5 + ctx.rng.random()))))

    def _workload(self, state, ctx):
        """Start the next workload payment."""
        double = ctx.rng.random() < self.p["double_submit_fraction"]
        self._pay(state, ctx, int(self.p["amount"]), 2 if double else 1, None)
        self._arm_workload(ctx)

    def _pay(self, state, ctx, amount, copies, payment):
        """Send ``copies`` requests for a payment; a known outstanding reference is resent."""
        if payment is None:
            state.disk.next_payment += 1
            payment = f"{ctx.node}-{state.disk.next_payment}"
        pending = state.outstanding.get(payment)
        if pending is None:
            pending = state.outstanding[payment] = Outstanding(amount, ctx.now)
            ctx.count("payments")
        else:
            pending.retries += 1  # the user resubmits a payment still waiting
            ctx.count("retries")
        if copies > 1:
            ctx.count("double_submits")
        for _ in range(copies):
            self._send_request(pending, payment, ctx)
        ctx.note(f"pay {payment}", amount=pending.amount, copies=copies)

    def _send_request(self, pending, payment, ctx):
        pending.attempts += 1
        key = None if self.mode is Mode.NONE else payment
        ctx.send(SERVER, PaymentRequest(payment, pending.amount, key))
        ctx.set_timer(f"retry:{payment}", _ms(self.p["client_timeout_ms"]))

    def _client_timeout(self, state, payment, ctx):
        """No answer in time: resend the same request, or give up."""
        pending = state.outstanding.get(payment)
        if pending is None:
            return
        if pending.retries >= self.p["max_retries"]:
            del state.outstanding[payment]
            state.gave_up += 1
            ctx.count("gave_up")
            ctx.note(f"gave up on {payment}", attempts=pending.attempts)
            return
        pending.retries += 1
        ctx.count("retries")
        ctx.note(f"retry {payment}", retry=pending.retries)
        self._send_request(pending, payment, ctx)

    def _on_receipt(self, state, msg, src, ctx):
        """The payment is done; later answers for it are ignored."""
        pending = state.outstanding.pop(msg.payment, None)
        if pending is None:
            return
        ctx.cancel_timer(f"retry:{msg.payment}")
        state.paid += 1
        ctx.count("paid")
        ctx.observe("payment_latency_ms", (ctx.now - pending.started_at) / MS)
        ctx.note(f"paid {msg.payment}", charge_id=msg.charge_id, from_store=msg.from_store)

    def _on_retry_later(self, state, msg, src, ctx):
        """'In progress' or 'failed': resend after the backoff (unless already paid)."""
        if msg.payment in state.outstanding:
            ctx.set_timer(f"retry:{msg.payment}", _ms(self.p["retry_backoff_ms"]))

    # -- server ------------------------------------------------------------------------------
    def _on_request(self, state, msg, src, ctx):
        """Queue the request and hand it to a free worker."""
        ctx.count("requests")
        state.queue.append((src, msg))
        self._assign(state, ctx)

    def _assign(self, state, ctx):
        for i, job in enumerate(state.workers):
            if not state.queue:
                return
            if job is None:
                client, req = state.queue.pop(0)
                job = state.workers[i] = Job(client, req.payment, req.amount, req.idempotency_key)
                first = FIRST_PHASE[self.mode]
                if first is Phase.CHECKING:
                    self._step(state, i, first, KEYS, KeyGet, ctx)
                elif first is Phase.CHARGING:
                    self._charge(state, i, ctx)
                elif self.mode is Mode.UNIQUE_INSERT:
                    self._step(state, i, first, KEYS, KeyInsert, ctx)
                else:
                    self._step(state, i, first, KEYS, KeyPutIfAbsent, ctx)

    def _step(self, state, i, phase, dst, make, ctx, *fields):
        """Move worker ``i`` to ``phase`` and send its next operation."""
        job = state.workers[i]
        job.phase = WORKER.move(job.phase, phase)
        state.disk.next_op += 1
        job.op = state.disk.next_op
        state.ops[job.op] = i
        ctx.send(dst, make(job.op, *fields) if fields else make(job.op, job.idempotency_key))
        ctx.set_timer(f"worker:{i}", _ms(self.p["server_timeout_ms"]))

    def _charge(self, state, i, ctx):
        job = state.workers[i]
        if self.recovery is Recovery.PROCESSOR_KEY and job.idempotency_key is not None:
            self._step(state, i, Phase.CHARGING, LEDGER, ChargeWithKey, ctx, job.payment,
                       job.amount, job.idempotency_key)
        else:
            self._step(state, i, Phase.CHARGING, LEDGER, Charge, ctx, job.payment, job.amount)

    def _finish(self, state, i, reply, ctx):
        """Answer the client, free the worker and take the next request."""
        job = state.workers[i]
        job.phase = WORKER.move(job.phase, Phase.IDLE)
        state.ops.pop(job.op, None)
        state.workers[i] = None
        ctx.cancel_timer(f"worker:{i}")
        ctx.send(job.client, reply)
        self._assign(state, ctx)

    def _worker_of(self, state, msg):
        return state.ops.pop(msg.op, None)

    def _answer_from_record(self, state, i, status, receipt, ctx, take_over=True):
        """The key was there: its stored receipt is the answer, or it is in progress (or,
        with recovery, taken over if its lock is stale: ``take_over`` is False once the
        key store has refused that)."""
        job = state.workers[i]
        if (status is KeyStatus.STARTED and take_over and self.recovery is not Recovery.NONE
                and self.mode in (Mode.UNIQUE_INSERT, Mode.CONDITIONAL_PUT)):
            job.took_over = True
            self._step(state, i, Phase.CLAIMING, KEYS, KeyTakeOver, ctx, job.idempotency_key,
                       _ms(self.p["lock_timeout_ms"]))
            return
        if status is KeyStatus.COMPLETED:
            ctx.count("replies_from_store")
            ctx.note(f"{job.payment}: reply from the key store", charge_id=receipt.charge_id)
            self._finish(state, i, PaymentReceipt(job.payment, receipt.charge_id,
                                                  receipt.amount, True), ctx)
        else:
            ctx.count("conflicts")
            ctx.note(f"{job.payment}: in progress elsewhere, request stopped")
            self._finish(state, i, PaymentInProgress(job.payment), ctx)

    def _on_key_item(self, state, msg, src, ctx):
        """Answer to a check (naive) or to the read after a duplicate insert."""
        i = self._worker_of(state, msg)
        if i is None:
            return
        job = state.workers[i]
        if msg.status is not None:  # in CLAIMING, the key store refused a takeover
            self._answer_from_record(state, i, msg.status, msg.receipt, ctx,
                                     take_over=job.phase is not Phase.CLAIMING)
        elif job.phase is Phase.CHECKING:
            ctx.note(f"{job.payment}: key absent, charging")
            self._charge(state, i, ctx)
        else:
            self._finish(state, i, PaymentFailed(job.payment, "key row vanished"), ctx)

    def _on_key_written(self, state, msg, src, ctx):
        """A claim succeeded (charge next) or the receipt was saved (reply)."""
        i = self._worker_of(state, msg)
        if i is None:
            return
        job = state.workers[i]
        if job.phase is Phase.CLAIMING:
            if job.took_over:
                ctx.count("takeovers")
                ctx.note(f"{job.payment}: took over a stale STARTED key")
            self._charge(state, i, ctx)
        else:
            self._finish(state, i, PaymentReceipt(job.payment, job.receipt.charge_id,
                                                  job.receipt.amount, False), ctx)

    def _on_duplicate_key(self, state, msg, src, ctx):
        """The unique constraint refused the insert: read the row that won."""
        i = self._worker_of(state, msg)
        if i is not None:
            self._step(state, i, Phase.READING, KEYS, KeyGet, ctx)

    def _on_condition_failed(self, state, msg, src, ctx):
        i = self._worker_of(state, msg)
        if i is not None:
            self._answer_from_record(state, i, msg.status, msg.receipt, ctx)

    def _on_charge_recorded(self, state, msg, src, ctx):
        """Charged: save the receipt under the key, or (no key) reply at once."""
        i = self._worker_of(state, msg)
        if i is None:
            ctx.count("late_charges")
            ctx.note(f"charge {msg.charge_id} confirmed after its worker gave up")
            return
        job = state.workers[i]
        job.receipt = Receipt(msg.charge_id, job.amount)
        if self.mode is Mode.NONE:
            self._finish(state, i, PaymentReceipt(job.payment, msg.charge_id, job.amount,
                                                  False), ctx)
        else:
            self._step(state, i, Phase.SAVING, KEYS, KeyPut, ctx, job.idempotency_key,
                       KeyStatus.COMPLETED, job.receipt)

    def _worker_timeout(self, state, i, ctx):
        """A step was not answered in time: answer 'failed' and free the worker."""
        job = state.workers[i]
        if job is None:
            return
        ctx.count("server_timeouts")
        ctx.note(f"{job.payment}: {job.phase.value} timed out")
        self._finish(state, i, PaymentFailed(job.payment, f"{job.phase.value} timed out"), ctx)

    # -- key store (every operation is one atomic step) ------------------------------------
    def _on_key_get(self, state, msg, src, ctx):
        record = state.disk.items.get(msg.idempotency_key)
        if record is None:
            ctx.send(src, KeyItem(msg.op, msg.idempotency_key, None, None))
        else:
            ctx.send(src, KeyItem(msg.op, msg.idempotency_key, record.status, record.receipt))

    def _on_key_put(self, state, msg, src, ctx):
        state.disk.items[msg.idempotency_key] = KeyRecord(msg.status, msg.receipt)
        if msg.status is not KeyStatus.STARTED:
            state.disk.locked_at.pop(msg.idempotency_key, None)
        ctx.send(src, KeyWritten(msg.op, msg.idempotency_key))

    def _lock(self, state, key, ctx):
        """Write (key, STARTED), locked now."""
        state.disk.items[key] = KeyRecord(KeyStatus.STARTED, None)
        state.disk.locked_at[key] = ctx.now

    def _on_key_insert(self, state, msg, src, ctx):
        if msg.idempotency_key in state.disk.items:
            ctx.send(src, DuplicateKey(msg.op, msg.idempotency_key))
            return
        self._lock(state, msg.idempotency_key, ctx)
        ctx.send(src, KeyWritten(msg.op, msg.idempotency_key))

    def _on_key_put_if_absent(self, state, msg, src, ctx):
        record = state.disk.items.get(msg.idempotency_key)
        if record is not None:
            ctx.send(src, ConditionFailed(msg.op, msg.idempotency_key, record.status,
                                          record.receipt))
            return
        self._lock(state, msg.idempotency_key, ctx)
        ctx.send(src, KeyWritten(msg.op, msg.idempotency_key))

    def _on_key_take_over(self, state, msg, src, ctx):
        """Lock a STARTED row anew if its lock is stale; otherwise return the row."""
        key = msg.idempotency_key
        record = state.disk.items.get(key)
        if record is None or (record.status is KeyStatus.STARTED and
                              ctx.now - state.disk.locked_at.get(key, ctx.now) >= msg.older_than):
            self._lock(state, key, ctx)
            ctx.send(src, KeyWritten(msg.op, key))
        else:
            ctx.send(src, KeyItem(msg.op, key, record.status, record.receipt))

    # -- ledger ------------------------------------------------------------------------------
    def _on_charge(self, state, msg, src, ctx):
        """Start processing a charge; it is recorded ``charge_ms`` later."""
        state.next_pending += 1
        name = f"charge:{state.next_pending}"
        state.pending[name] = (src, msg)
        ctx.set_timer(name, _ms(self.p["charge_ms"]))

    def _on_charge_with_key(self, state, msg, src, ctx):
        """A keyed charge: a key already charged gets that charge back at once, a key
        being charged gets it when that charge is done; a new key is charged."""
        key = msg.idempotency_key
        charge_id = state.disk.by_key.get(key)
        if charge_id is not None:
            ctx.count("processor_dedups")
            ctx.send(src, ChargeRecorded(msg.op, charge_id))
        elif key in state.waiting:
            ctx.count("processor_dedups")
            state.waiting[key].append((src, msg.op))
        else:
            state.waiting[key] = []
            self._on_charge(state, msg, src, ctx)

    def _charge_done(self, state, name, ctx):
        """The charge went through: record it and confirm it (to every asker of its key)."""
        src, msg = state.pending.pop(name)
        charge_id = f"ch_{len(state.disk.entries) + 1}"
        state.disk.entries.append(LedgerEntry(charge_id, msg.payment, msg.amount))
        ctx.ghost.charges.setdefault(msg.payment, []).append(charge_id)
        ctx.count("charges")
        if len(ctx.ghost.charges[msg.payment]) > 1:
            ctx.count("duplicate_charges")
        ctx.send(src, ChargeRecorded(msg.op, charge_id))
        if type(msg) is ChargeWithKey:
            state.disk.by_key[msg.idempotency_key] = charge_id
            for server, op in state.waiting.pop(msg.idempotency_key, ()):
                ctx.send(server, ChargeRecorded(op, charge_id))

    # -- checking and display --------------------------------------------------------------
    def check(self, view, node_id):
        if node_id != LEDGER:
            return ()
        entries = view.nodes[LEDGER].state.disk.entries
        if not entries:
            return ()
        payment = entries[-1].payment
        ids = view.ghost.charges.get(payment, ())
        if len(ids) > 1:
            return [("at_most_one_charge",
                     f"payment {payment} charged {len(ids)} times ({', '.join(ids)})")]
        return ()

    def metrics(self, view):
        out = {name: view.counters.get(name, 0) for name in METRICS}
        out["payments_double_charged"] = sum(
            1 for ids in view.ghost.charges.values() if len(ids) > 1)
        out["outstanding"] = sum(len(view.nodes[c].state.outstanding)
                                 for c in _clients(view))
        return out

    def role(self, state):
        kind = type(state)
        if kind is ServerState:
            return "server"
        if kind is KeyStoreState:
            return "key store"
        if kind is LedgerState:
            return "ledger"
        return "client"

    def summary(self, node_id, state):
        kind = type(state)
        if kind is ClientState:
            return {"outstanding": _outstanding(state), "paid": state.paid,
                    "gave_up": state.gave_up}
        if kind is ServerState:
            return {"busy": sum(1 for j in state.workers if j is not None),
                    "workers": len(state.workers), "queue": len(state.queue)}
        if kind is KeyStoreState:
            return {"keys": len(state.disk.items)}
        return {"charges": len(state.disk.entries), "processing": len(state.pending)}

    def panel(self, view):
        items = view.nodes[KEYS].state.disk.items
        entries = view.nodes[LEDGER].state.disk.entries
        server = view.nodes[SERVER].state
        charges = view.ghost.charges
        keys = view.nodes[KEYS].state.disk
        store_now = view.local_time(KEYS)
        return {
            "mode": self.mode.value,
            "recovery": self.recovery.value,
            "key_store": [{"key": k, "status": r.status.value,
                           "charge_id": r.receipt.charge_id if r.receipt else None,
                           "amount": r.receipt.amount if r.receipt else None,
                           "locked_ms": (round((store_now - keys.locked_at[k]) / MS)
                                         if k in keys.locked_at else None)}
                          for k, r in list(items.items())[-SHOWN:]],
            "key_store_size": len(items),
            "ledger": [{"charge_id": e.charge_id, "payment": e.payment, "amount": e.amount,
                        "duplicate": charges.get(e.payment, [e.charge_id])[0] != e.charge_id}
                       for e in entries[-SHOWN:]],
            "ledger_size": len(entries),
            "workers": [None if j is None else
                        {"payment": j.payment, "client": j.client, "phase": j.phase.value}
                        for j in server.workers],
            "queue": [req.payment for _, req in server.queue[:SHOWN]],
            "clients": [{"client": c, "outstanding": _outstanding(view.nodes[c].state),
                         "paid": view.nodes[c].state.paid,
                         "gave_up": view.nodes[c].state.gave_up}
                        for c in _clients(view)],
            "double_charged": [p for p, ids in charges.items() if len(ids) > 1][:SHOWN],
        }



def _clients(view):
    return view.node_ids[:-3]  # node_ids puts the server, key store and ledger last


def _outstanding(state):
    return [{"payment": p, "amount": o.amount, "attempts": o.attempts,
             "retries": o.retries} for p, o in state.outstanding.items()]


_HANDLERS = {
    PaymentRequest: Idempotency._on_request,
    PaymentReceipt: Idempotency._on_receipt,
    PaymentInProgress: Idempotency._on_retry_later,
    PaymentFailed: Idempotency._on_retry_later,
    KeyItem: Idempotency._on_key_item,
    KeyWritten: Idempotency._on_key_written,
    DuplicateKey: Idempotency._on_duplicate_key,
    ConditionFailed: Idempotency._on_condition_failed,
    ChargeRecorded: Idempotency._on_charge_recorded,
    KeyGet: Idempotency._on_key_get,
    KeyPut: Idempotency._on_key_put,
    KeyInsert: Idempotency._on_key_insert,
    KeyPutIfAbsent: Idempotency._on_key_put_if_absent,
    KeyTakeOver: Idempotency._on_key_take_over,
    Charge: Idempotency._on_charge,
    ChargeWithKey: Idempotency._on_charge_with_key,
}
