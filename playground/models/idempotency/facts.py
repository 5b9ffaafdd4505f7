"""What the idempotency model's handlers tell the checker (``ctx.tell``), and the trace.

From these alone an independent checker can follow a run: which charges the ledger
made and for which payment and amount (``at_most_one_charge`` is judged on ``Charged``),
which keys the key store locked and how, which receipts it saved, which answers came from
a stored receipt, which requests met a key in progress or reused a key for another
request, and how each payment ended at its client (``paid_means_charged`` is judged on
``Paid`` against the ``Charged`` facts before it).
"""

from __future__ import annotations

from dataclasses import dataclass

from playground.models.base import Fact


# -- the ledger ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Charged(Fact):
    text = "charged {amount} for {payment} as {charge_id}"
    charge_id: str
    payment: str
    amount: int
    customer: str  # the client whose card was charged
    idempotency_key: str | None  # passed on to the ledger (processor = keyed)


@dataclass(frozen=True, slots=True)
class KeyedChargeAbsorbed(Fact):
    """A keyed charge for a key already charged (or being charged) made no new charge."""

    text = "absorbed a repeated charge for key {idempotency_key}"
    idempotency_key: str
    charge_id: str | None  # None: the first charge for the key is still being processed


# -- the key store -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KeyInserted(Fact):
    """The unique insert of (key, STARTED) succeeded."""

    text = "inserted key {idempotency_key} STARTED"
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class KeyClaimed(Fact):
    """The put-if-absent of (key, STARTED) succeeded."""

    text = "put key {idempotency_key} STARTED (it was absent)"
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class KeyTakenOver(Fact):
    """A STARTED row whose lock was stale (or a missing row) was locked anew."""

    text = "key {idempotency_key} taken over and locked anew"
    idempotency_key: str
    locked_for: int | None  # µs the previous lock had been held (store clock); None: no row


@dataclass(frozen=True, slots=True)
class KeySaved(Fact):
    """An unconditional write of a key's row (the receipt under a COMPLETED key)."""

    text = "saved key {idempotency_key} {status}"
    idempotency_key: str
    status: str
    charge_id: str | None


# -- the server ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RepliedFromStore(Fact):
    """A request was answered with the receipt stored under its key: no new charge."""

    text = "{payment}: reply from the key store ({charge_id})"
    payment: str
    charge_id: str


@dataclass(frozen=True, slots=True)
class AnsweredInProgress(Fact):
    """A request met its key STARTED by another worker and was stopped (a conflict)."""

    text = "{payment}: in progress elsewhere, request stopped"
    payment: str


@dataclass(frozen=True, slots=True)
class KeyReuseRejected(Fact):
    """A request met its key's row made by another request (another client or amount)."""

    text = "{payment}: key already used for another request, {client}'s {amount} rejected"
    payment: str
    client: str
    amount: int


@dataclass(frozen=True, slots=True)
class StepTimedOut(Fact):
    """A worker gave up on a step and answered 'failed'; its key may stay STARTED."""

    text = "{payment}: {phase} timed out"
    payment: str
    phase: str


@dataclass(frozen=True, slots=True)
class LateChargeConfirmed(Fact):
    """A charge was confirmed to no waiting worker: the one that asked gave up (or this
    confirmation is a copy of one already taken)."""

    text = "charge {charge_id} confirmed to no waiting worker"
    charge_id: str


# -- the clients ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Paid(Fact):
    """The client holds a receipt: what it sees as success, for the amount it asked."""

    text = "paid {amount} for {payment} ({charge_id})"
    payment: str
    charge_id: str
    amount: int
    from_store: bool


@dataclass(frozen=True, slots=True)
class Rejected(Fact):
    text = "{payment} rejected: {reason}"
    payment: str
    reason: str


@dataclass(frozen=True, slots=True)
class GaveUp(Fact):
    text = "gave up on {payment} after {attempts} attempts"
    payment: str
    attempts: int
