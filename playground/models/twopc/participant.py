"""A participant (Gray's resource manager): row locks, the vote, and the wait in doubt.

A transaction's phases at one participant form a transition table
(``PARTICIPANT_MACHINE``): waiting in a row's queue, prepared (voted yes, holding the
lock, unable to decide alone), then committed or aborted. A participant that voted yes
keeps its lock until it hears the decision, asking its coordinator every
``status_interval_ms``; only the broken ``participant_unilateral_abort`` gives up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from playground.models.base import MS, Role, Transitions, command, on, timer

from .facts import LockAcquired, LockReleased, OutcomeApplied, ResolvedByHand, Voted
from .messages import (ABORT, COMMIT, RECENT, Abort, Ack, Commit, Prepare, PreparedRecord,
                       StatusRequest, TwoPCTimer, VoteAbort, VoteCommit, give_up_timer,
                       lock_wait_timer, ms, status_timer)


class ParticipantPhase(Enum):
    """A transaction at one participant."""

    WAITING = "waiting"  # Prepare queued behind another transaction's row lock
    PREPARED = "prepared"  # voted VoteCommit, holds the row lock, cannot decide alone
    COMMITTED = "committed"
    ABORTED = "aborted"


PP = ParticipantPhase
PARTICIPANT_MACHINE = Transitions("2PC participant", {
    PP.WAITING: (PP.PREPARED, PP.ABORTED),
    PP.PREPARED: (PP.COMMITTED, PP.ABORTED),
})


@dataclass(slots=True)
class ParticipantDisk:
    stock: list = field(default_factory=list)  # row -> quantity available
    prepared: dict = field(default_factory=dict)  # tx -> PreparedRecord, until decided
    outcomes: dict = field(default_factory=dict)  # tx -> COMMIT / ABORT


@dataclass(slots=True)
class ParticipantTx:
    tx: str
    coordinator: str
    row: int
    phase: ParticipantPhase
    queued_at: int
    vote: str | None = None  # "yes" / "no"
    locked_at: int | None = None


@dataclass(slots=True)
class ParticipantState:
    disk: ParticipantDisk = field(default_factory=ParticipantDisk)
    txs: dict = field(default_factory=dict)  # tx -> ParticipantTx (live and recent)
    locks: dict = field(default_factory=dict)  # row -> tx holding its lock
    queues: dict = field(default_factory=dict)  # row -> [tx] waiting, FIFO


class Participant(Role):
    name = "participant"
    State = ParticipantState
    durable = ("disk",)

    def start(self, state, ctx):
        """Re-take the locks of prepared transactions and ask for their outcome."""
        for record in state.disk.prepared.values():
            entry = ParticipantTx(record.tx, record.coordinator, record.row, PP.PREPARED,
                                  record.locked_at, "yes", record.locked_at)
            state.txs[record.tx] = entry
            state.locks[record.row] = record.tx
            ctx.tell(LockAcquired(record.tx, record.row))
            self.arm_in_doubt(record.tx, ctx, ctx.now - record.locked_at)
        if state.disk.prepared:
            ctx.note(f"recovered {len(state.disk.prepared)} prepared transactions, "
                     f"in doubt", txs=list(state.disk.prepared))

    # -- phase 1: the vote -----------------------------------------------------------------
    @on(Prepare)
    def prepare(self, state, msg, src, ctx):
        """Take the row lock and vote, or queue behind the transaction holding it."""
        tx = msg.tx
        done = state.disk.outcomes.get(tx)
        if done is not None:
            if done == ABORT:
                ctx.send(src, VoteAbort(tx, "already aborted"))
            return
        entry = state.txs.get(tx)
        if entry is not None:  # a duplicate Prepare
            if entry.phase is PP.PREPARED:
                ctx.send(src, VoteCommit(tx))
            return
        entry = ParticipantTx(tx, src, msg.row, PP.WAITING, ctx.now)
        state.txs[tx] = entry
        holder = state.locks.get(msg.row)
        if holder is None and not state.queues.get(msg.row):
            self.grant(state, entry, ctx)
            return
        state.queues.setdefault(msg.row, []).append(tx)
        ctx.count("blocked")
        if self.model.p["lock_wait_timeout_ms"]:
            ctx.set_timer(lock_wait_timer(tx), self.model.p["lock_wait_timeout_ms"] * MS)
        ctx.note(f"{tx} waits for row {msg.row} (locked by {holder})", tx=tx,
                 row=msg.row, holder=holder)

    def grant(self, state, entry, ctx) -> bool:
        """The lock on the entry's row is free: check the constraint and vote.

        Returns whether the transaction kept the lock (voted yes)."""
        tx, row = entry.tx, entry.row
        waited = ctx.now - entry.queued_at
        if waited > 0:
            ctx.observe("lock_wait_ms", ms(waited))
        ctx.cancel_timer(lock_wait_timer(tx))
        p = self.model.p["abort_probability"]
        if state.disk.stock[row] < 1:
            reason = f"row {row} out of stock"
        elif p > 0 and ctx.rng.random() < p:
            reason = "refused by a business rule"
        else:
            reason = None
        if reason is not None:
            entry.phase = PARTICIPANT_MACHINE.move(entry.phase, PP.ABORTED)
            entry.vote = "no"
            state.disk.outcomes[tx] = ABORT
            ctx.send(entry.coordinator, VoteAbort(tx, reason))
            ctx.tell(Voted(tx, row, "no"))
            ctx.tell(OutcomeApplied(tx, ABORT))
            ctx.note(f"{tx}: VoteAbort ({reason})", tx=tx)
            self.prune(state)
            return False
        state.locks[row] = tx
        entry.locked_at = ctx.now
        state.disk.prepared[tx] = PreparedRecord(tx, row, entry.coordinator, ctx.now)
        entry.phase = PARTICIPANT_MACHINE.move(entry.phase, PP.PREPARED)
        entry.vote = "yes"
        ctx.send(entry.coordinator, VoteCommit(tx))
        ctx.tell(LockAcquired(tx, row))
        ctx.tell(Voted(tx, row, "yes"))
        self.arm_in_doubt(tx, ctx, 0)
        ctx.note(f"{tx}: locked row {row}, prepared, VoteCommit", tx=tx, row=row)
        return True

    def arm_in_doubt(self, tx, ctx, elapsed):
        ctx.set_timer(status_timer(tx), self.model.p["status_interval_ms"] * MS)
        if self.model.v["participant_unilateral_abort"]:
            left = self.model.p["in_doubt_timeout_ms"] * MS - elapsed
            ctx.set_timer(give_up_timer(tx), max(1, left))

    @timer(TwoPCTimer.LOCK_WAIT)
    def lock_wait_expired(self, state, name, ctx):
        """lock_wait_timeout_ms passed in the queue: vote no (it has not voted yet)."""
        tx = name.arg
        entry = state.txs.get(tx)
        if entry is None or entry.phase is not PP.WAITING:
            return
        ctx.count("lock_wait_timeouts")
        reason = f"waited {self.model.p['lock_wait_timeout_ms']} ms for row {entry.row}"
        entry.vote = "no"
        ctx.send(entry.coordinator, VoteAbort(tx, reason))
        ctx.tell(Voted(tx, entry.row, "no"))
        self.abort_waiting(state, entry, ctx, f"VoteAbort ({reason})")

    # -- phase 2: the decision ---------------------------------------------------------------
    @on(Commit, Abort)
    def decision(self, state, msg, src, ctx):
        """Commit or Abort from the coordinator: apply it (once) and acknowledge."""
        tx = msg.tx
        outcome = COMMIT if type(msg) is Commit else ABORT
        entry = state.txs.get(tx)
        if entry is not None and entry.phase is PP.PREPARED:
            self.finish(state, entry, outcome, ctx)
        elif entry is not None and entry.phase is PP.WAITING:
            why = f"aborted while waiting for row {entry.row}"
            if outcome == COMMIT:  # a protocol error: it never voted; it cannot commit
                why = f"Commit refused while waiting for row {entry.row} (never voted yes)"
            self.abort_waiting(state, entry, ctx, why)
        elif state.disk.outcomes.get(tx, outcome) != outcome:
            ctx.note(f"{tx}: {type(msg).__name__} arrived, but it already "
                     f"{'committed' if outcome == ABORT else 'aborted'}", tx=tx)
        elif tx not in state.disk.outcomes:
            # a Prepare it lost in a crash, or never got; a Commit here is a protocol error:
            # it never prepared, so it cannot commit
            state.disk.outcomes[tx] = ABORT
            ctx.tell(OutcomeApplied(tx, ABORT))
            if outcome == COMMIT:
                ctx.note(f"{tx}: Commit refused, never prepared here", tx=tx)
        ctx.send(src, Ack(tx))

    def abort_waiting(self, state, entry, ctx, why):
        """Take a transaction that never voted out of its row's queue and abort it."""
        queue = state.queues[entry.row]
        queue.remove(entry.tx)
        if not queue:
            del state.queues[entry.row]
        ctx.cancel_timer(lock_wait_timer(entry.tx))
        entry.phase = PARTICIPANT_MACHINE.move(entry.phase, PP.ABORTED)
        state.disk.outcomes[entry.tx] = ABORT
        ctx.tell(OutcomeApplied(entry.tx, ABORT))
        ctx.note(f"{entry.tx}: {why}", tx=entry.tx)
        self.prune(state)

    def finish(self, state, entry, outcome, ctx):
        """Apply the outcome of a prepared transaction and release its lock."""
        tx, row = entry.tx, entry.row
        entry.phase = PARTICIPANT_MACHINE.move(
            entry.phase, PP.COMMITTED if outcome == COMMIT else PP.ABORTED)
        if outcome == COMMIT:
            state.disk.stock[row] -= 1
        state.disk.outcomes[tx] = outcome
        del state.disk.prepared[tx]
        ctx.cancel_timer(status_timer(tx))
        ctx.cancel_timer(give_up_timer(tx))
        held = ms(ctx.now - entry.locked_at)
        ctx.observe(f"lock_held_ms.{ctx.node}", held)
        ctx.observe("in_doubt_ms", held)
        ctx.tell(OutcomeApplied(tx, outcome))
        ctx.tell(LockReleased(tx, row))
        ctx.note(f"{tx}: {'committed' if outcome == COMMIT else 'aborted'}, row {row} "
                 f"unlocked after {held} ms", tx=tx, outcome=outcome)
        self.release(state, row, ctx)
        self.prune(state)

    def release(self, state, row, ctx):
        """Free a row's lock and grant it to the queue, in order."""
        del state.locks[row]
        queue = state.queues.get(row)
        while queue:
            entry = state.txs[queue.pop(0)]
            if self.grant(state, entry, ctx):
                break
        if queue is not None and not queue:
            del state.queues[row]

    # -- in doubt ---------------------------------------------------------------------------
    @timer(TwoPCTimer.STATUS)
    def ask(self, state, name, ctx):
        """In doubt: ask the coordinator for the outcome, again and again."""
        entry = state.txs.get(name.arg)
        if entry is None or entry.phase is not PP.PREPARED:
            return
        ctx.send(entry.coordinator, StatusRequest(name.arg))
        ctx.set_timer(status_timer(name.arg), self.model.p["status_interval_ms"] * MS)

    @timer(TwoPCTimer.GIVE_UP)
    def give_up(self, state, name, ctx):
        """Broken variant: abort a prepared transaction without the coordinator."""
        entry = state.txs.get(name.arg)
        if entry is None or entry.phase is not PP.PREPARED:
            return
        ctx.count("unilateral_aborts")
        ctx.note(f"{name.arg}: no decision after {self.model.p['in_doubt_timeout_ms']} ms, "
                 f"aborts on its own", tx=name.arg)
        self.finish(state, entry, ABORT, ctx)

    @staticmethod
    def prune(state):
        finished = [tx for tx, e in state.txs.items()
                    if e.phase is PP.COMMITTED or e.phase is PP.ABORTED]
        for tx in finished[:-RECENT] if len(finished) > RECENT else ():
            del state.txs[tx]

    # -- by hand ------------------------------------------------------------------------------
    @command("resolve")
    def resolve(self, state, cmd, ctx):
        """An operator decides every transaction in doubt here by hand (a heuristic
        decision): the lock is released, whatever the coordinator decided."""
        outcome = cmd["outcome"]
        doubtful = list(state.disk.prepared)
        if not doubtful:
            ctx.note(f"resolve: nothing is in doubt at {ctx.node}")
            return
        for tx in doubtful:
            ctx.count("heuristic_decisions")
            ctx.tell(ResolvedByHand(tx, outcome))
            ctx.note(f"{tx}: resolved by hand, {outcome}", tx=tx, outcome=outcome)
            self.finish(state, state.txs[tx], outcome, ctx)

    # -- client commands ---------------------------------------------------------------------
    @command("transaction")
    def transaction(self, state, cmd, ctx):
        ctx.note(f"transaction refused: {ctx.node} is not a coordinator")

    @command("out_of_stock", "restock")
    def stock(self, state, cmd, ctx):
        """Empty a row, or refill it."""
        row = cmd["row"]
        if row >= len(state.disk.stock):
            ctx.note(f"{cmd['type']} refused: {ctx.node} has rows "
                     f"0..{len(state.disk.stock) - 1}")
            return
        quantity = (0 if cmd["type"] == "out_of_stock"
                    else cmd.get("quantity", self.model.p["stock"]))
        state.disk.stock[row] = quantity
        ctx.note(f"row {row} now holds {quantity}", row=row, quantity=quantity)

    # -- display ----------------------------------------------------------------------------
    def label(self, state):
        if state.disk.prepared:
            return "in doubt"
        return "blocked" if state.queues else "idle"

    def summary(self, node_id, state):
        return {
            "kind": "participant",
            "phase": self.label(state),
            "locks": [{"row": row, "tx": tx, "since_ms": ms(state.txs[tx].locked_at)}
                      for row, tx in sorted(state.locks.items())],
            "waiting": {str(row): list(q) for row, q in sorted(state.queues.items())},
            "votes": {tx: e.vote for tx, e in state.txs.items() if e.vote is not None},
            "in_doubt": list(state.disk.prepared),
            "stock": list(state.disk.stock),
        }
