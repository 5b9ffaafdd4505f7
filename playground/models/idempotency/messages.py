"""What the nodes of the idempotency model say to each other, and the names they share.

Clients talk to the server (``PaymentRequest`` and its four answers); the server talks to
the key store (``Key…`` operations, each answered with ``KeyItem``, ``KeyWritten``,
``DuplicateKey`` or ``ConditionFailed``) and to the ledger (``Charge`` or
``ChargeWithKey``, answered with ``ChargeRecorded``). Every operation of the server
carries an ``op`` number so that an answer finds the worker that asked, and an answer to
a worker that gave up finds none.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

SERVER = "server"
KEYS = "keys"
LEDGER = "ledger"


class Mode(Enum):
    """How the server uses the idempotency key (the ``mode`` variant)."""

    NONE = "none"
    NAIVE = "naive"
    UNIQUE_INSERT = "unique_insert"
    CONDITIONAL_PUT = "conditional_put"


class Recovery(Enum):
    """What becomes of a key left STARTED (the ``recovery`` variant)."""

    NONE = "none"
    EXPIRE = "expire"


class Processor(Enum):
    """What the ledger does with a repeated request (the ``processor`` variant)."""

    KEYED = "keyed"  # the idempotency key travels with the charge; a repeat gets that charge
    PLAIN = "plain"  # every charge request is a new charge


class PaymentTimer(Enum):
    """Timer kinds; the values are the timers' names (or the prefix before the argument)."""

    WORKLOAD = "workload"  # a client starts its next workload payment
    RETRY = "retry:"  # + payment: a client resends an unanswered request
    WORKER = "worker:"  # + worker index: a server worker gives up on its step
    CHARGE = "charge:"  # + number: the ledger finishes processing a charge


class KeyStatus(Enum):
    STARTED = "STARTED"
    COMPLETED = "COMPLETED"


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What a key was first used for: who asked, and for how much. A request that reuses
    the key for anything else is rejected, as payment APIs reject a key reused with
    different parameters."""

    client: str
    amount: int


@dataclass(frozen=True, slots=True)
class Receipt:
    """The result of a payment: what the key store keeps and a retry gets back."""

    charge_id: str
    amount: int


# -- client <-> server ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """``request`` numbers the client's requests; every answer carries the number of the
    request it answers."""

    payment: str
    amount: int
    idempotency_key: str | None
    request: int


@dataclass(frozen=True, slots=True)
class PaymentReceipt:
    payment: str
    charge_id: str
    amount: int
    from_store: bool
    request: int


@dataclass(frozen=True, slots=True)
class PaymentInProgress:
    payment: str


@dataclass(frozen=True, slots=True)
class PaymentFailed:
    payment: str
    reason: str


@dataclass(frozen=True, slots=True)
class PaymentRejected:
    """The key was first used for another request (another client or amount): final."""

    payment: str
    reason: str
    request: int


# -- server <-> ledger ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Charge:
    op: int
    payment: str
    amount: int
    customer: str  # the client whose card is charged


@dataclass(frozen=True, slots=True)
class ChargeWithKey:
    """A charge that passes the idempotency key on (``processor = keyed``): the ledger,
    like a payment processor's own API, answers a key it has seen with the charge it made
    for it."""

    op: int
    payment: str
    amount: int
    customer: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class ChargeRecorded:
    op: int
    charge_id: str


# -- server <-> key store ---------------------------------------------------------------------
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
    fingerprint: Fingerprint | None


@dataclass(frozen=True, slots=True)
class KeyPut:
    """An unconditional write of a key's row."""

    op: int
    idempotency_key: str
    status: KeyStatus
    receipt: Receipt | None
    fingerprint: Fingerprint


@dataclass(frozen=True, slots=True)
class KeyInsert:
    """INSERT (key, STARTED, fingerprint) into a table with a unique constraint on the key."""

    op: int
    idempotency_key: str
    fingerprint: Fingerprint


@dataclass(frozen=True, slots=True)
class KeyPutIfAbsent:
    """A put of (key, STARTED, fingerprint) with the condition ``attribute_not_exists(key)``."""

    op: int
    idempotency_key: str
    fingerprint: Fingerprint


@dataclass(frozen=True, slots=True)
class KeyTakeOver:
    """Take over a STARTED row of the same fingerprint whose lock is at least
    ``older_than`` µs old (the key store's clock): it is locked anew and ``KeyWritten``
    comes back; otherwise the row comes back as a ``KeyItem``."""

    op: int
    idempotency_key: str
    fingerprint: Fingerprint
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
    fingerprint: Fingerprint
