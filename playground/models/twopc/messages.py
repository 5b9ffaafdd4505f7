"""What the nodes of the two-phase commit model say to each other, log, and share.

The coordinator sends ``Prepare`` and then the decision (``Commit`` or ``Abort``); a
participant answers ``Prepare`` with its vote (``VoteCommit`` or ``VoteAbort``), the
decision with ``Ack``, and while it is in doubt asks ``StatusRequest`` (the termination
protocol). The durable log records (``Decision``, ``End``, ``PreparedRecord``) are here
too, with the timer kinds and the node names both roles use.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from playground.models.base import MS, Timer

PARTICIPANT_NAMES = ("orders", "inventory", "payments", "shipping", "loyalty", "ledger",
                     "audit", "email")
TX_PREFIXES = "ABCD"  # transaction ids: A1, A2, ... from the first coordinator, B1 ...
RECENT = 20  # finished transactions kept for display
COMMIT = "commit"
ABORT = "abort"


class TwoPCTimer(Enum):
    """Timer kinds; the values are the timers' names (or the prefix before the tx)."""

    WORKLOAD = "workload"  # a coordinator starts its next transaction
    RESEND = "resend"  # a coordinator resends unacknowledged decisions
    VOTES = "votes:"  # + tx: the coordinator's vote timeout
    STATUS = "status:"  # + tx: an in-doubt participant asks for the outcome again
    GIVE_UP = "give_up:"  # + tx: broken variant, a participant aborts on its own
    LOCK_WAIT = "lock_wait:"  # + tx: a queued Prepare has waited too long for its lock


WORKLOAD = Timer(TwoPCTimer.WORKLOAD)
RESEND = Timer(TwoPCTimer.RESEND)


def votes_timer(tx: str) -> Timer:
    return Timer(TwoPCTimer.VOTES, tx)


def status_timer(tx: str) -> Timer:
    return Timer(TwoPCTimer.STATUS, tx)


def give_up_timer(tx: str) -> Timer:
    return Timer(TwoPCTimer.GIVE_UP, tx)


def lock_wait_timer(tx: str) -> Timer:
    return Timer(TwoPCTimer.LOCK_WAIT, tx)


# -- messages ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Prepare:
    tx: str
    row: int


@dataclass(frozen=True, slots=True)
class VoteCommit:
    tx: str


@dataclass(frozen=True, slots=True)
class VoteAbort:
    tx: str
    reason: str


@dataclass(frozen=True, slots=True)
class Commit:
    tx: str


@dataclass(frozen=True, slots=True)
class Abort:
    tx: str


@dataclass(frozen=True, slots=True)
class Ack:
    tx: str


@dataclass(frozen=True, slots=True)
class StatusRequest:
    tx: str


DECISION_MESSAGE = {COMMIT: Commit, ABORT: Abort}


# -- durable log records ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Decision:
    """Coordinator log: the outcome of ``tx``, forced before it is sent."""

    tx: str
    outcome: str
    participants: tuple


@dataclass(frozen=True, slots=True)
class End:
    """Coordinator log: every participant acknowledged the decision on ``tx``."""

    tx: str


@dataclass(frozen=True, slots=True)
class PreparedRecord:
    """Participant log: voted yes on ``tx``, holding ``row`` since ``locked_at``."""

    tx: str
    row: int
    coordinator: str
    locked_at: int  # this node's clock, µs


def ms(us: int) -> float:
    return round(us / MS, 3)

