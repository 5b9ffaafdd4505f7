"""The two-phase commit model's invariants and metrics, judged from the handlers' facts.

The observer (``Ledger``, the ghost) stamps every fact with true time as it comes and keeps
what an outside observer could have seen: each transaction's votes and the outcome each
participant applied, the row locks each participant said it held, and who has been in
doubt since when. The invariants compare these with one another, never with a handler's
own bookkeeping (the coordinator's vote table, a participant's lock table):

* ``atomicity``: the outcomes participants applied (``OutcomeApplied``) for one
  transaction all agree.
* ``unanimous_commit``: a transaction commits only by a coordinator's decision taken after
  every participant voted yes: a ``Decided`` commit comes only after every participant
  of the transaction told the observer it voted yes (``Voted``), and a participant
  applies commit (``OutcomeApplied``) only for a transaction some coordinator told it
  decided commit.
* ``isolation``: a participant votes yes on a row (``Voted``, so it locks it and holds it
  in doubt) only when every transaction that voted yes on that row there before has had
  its outcome applied there (``OutcomeApplied``): no two undecided transactions hold one
  row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import SECOND, Checker

from .facts import (Decided, LockAcquired, LockReleased, OutcomeApplied, TransactionBegan,
                    Voted)
from .messages import COMMIT, ms


@dataclass(slots=True)
class TxRecord:
    coordinator: str
    rows: dict
    began_at: int  # true µs
    votes: dict = field(default_factory=dict)  # participant -> "yes"/"no"
    outcomes: dict = field(default_factory=dict)  # participant -> outcome
    outcome: str | None = None  # the first outcome any participant applied


@dataclass(slots=True)
class Ledger:
    """The observer's notebook, written by the checker from the facts."""

    txs: dict = field(default_factory=dict)  # tx -> TxRecord, in begin order
    locks: dict = field(default_factory=dict)  # participant -> {row: (tx, since µs)}
    in_doubt: dict = field(default_factory=dict)  # (participant, tx) -> since µs
    undecided: dict = field(default_factory=dict)  # (participant, row) -> tx voted yes
    longest_hold: int = 0
    longest_in_doubt: int = 0
    commits: list = field(default_factory=list)  # per simulated second
    aborts: list = field(default_factory=list)
    committed: int = 0
    aborted: int = 0
    last_commit_at: int | None = None
    violated: dict = field(default_factory=dict)  # tx -> True once reported
    decided: dict = field(default_factory=dict)  # tx -> the outcome a coordinator decided


def bump(buckets: list, at: int) -> None:
    """Count one event in the bucket of the simulated second ``at`` (µs) falls in."""
    second = at // SECOND
    if len(buckets) <= second:
        buckets.extend([0] * (second + 1 - len(buckets)))
    buckets[second] += 1


def per_second(buckets: list, now: int) -> list:
    """The buckets up to ``now``, zeros included."""
    n = now // SECOND + (1 if now % SECOND else 0)
    return buckets[:n] + [0] * (n - len(buckets))


