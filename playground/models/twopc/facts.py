"""What the two-phase commit model's handlers tell the checker (``ctx.tell``), and the trace.

The trace records each fact with the node that told it, so from these alone an independent
checker can follow a run: which transactions each coordinator began and how it decided
them, how each participant voted, which row locks it took and released, and which outcome
it applied. The invariants are judged on them (see ``checker.py``): ``atomicity`` on the
participants' ``OutcomeApplied``, ``unanimous_commit`` on the coordinator's ``Decided``
against the participants' own ``Voted``, ``isolation`` on a participant's ``Voted`` against
the outcomes it applied.
"""

from __future__ import annotations

from dataclasses import dataclass

from playground.models.base import Fact


# -- the coordinator ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TransactionBegan(Fact):
    text = "began {tx}: Prepare to {rows}"
    tx: str
    rows: tuple  # (participant, row) pairs


@dataclass(frozen=True, slots=True)
class Decided(Fact):
    """The decision was forced to the coordinator's log (and is about to be sent)."""

    text = "decided {outcome} for {tx}"
    tx: str
    outcome: str
    participants: tuple


@dataclass(frozen=True, slots=True)
class PresumedAborted(Fact):
    """The coordinator answered Abort for a transaction its log does not know."""

    text = "presumed {tx} aborted (asked by {asker})"
    tx: str
    asker: str


# -- a participant ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Voted(Fact):
    text = "voted {vote} on {tx} (row {row})"
    tx: str
    row: int
    vote: str  # "yes" / "no"


@dataclass(frozen=True, slots=True)
class LockAcquired(Fact):
    text = "locked row {row} for {tx}"
    tx: str
    row: int


@dataclass(frozen=True, slots=True)
class LockReleased(Fact):
    text = "unlocked row {row} held by {tx}"
    tx: str
    row: int


@dataclass(frozen=True, slots=True)
class OutcomeApplied(Fact):
    """The participant committed or aborted ``tx`` in its own database."""

    text = "{outcome} {tx}"
    tx: str
    outcome: str


@dataclass(frozen=True, slots=True)
class ResolvedByHand(Fact):
    """An operator decided a transaction in doubt here without its coordinator (a
    heuristic decision); ``OutcomeApplied`` follows."""

    text = "{tx} resolved by hand: {outcome}"
    tx: str
    outcome: str
