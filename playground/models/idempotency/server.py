"""The payment server: ``workers`` concurrent workers, a queue, and one path per ``mode``.

A worker serves one request as a sequence of steps, each a round trip to the key store or
the ledger, so two workers' steps interleave. Its phases form a transition table
(``WORKER``); an illegal move raises. The first step depends on the mode
(``FIRST_PHASE``): charge at once (``none``), check the key (``naive``), or claim it
(``unique_insert``: ``KeyInsert``; ``conditional_put``: ``KeyPutIfAbsent``). A row that
comes back with another request's fingerprint (another client, another amount) is a
reuse of the key, rejected before anything else. With ``processor = keyed`` a charge
carries the idempotency key to the ledger (``ChargeWithKey``). A worker gives up on a step
after ``server_timeout_ms`` and answers "failed".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from playground.models.base import Role, Timer, Transitions, on, timer

from .facts import (AnsweredInProgress, KeyReuseRejected, LateChargeConfirmed,
                    RepliedFromStore, StepTimedOut)
from .messages import (KEYS, LEDGER, Charge, ChargeRecorded, ChargeWithKey, ConditionFailed,
                       DuplicateKey, Fingerprint, KeyGet, KeyInsert, KeyItem, KeyPut,
                       KeyPutIfAbsent, KeyStatus, KeyTakeOver, KeyWritten, Mode, PaymentFailed,
                       PaymentInProgress, PaymentReceipt, PaymentRejected, PaymentRequest,
                       PaymentTimer, Processor, Receipt, Recovery)


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


def worker_timer(i: int) -> Timer:
    return Timer(PaymentTimer.WORKER, i)


@dataclass(slots=True)
class Job:
    """One request a server worker is serving."""

    client: str
    payment: str
    amount: int
    idempotency_key: str | None
    request: int  # the client's number for the request, echoed in the answer
    phase: Phase = Phase.IDLE
    op: int = 0  # the store or ledger operation awaited
    receipt: Receipt | None = None
    took_over: bool = False  # its claim is a takeover of a stale STARTED key

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.client, self.amount)


@dataclass(slots=True)
class ServerDisk:
    next_op: int = 0  # persisted so replies addressed to a previous incarnation never match


@dataclass(slots=True)
class ServerState:
    disk: ServerDisk = field(default_factory=ServerDisk)
    workers: list = field(default_factory=list)  # Job | None per worker
    queue: list = field(default_factory=list)  # (client, PaymentRequest), oldest first
    ops: dict = field(default_factory=dict)  # op -> worker index


class Server(Role):
    name = "server"
    State = ServerState
    durable = ("disk",)

    @on(PaymentRequest)
    def request(self, state, msg, src, ctx):
        """Queue the request and hand it to a free worker."""
        ctx.count("requests")
        state.queue.append((src, msg))
        self._assign(state, ctx)

    def _assign(self, state, ctx):
        mode = self.model.mode
        for i, job in enumerate(state.workers):
            if not state.queue:
                return
            if job is None:
                client, req = state.queue.pop(0)
                state.workers[i] = Job(client, req.payment, req.amount, req.idempotency_key,
                                       req.request)
                first = FIRST_PHASE[mode]
                if first is Phase.CHECKING:
                    self._step(state, i, first, KEYS, KeyGet, ctx)
                elif first is Phase.CHARGING:
                    self._charge(state, i, ctx)
                else:
                    claim = KeyInsert if mode is Mode.UNIQUE_INSERT else KeyPutIfAbsent
                    job = state.workers[i]
                    self._step(state, i, first, KEYS, claim, ctx, job.idempotency_key,
                               job.fingerprint)

    def _step(self, state, i, phase, dst, make, ctx, *fields):
        """Move worker ``i`` to ``phase`` and send its next operation."""
        job = state.workers[i]
        job.phase = WORKER.move(job.phase, phase)
        state.disk.next_op += 1
        job.op = state.disk.next_op
        state.ops[job.op] = i
        ctx.send(dst, make(job.op, *fields) if fields else make(job.op, job.idempotency_key))
        ctx.set_timer(worker_timer(i), self.model.server_timeout)

    def _charge(self, state, i, ctx):
        job = state.workers[i]
        if self.model.processor is Processor.KEYED and job.idempotency_key is not None:
            self._step(state, i, Phase.CHARGING, LEDGER, ChargeWithKey, ctx, job.payment,
                       job.amount, job.client, job.idempotency_key)
        else:
            self._step(state, i, Phase.CHARGING, LEDGER, Charge, ctx, job.payment, job.amount,
                       job.client)

    def _finish(self, state, i, reply, ctx):
        """Answer the client, free the worker and take the next request."""
        job = state.workers[i]
        job.phase = WORKER.move(job.phase, Phase.IDLE)
        state.ops.pop(job.op, None)
        state.workers[i] = None
        ctx.cancel_timer(worker_timer(i))
        ctx.send(job.client, reply)
        self._assign(state, ctx)

    def _answer_from_record(self, state, i, status, receipt, fingerprint, ctx,
                            take_over=True):
        """The key was there: another request's key is rejected; otherwise its stored
        receipt is the answer, or it is in progress (or, with recovery, taken over if its
        lock is stale: ``take_over`` is False once the key store has refused that)."""
        job = state.workers[i]
        model = self.model
        if fingerprint != job.fingerprint:
            ctx.count("rejected_reuses")
            ctx.tell(KeyReuseRejected(job.payment, job.client, job.amount))
            self._finish(state, i, PaymentRejected(
                job.payment, "idempotency key already used for another request "
                f"({fingerprint.client}, amount {fingerprint.amount})", job.request), ctx)
            return
        if (status is KeyStatus.STARTED and take_over and model.recovery is not Recovery.NONE
                and model.mode in (Mode.UNIQUE_INSERT, Mode.CONDITIONAL_PUT)):
            job.took_over = True
            self._step(state, i, Phase.CLAIMING, KEYS, KeyTakeOver, ctx, job.idempotency_key,
                       job.fingerprint, model.lock_timeout)
            return
        if status is KeyStatus.COMPLETED:
            ctx.count("replies_from_store")
            ctx.tell(RepliedFromStore(job.payment, receipt.charge_id))
            self._finish(state, i, PaymentReceipt(job.payment, receipt.charge_id,
                                                  receipt.amount, True, job.request), ctx)
        else:
            ctx.count("conflicts")
            ctx.tell(AnsweredInProgress(job.payment))
            self._finish(state, i, PaymentInProgress(job.payment), ctx)

    @on(KeyItem)
    def key_item(self, state, msg, src, ctx):
        """Answer to a check (naive) or to the read after a duplicate insert."""
        i = state.ops.pop(msg.op, None)
        if i is None:
            return
        job = state.workers[i]
        if msg.status is not None:  # in CLAIMING, the key store refused a takeover
            self._answer_from_record(state, i, msg.status, msg.receipt, msg.fingerprint, ctx,
                                     take_over=job.phase is not Phase.CLAIMING)
        elif job.phase is Phase.CHECKING:
            ctx.note(f"{job.payment}: key absent, charging")
            self._charge(state, i, ctx)
        else:
            self._finish(state, i, PaymentFailed(job.payment, "key row vanished"), ctx)

    @on(KeyWritten)
    def key_written(self, state, msg, src, ctx):
        """A claim succeeded (charge next) or the receipt was saved (reply)."""
        i = state.ops.pop(msg.op, None)
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
                                                  job.receipt.amount, False, job.request), ctx)

    @on(DuplicateKey)
    def duplicate_key(self, state, msg, src, ctx):
        """The unique constraint refused the insert: read the row that won."""
        i = state.ops.pop(msg.op, None)
        if i is not None:
            self._step(state, i, Phase.READING, KEYS, KeyGet, ctx)

    @on(ConditionFailed)
    def condition_failed(self, state, msg, src, ctx):
        """The put-if-absent was refused: answer from the item that came back with it."""
        i = state.ops.pop(msg.op, None)
        if i is not None:
            self._answer_from_record(state, i, msg.status, msg.receipt, msg.fingerprint, ctx)

    @on(ChargeRecorded)
    def charge_recorded(self, state, msg, src, ctx):
        """Charged: save the receipt under the key, or (no key) reply at once. A
        confirmation no worker waits for (it gave up, or this is a copy) is only counted."""
        i = state.ops.pop(msg.op, None)
        if i is None:
            ctx.count("late_charges")
            ctx.tell(LateChargeConfirmed(msg.charge_id))
            return
        job = state.workers[i]
        job.receipt = Receipt(msg.charge_id, job.amount)
        if self.model.mode is Mode.NONE:
            self._finish(state, i, PaymentReceipt(job.payment, msg.charge_id, job.amount,
                                                  False, job.request), ctx)
        else:
            self._step(state, i, Phase.SAVING, KEYS, KeyPut, ctx, job.idempotency_key,
                       KeyStatus.COMPLETED, job.receipt, job.fingerprint)

    @timer(PaymentTimer.WORKER)
    def worker_timeout(self, state, worker, ctx):
        """A step was not answered in time: answer 'failed' and free the worker."""
        job = state.workers[worker.arg]
        if job is None:
            return
        ctx.count("server_timeouts")
        ctx.tell(StepTimedOut(job.payment, job.phase.value))
        self._finish(state, worker.arg,
                     PaymentFailed(job.payment, f"{job.phase.value} timed out"), ctx)

    def label(self, state):
        return "server"

    def summary(self, node_id, state):
        return {"busy": sum(1 for j in state.workers if j is not None),
                "workers": len(state.workers), "queue": len(state.queue)}