class TwoPCChecker(Checker):
    def check(self, view, node_id):
        if not view.facts:
            return ()
        ledger = view.ghost
        now = view.now
        found = []
        for fact in view.facts:
            kind = type(fact)
            if kind is OutcomeApplied:
                found.extend(self._outcome(ledger, node_id, fact, now))
            elif kind is LockAcquired:
                held = ledger.locks.setdefault(node_id, {})
                current = held.get(fact.row)
                if current is None or current[0] != fact.tx:  # re-locking after a restart
                    held[fact.row] = (fact.tx, now)
            elif kind is LockReleased:
                current = ledger.locks.get(node_id, {}).pop(fact.row, None)
                if current is not None:
                    ledger.longest_hold = max(ledger.longest_hold, now - current[1])
            elif kind is Voted:
                found.extend(self._vote(ledger, node_id, fact, now))
            elif kind is Decided:
                found.extend(self._decided(ledger, fact))
            elif kind is TransactionBegan:
                ledger.txs[fact.tx] = TxRecord(node_id, dict(fact.rows), now)
        return found

    @staticmethod
    def _vote(ledger, participant, fact, now):
        record = ledger.txs.get(fact.tx)
        if record is not None:
            record.votes[participant] = fact.vote
        if fact.vote != "yes":
            return ()
        ledger.in_doubt[(participant, fact.tx)] = now
        before = ledger.undecided.get((participant, fact.row))
        ledger.undecided[(participant, fact.row)] = fact.tx
        if before is not None and before != fact.tx:
            return [("isolation", f"{participant} let {fact.tx} vote yes on row {fact.row} "
                                  f"while {before}, which voted yes on it first, was still "
                                  f"undecided there")]
        return ()

    @staticmethod
    def _decided(ledger, fact):
        ledger.decided.setdefault(fact.tx, fact.outcome)
        record = ledger.txs.get(fact.tx)
        if fact.outcome != COMMIT or record is None:
            return ()
        missing = [p for p in fact.participants if record.votes.get(p) != "yes"]
        if not missing:
            return ()
        said = ", ".join(f"{p} {'voted ' + record.votes[p] if p in record.votes else 'had not voted'}"
                         for p in missing)
        return [("unanimous_commit", f"{record.coordinator} decided commit for {fact.tx}, "
                                     f"but {said}")]

    @staticmethod
    def _outcome(ledger, participant, fact, now):
        found = []
        if fact.outcome == COMMIT and ledger.decided.get(fact.tx) != COMMIT:
            found.append(("unanimous_commit", f"{participant} committed {fact.tx}, which no "
                                              f"coordinator decided to commit"))
        since = ledger.in_doubt.pop((participant, fact.tx), None)
        if since is not None:
            ledger.longest_in_doubt = max(ledger.longest_in_doubt, now - since)
        for key, tx in list(ledger.undecided.items()):
            if tx == fact.tx and key[0] == participant:
                del ledger.undecided[key]
        record = ledger.txs.get(fact.tx)
        if record is None:
            return found
        record.outcomes[participant] = fact.outcome
        if record.outcome is None:
            record.outcome = fact.outcome
            if fact.outcome == COMMIT:
                ledger.committed += 1
                ledger.last_commit_at = now
                bump(ledger.commits, now)
            else:
                ledger.aborted += 1
                bump(ledger.aborts, now)
            return found
        if fact.outcome != record.outcome and fact.tx not in ledger.violated:
            ledger.violated[fact.tx] = True
            committed = [p for p, o in record.outcomes.items() if o == COMMIT]
            aborted = [p for p, o in record.outcomes.items() if o != COMMIT]
            found.append(("atomicity", f"transaction {fact.tx} committed at "
                                       f"{', '.join(committed)} but aborted at "
                                       f"{', '.join(aborted)}"))
        return found

    def metrics(self, view):
        ledger = view.ghost
        now = view.now
        longest_hold = ledger.longest_hold
        for held in ledger.locks.values():
            for _tx, since in held.values():
                longest_hold = max(longest_hold, now - since)
        longest_doubt = ledger.longest_in_doubt
        for since in ledger.in_doubt.values():
            longest_doubt = max(longest_doubt, now - since)
        blocked_now = locks_now = 0
        for p in self.model.participant_ids:
            state = view.nodes[p].state
            blocked_now += sum(len(q) for q in state.queues.values())
            locks_now += len(state.locks)
        return {
            "committed": ledger.committed,
            "aborted": ledger.aborted,
            "commits_per_second": per_second(ledger.commits, now),
            "aborts_per_second": per_second(ledger.aborts, now),
            "blocked_now": blocked_now,
            "locks_held_now": locks_now,
            "in_doubt_now": len(ledger.in_doubt),
            "longest_lock_hold_ms": ms(longest_hold),
            "longest_in_doubt_ms": ms(longest_doubt),
            "last_commit_at_ms": (None if ledger.last_commit_at is None
                                  else ms(ledger.last_commit_at)),
        }
