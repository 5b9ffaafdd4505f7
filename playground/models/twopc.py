"""Two-phase commit: a coordinator, participants with row locks, and the blocking it causes.

Theory of operation
-------------------
One business transaction ("buy an item") writes to several databases: the participants
(``orders``, ``inventory``, ``payments``, ...; the scenario's node count is the number of
participants). A coordinator (the transaction manager; ``coordinators`` of them, each
with its own workload) runs every transaction in two phases:

1. **Prepare.** The coordinator sends ``Prepare(tx, row)`` to every participant. A
   participant takes the row's exclusive lock, checks its constraint (the row's quantity
   is at least 1, and a business rule that refuses with ``abort_probability``), forces a
   prepared record to its durable log and votes ``VoteCommit``; or it votes ``VoteAbort``
   and forgets the transaction. A participant whose row is locked by another transaction
   **queues** the Prepare (FIFO per row) and votes only when the lock is granted, so
   conflicting transactions really stall behind locks. By default the wait is bounded
   only by the coordinator's vote timeout: a transaction still waiting for votes after
   ``vote_timeout_ms`` is aborted, which also breaks distributed deadlocks (two
   transactions each holding a row the other waits for at another participant). With
   ``lock_wait_timeout_ms`` the participant itself votes ``VoteAbort`` after that long
   in the queue; it has not voted yet, so it may still refuse.
2. **Commit or abort.** If every participant voted yes, the coordinator decides commit;
   any no, or the vote timeout, decides abort. The decision is appended to the
   coordinator's durable log *before* any ``Commit``/``Abort`` is sent, and is resent
   every ``decision_retry_ms`` until every participant has sent ``Ack``; then an ``End``
   record closes the transaction in the log.

A prepared participant cannot decide alone: it holds its lock until it hears the
decision. Every ``status_interval_ms`` it asks the coordinator (``StatusRequest``, the
termination protocol). The coordinator answers from its log; a transaction it does not
know and is not still collecting votes for is answered ``Abort`` (**presumed abort**: a
crash loses every undecided transaction, and a restarted coordinator can never decide
commit for one of those). So when the coordinator crashes after Prepare, the prepared
participants stay blocked, their locks held and conflicting work queued behind them,
until it restarts, reads its log, resends the decisions it had logged and answers the
rest with presumed abort.

What survives a crash is each node's ``disk``: the coordinator's log and transaction
counter; a participant's rows, prepared records and outcomes. A restarted participant
re-takes the locks of its prepared transactions and asks again; transactions it had only
queued are lost, and the coordinator's vote timeout aborts them.

Simplified: every transaction touches one row at every participant; locks are exclusive;
the work of a transaction is its Prepare (no separate statements); the coordinator logs
aborts too (presumed abort only needs commits logged).

Invariant
---------
``atomicity``: no transaction commits at one participant and aborts at another. The
participants report each outcome to the observer's ledger (ghost state), and ``check``
compares it with the outcomes already seen for that transaction.

Variant ``participant_unilateral_abort`` (broken): a participant that voted
``VoteCommit`` and has heard nothing for ``in_doubt_timeout_ms`` aborts on its own and
releases its lock. Whenever the coordinator decided commit meanwhile (it was paused,
slow to collect the other votes, or its Commit was lost while it crashed), the
transaction commits elsewhere and aborts here: the checker names the transaction.

Metrics: ``committed``/``aborted`` transactions, ``commits_per_second`` and
``aborts_per_second`` (one bucket per simulated second, for a chart), ``blocked``
(Prepares that had to queue) and ``blocked_now``, ``lock_held_ms.<participant>`` and
``lock_wait_ms`` samples, ``longest_lock_hold_ms`` and ``longest_in_doubt_ms`` (true
time, including locks still held), ``in_doubt_now``, ``last_commit_at_ms``, and the
coordinator's ``decided_commit``, ``decided_abort``, ``vote_timeouts``,
``presumed_aborts``, ``status_requests``; ``lock_wait_timeouts``, ``unilateral_aborts``.

Claims served: C06 (commit only if all vote yes; any no or a timeout rolls everyone
back) and C07 (the coordinator crashes after Prepare: locks held, work stalled until it
recovers from its log).
"""

from __future__ import annotations

import math
from itertools import islice
from dataclasses import dataclass, field
from enum import Enum

from . import register
from .base import MS, SECOND, Invariant, Model, Param, Variant
from .fsm import Transitions

PARTICIPANT_NAMES = ("orders", "inventory", "payments", "shipping", "loyalty", "ledger",
                     "audit", "email")
TX_PREFIXES = "ABCD"  # transaction ids: A1, A2, ... from the first coordinator, B1 ...
RECENT = 20  # finished transactions kept for display
COMMIT = "commit"
ABORT = "abort"


# -- phases and their transition tables ------------------------------------------------
class CoordinatorPhase(Enum):
    """A transaction at its coordinator."""

    PREPARING = "preparing"  # Prepare sent, collecting votes
    COMMITTING = "committing"  # commit logged, waiting for every Ack
    ABORTING = "aborting"  # abort logged, waiting for every Ack
    ENDED = "ended"  # every participant acknowledged; End logged


class ParticipantPhase(Enum):
    """A transaction at one participant."""

    WAITING = "waiting"  # Prepare queued behind another transaction's row lock
    PREPARED = "prepared"  # voted VoteCommit, holds the row lock, cannot decide alone
    COMMITTED = "committed"
    ABORTED = "aborted"


CP, PP = CoordinatorPhase, ParticipantPhase
COORDINATOR_MACHINE = Transitions("2PC coordinator", {
    CP.PREPARING: (CP.COMMITTING, CP.ABORTING),
    CP.COMMITTING: (CP.ENDED,),
    CP.ABORTING: (CP.ENDED,),
})
PARTICIPANT_MACHINE = Transitions("2PC participant", {
    PP.WAITING: (PP.PREPARED, PP.ABORTED),
    PP.PREPARED: (PP.COMMITTED, PP.ABORTED),
})


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


# -- node state ---------------------------------------------------------------------------
@dataclass(slots=True)
class CoordinatorDisk:
    log: list = field(default_factory=list)  # Decision and End records, in order
    decisions: dict = field(default_factory=dict)  # tx -> outcome (an index over log)
    next_tx: int = 0
    boots: int = 0


@dataclass(slots=True)
class CoordinatorTx:
    tx: str
    phase: CoordinatorPhase
    participants: tuple
    rows: dict  # participant -> row (empty for a transaction recovered from the log)
    votes: dict = field(default_factory=dict)  # participant -> True (yes) / False (no)
    acks: list = field(default_factory=list)
    began_at: int = 0


@dataclass(slots=True)
class CoordinatorState:
    disk: CoordinatorDisk = field(default_factory=CoordinatorDisk)
    active: dict = field(default_factory=dict)  # tx -> CoordinatorTx, until End


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


# -- the observer's ledger (ghost state) ---------------------------------------------------
# Handlers report facts; ``check`` stamps them with true time, keeps the ledger and
# compares outcomes. Protocol decisions never read the ledger.
@dataclass(frozen=True, slots=True)
class Began:
    tx: str
    coordinator: str
    rows: tuple  # (participant, row) pairs


@dataclass(frozen=True, slots=True)
class Voted:
    participant: str
    tx: str
    yes: bool


@dataclass(frozen=True, slots=True)
class Locked:
    participant: str
    row: int
    tx: str


@dataclass(frozen=True, slots=True)
class Unlocked:
    participant: str
    row: int
    tx: str


@dataclass(frozen=True, slots=True)
class Finished:
    participant: str
    tx: str
    outcome: str


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
    pending: list = field(default_factory=list)  # facts not yet seen by check
    txs: dict = field(default_factory=dict)  # tx -> TxRecord, in begin order
    locks: dict = field(default_factory=dict)  # participant -> {row: (tx, since µs)}
    in_doubt: dict = field(default_factory=dict)  # (participant, tx) -> since µs
    longest_hold: int = 0
    longest_in_doubt: int = 0
    commits: list = field(default_factory=list)  # per simulated second
    aborts: list = field(default_factory=list)
    committed: int = 0
    aborted: int = 0
    last_commit_at: int | None = None
    violated: dict = field(default_factory=dict)  # tx -> True once reported


def _tell(ctx, fact) -> None:
    if ctx.ghost is not None:
        ctx.ghost.pending.append(fact)


def _bump(buckets: list, at: int) -> None:
    second = at // SECOND
    if len(buckets) <= second:
        buckets.extend([0] * (second + 1 - len(buckets)))
    buckets[second] += 1


def _ms(us: int) -> float:
    return round(us / MS, 3)


_POSINT = {"type": "integer", "minimum": 1, "maximum": 600_000}


@register
class TwoPhaseCommit(Model):
    name = "twopc"
    title = "Two-phase commit"
    invariants = (
        Invariant("atomicity", "No transaction commits at one participant and aborts at "
                               "another."),
    )
    variants = (
        Variant("participant_unilateral_abort", False,
                "A participant that voted VoteCommit aborts on its own after "
                "in_doubt_timeout_ms without a decision (breaks atomicity).", broken=(True,)),
    )
    params = (
        Param("coordinators", 1, "Coordinators, each running its own workload.",
              {"type": "integer", "minimum": 1, "maximum": len(TX_PREFIXES)}),
        Param("tps", 5, "Transactions per second each coordinator starts (0: only client "
                        "commands).", {"type": "number", "minimum": 0, "maximum": 200}),
        Param("rows", 3, "Rows per participant; every transaction locks one row at each "
                         "participant, so few rows mean many conflicts.",
              {"type": "integer", "minimum": 1, "maximum": 50}),
        Param("stock", 1000, "Initial quantity of every row; a transaction takes 1, and a "
                             "row at 0 fails the constraint check (votes no).",
              {"type": "integer", "minimum": 0, "maximum": 1_000_000}),
        Param("abort_probability", 0.05, "Chance that a participant's business rule "
                                         "refuses a transaction (votes no).",
              {"type": "number", "minimum": 0, "maximum": 1}),
        Param("vote_timeout_ms", 1000, "The coordinator aborts a transaction whose votes "
                                       "are not all in after this long.", _POSINT),
        Param("decision_retry_ms", 300, "The coordinator resends an unacknowledged "
                                        "decision this often.", _POSINT),
        Param("status_interval_ms", 500, "A prepared participant asks its coordinator "
                                         "for the outcome this often.", _POSINT),
        Param("lock_wait_timeout_ms", 0, "A participant whose Prepare has waited this "
                                         "long for a row lock votes no (0: it waits until "
                                         "the coordinator's vote timeout aborts it).",
              {"type": "integer", "minimum": 0, "maximum": 600_000}),
        Param("in_doubt_timeout_ms", 1000, "With participant_unilateral_abort: how long a "
                                           "prepared participant waits before aborting "
                                           "on its own.", _POSINT),
    )
    commands = {
        "transaction": {"properties": {
            "rows": {"type": "object", "maxProperties": len(PARTICIPANT_NAMES),
                     "additionalProperties": {"type": "integer", "minimum": 0,
                                              "maximum": 49}}}},
        "out_of_stock": {"properties": {"row": {"type": "integer", "minimum": 0,
                                                "maximum": 49}},
                         "required": ["node", "row"]},
        "restock": {"properties": {"row": {"type": "integer", "minimum": 0, "maximum": 49},
                                   "quantity": {"type": "integer", "minimum": 0,
                                                "maximum": 1_000_000}},
                    "required": ["node", "row"]},
    }
    durable = ("disk",)
    default_nodes = 3
    min_nodes = 2
    max_nodes = len(PARTICIPANT_NAMES)

    def __init__(self, nodes, params, variant):
        super().__init__(nodes, params, variant)
        k = params.get("coordinators", 1)
        self.coordinator_ids = tuple(["coordinator"] + [f"coordinator{i}"
                                                        for i in range(2, k + 1)])
        self.participant_ids = PARTICIPANT_NAMES[:nodes]
        self.prefix = dict(zip(self.coordinator_ids, TX_PREFIXES))
        self.coordinator_handlers = {VoteCommit: self._on_vote, VoteAbort: self._on_vote,
                                     Ack: self._on_ack, StatusRequest: self._on_status}
        self.participant_handlers = {Prepare: self._on_prepare, Commit: self._on_decision,
                                     Abort: self._on_decision}

    # -- the cluster -----------------------------------------------------------------------
    def node_ids(self):
        return [*self.coordinator_ids, *self.participant_ids]

    def peers_of(self, node_id, all_ids):
        if node_id in self.prefix:
            return self.participant_ids
        return self.coordinator_ids

    def init_node(self, node_id):
        if node_id in self.prefix:
            return CoordinatorState()
        return ParticipantState(ParticipantDisk(stock=[self.p["stock"]] * self.p["rows"]))

    def init_ghost(self):
        return Ledger()

    # -- handlers ------------------------------------------------------------------------
    def on_start(self, state, ctx):
        """Boot, or recover from the durable log after a crash."""
        if type(state) is CoordinatorState:
            self._recover_coordinator(state, ctx)
        else:
            self._recover_participant(state, ctx)

    def on_message(self, state, msg, src, ctx):
        """Dispatch on the message class, by the receiving node's role."""
        if type(state) is CoordinatorState:
            handler = self.coordinator_handlers.get(type(msg))
        else:
            handler = self.participant_handlers.get(type(msg))
        if handler is None:
            raise TypeError(f"{ctx.node} cannot handle {type(msg).__name__}")
        handler(state, msg, src, ctx)

    def on_timer(self, state, name, ctx):
        """workload, resend, votes:<tx> at a coordinator; status:<tx>, give_up:<tx>,
        lock_wait:<tx> at a participant."""
        kind, _, tx = name.partition(":")
        if kind == "workload":
            self._begin(state, {}, ctx)
            self._arm_workload(ctx)
        elif kind == "resend":
            self._resend(state, ctx)
        elif kind == "votes":
            entry = state.active.get(tx)
            if entry is not None and entry.phase is CP.PREPARING:
                ctx.count("vote_timeouts")
                missing = [p for p in entry.participants if p not in entry.votes]
                self._decide(state, entry, ABORT, ctx, f"vote timeout (no vote from "
                                                       f"{', '.join(missing)})")
        elif kind == "status":
            self._ask(state, tx, ctx)
        elif kind == "give_up":
            self._give_up(state, tx, ctx)
        elif kind == "lock_wait":
            self._lock_wait_expired(state, tx, ctx)
        else:
            raise ValueError(f"unknown timer {name!r}")

    def on_command(self, state, command, ctx):
        """A client starts a transaction, or empties or refills a row."""
        kind = command["type"]
        is_coordinator = type(state) is CoordinatorState
        if kind == "transaction":
            if not is_coordinator:
                ctx.note(f"transaction refused: {ctx.node} is not a coordinator")
                return
            rows = dict(command.get("rows", {}))
            bad = [p for p, r in rows.items()
                   if p not in self.participant_ids or r >= self.p["rows"]]
            if bad:
                ctx.note(f"transaction refused: no such participant or row for "
                         f"{', '.join(bad)}")
                return
            self._begin(state, rows, ctx)
            return
        if is_coordinator:
            ctx.note(f"{kind} refused: {ctx.node} holds no rows")
            return
        row = command["row"]
        if row >= len(state.disk.stock):
            ctx.note(f"{kind} refused: {ctx.node} has rows 0..{len(state.disk.stock) - 1}")
            return
        quantity = 0 if kind == "out_of_stock" else command.get("quantity", self.p["stock"])
        state.disk.stock[row] = quantity
        ctx.note(f"row {row} now holds {quantity}", row=row, quantity=quantity)

    def command_target(self, command, view):
        if command["type"] == "transaction":
            return command.get("node", self.coordinator_ids[0])
        return command["node"]

    # -- coordinator -----------------------------------------------------------------------
    def _recover_coordinator(self, state, ctx):
        disk = state.disk
        disk.boots += 1
        if disk.boots > 1:
            ended = {r.tx for r in disk.log if type(r) is End}
            unfinished = [r for r in disk.log if type(r) is Decision and r.tx not in ended]
            for record in unfinished:
                phase = CP.COMMITTING if record.outcome == COMMIT else CP.ABORTING
                state.active[record.tx] = CoordinatorTx(record.tx, phase, record.participants,
                                                        {}, began_at=ctx.now)
            ctx.note(f"restarted: log holds {len(disk.decisions)} decisions, "
                     f"{len(unfinished)} to finish; undecided transactions are presumed "
                     f"aborted", unfinished=[r.tx for r in unfinished])
            if unfinished:
                self._resend(state, ctx)
        self._arm_workload(ctx)

    def _arm_workload(self, ctx):
        tps = self.p["tps"]
        if tps > 0:
            gap = -math.log(1.0 - ctx.rng.random()) / tps  # exponential inter-arrival
            ctx.set_timer("workload", max(1, int(gap * SECOND)))

    def _begin(self, state, rows, ctx):
        """Start a transaction: send Prepare to every participant, arm the vote timeout."""
        state.disk.next_tx += 1
        tx = f"{self.prefix[ctx.node]}{state.disk.next_tx}"
        last = self.p["rows"] - 1
        rows = {p: rows[p] if p in rows else ctx.rng.randint(0, last) for p in ctx.peers}
        entry = CoordinatorTx(tx, CP.PREPARING, tuple(ctx.peers), rows, began_at=ctx.now)
        state.active[tx] = entry
        _tell(ctx, Began(tx, ctx.node, tuple(rows.items())))
        for p in entry.participants:
            ctx.send(p, Prepare(tx, rows[p]))
        ctx.set_timer(f"votes:{tx}", self.p["vote_timeout_ms"] * MS)
        ctx.note(f"{tx}: Prepare sent", tx=tx, rows=rows)

    def _on_vote(self, state, msg, src, ctx):
        """VoteCommit or VoteAbort: any no aborts; all yes commits."""
        entry = state.active.get(msg.tx)
        if entry is None:
            if msg.tx not in state.disk.decisions:
                self._presume_abort(msg.tx, src, ctx)
            return
        if entry.phase is not CP.PREPARING:
            return  # a late vote: the decision is already out and is being resent
        yes = type(msg) is VoteCommit
        entry.votes[src] = yes
        if not yes:
            self._decide(state, entry, ABORT, ctx, f"{src} voted no ({msg.reason})")
        elif all(entry.votes.get(p) for p in entry.participants):
            self._decide(state, entry, COMMIT, ctx, "every participant voted yes")

    def _decide(self, state, entry, outcome, ctx, reason):
        """Force the decision to the log, then send it."""
        record = Decision(entry.tx, outcome, entry.participants)
        state.disk.log.append(record)
        state.disk.decisions[entry.tx] = outcome
        entry.phase = COORDINATOR_MACHINE.move(
            entry.phase, CP.COMMITTING if outcome == COMMIT else CP.ABORTING)
        ctx.cancel_timer(f"votes:{entry.tx}")
        message = DECISION_MESSAGE[outcome](entry.tx)
        for p in entry.participants:
            ctx.send(p, message)
        if not ctx.timer_armed("resend"):
            ctx.set_timer("resend", self.p["decision_retry_ms"] * MS)
        ctx.count(f"decided_{outcome}")
        ctx.observe("decision_ms", _ms(ctx.now - entry.began_at))
        ctx.note(f"{entry.tx}: decided {outcome} ({reason}); logged, then sent",
                 tx=entry.tx, outcome=outcome)

    def _on_ack(self, state, msg, src, ctx):
        """A participant applied the decision; when all have, log End and forget."""
        entry = state.active.get(msg.tx)
        if entry is None or entry.phase is CP.PREPARING or src in entry.acks:
            return
        entry.acks.append(src)
        if len(entry.acks) == len(entry.participants):
            entry.phase = COORDINATOR_MACHINE.move(entry.phase, CP.ENDED)
            state.disk.log.append(End(msg.tx))
            del state.active[msg.tx]

    def _on_status(self, state, msg, src, ctx):
        """Termination protocol: answer from the log; unknown means presumed abort."""
        ctx.count("status_requests")
        outcome = state.disk.decisions.get(msg.tx)
        if outcome is not None:
            ctx.send(src, DECISION_MESSAGE[outcome](msg.tx))
        elif msg.tx not in state.active:
            self._presume_abort(msg.tx, src, ctx)
        # else: still collecting votes; the participant asks again later

    def _presume_abort(self, tx, src, ctx):
        ctx.count("presumed_aborts")
        ctx.send(src, Abort(tx))
        ctx.note(f"{tx}: not in the log, presumed aborted", tx=tx, to=src)

    def _resend(self, state, ctx):
        """Resend every logged decision some participant has not acknowledged."""
        waiting = False
        for entry in state.active.values():
            if entry.phase is CP.COMMITTING or entry.phase is CP.ABORTING:
                outcome = COMMIT if entry.phase is CP.COMMITTING else ABORT
                for p in entry.participants:
                    if p not in entry.acks:
                        ctx.send(p, DECISION_MESSAGE[outcome](entry.tx))
                        waiting = True
        if waiting:
            ctx.set_timer("resend", self.p["decision_retry_ms"] * MS)

    # -- participant -----------------------------------------------------------------------
    def _recover_participant(self, state, ctx):
        """Re-take the locks of prepared transactions and ask for their outcome."""
        for record in state.disk.prepared.values():
            entry = ParticipantTx(record.tx, record.coordinator, record.row, PP.PREPARED,
                                  record.locked_at, "yes", record.locked_at)
            state.txs[record.tx] = entry
            state.locks[record.row] = record.tx
            _tell(ctx, Locked(ctx.node, record.row, record.tx))
            self._arm_in_doubt(record.tx, ctx, ctx.now - record.locked_at)
        if state.disk.prepared:
            ctx.note(f"recovered {len(state.disk.prepared)} prepared transactions, "
                     f"in doubt", txs=list(state.disk.prepared))

    def _on_prepare(self, state, msg, src, ctx):
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
            self._grant(state, entry, ctx)
            return
        state.queues.setdefault(msg.row, []).append(tx)
        ctx.count("blocked")
        if self.p["lock_wait_timeout_ms"]:
            ctx.set_timer(f"lock_wait:{tx}", self.p["lock_wait_timeout_ms"] * MS)
        ctx.note(f"{tx} waits for row {msg.row} (locked by {holder})", tx=tx,
                 row=msg.row, holder=holder)

    def _grant(self, state, entry, ctx) -> bool:
        """The lock on the entry's row is free: check the constraint and vote.

        Returns whether the transaction kept the lock (voted yes)."""
        tx, row = entry.tx, entry.row
        waited = ctx.now - entry.queued_at
        if waited > 0:
            ctx.observe("lock_wait_ms", _ms(waited))
        ctx.cancel_timer(f"lock_wait:{tx}")
        p = self.p["abort_probability"]
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
            _tell(ctx, Voted(ctx.node, tx, False))
            _tell(ctx, Finished(ctx.node, tx, ABORT))
            ctx.note(f"{tx}: VoteAbort ({reason})", tx=tx)
            self._prune(state)
            return False
        state.locks[row] = tx
        entry.locked_at = ctx.now
        state.disk.prepared[tx] = PreparedRecord(tx, row, entry.coordinator, ctx.now)
        entry.phase = PARTICIPANT_MACHINE.move(entry.phase, PP.PREPARED)
        entry.vote = "yes"
        ctx.send(entry.coordinator, VoteCommit(tx))
        _tell(ctx, Locked(ctx.node, row, tx))
        _tell(ctx, Voted(ctx.node, tx, True))
        self._arm_in_doubt(tx, ctx, 0)
        ctx.note(f"{tx}: locked row {row}, prepared, VoteCommit", tx=tx, row=row)
        return True

    def _arm_in_doubt(self, tx, ctx, elapsed):
        ctx.set_timer(f"status:{tx}", self.p["status_interval_ms"] * MS)
        if self.v["participant_unilateral_abort"]:
            left = self.p["in_doubt_timeout_ms"] * MS - elapsed
            ctx.set_timer(f"give_up:{tx}", max(1, left))

    def _on_decision(self, state, msg, src, ctx):
        """Commit or Abort from the coordinator: apply it (once) and acknowledge."""
        tx = msg.tx
        outcome = COMMIT if type(msg) is Commit else ABORT
        entry = state.txs.get(tx)
        if entry is not None and entry.phase is PP.PREPARED:
            self._finish(state, entry, outcome, ctx)
        elif entry is not None and entry.phase is PP.WAITING:
            if outcome == COMMIT:
                # a Commit for a transaction that never voted: the table refuses it
                PARTICIPANT_MACHINE.move(entry.phase, PP.COMMITTED)
            self._abort_waiting(state, entry, ctx, "aborted while waiting for row "
                                                   f"{entry.row}")
        elif state.disk.outcomes.get(tx, outcome) != outcome:
            ctx.note(f"{tx}: {type(msg).__name__} arrived, but it already "
                     f"{'committed' if outcome == ABORT else 'aborted'}", tx=tx)
        elif tx not in state.disk.outcomes:
            if outcome == COMMIT:
                raise RuntimeError(f"{ctx.node}: Commit for {tx}, which it never prepared")
            state.disk.outcomes[tx] = ABORT  # a Prepare it lost in a crash, or never got
            _tell(ctx, Finished(ctx.node, tx, ABORT))
        ctx.send(src, Ack(tx))

    def _abort_waiting(self, state, entry, ctx, why):
        """Take a transaction that never voted out of its row's queue and abort it."""
        queue = state.queues[entry.row]
        queue.remove(entry.tx)
        if not queue:
            del state.queues[entry.row]
        ctx.cancel_timer(f"lock_wait:{entry.tx}")
        entry.phase = PARTICIPANT_MACHINE.move(entry.phase, PP.ABORTED)
        state.disk.outcomes[entry.tx] = ABORT
        _tell(ctx, Finished(ctx.node, entry.tx, ABORT))
        ctx.note(f"{entry.tx}: {why}", tx=entry.tx)
        self._prune(state)

    def _lock_wait_expired(self, state, tx, ctx):
        """lock_wait_timeout_ms passed in the queue: vote no (it has not voted yet)."""
        entry = state.txs.get(tx)
        if entry is None or entry.phase is not PP.WAITING:
            return
        ctx.count("lock_wait_timeouts")
        reason = f"waited {self.p['lock_wait_timeout_ms']} ms for row {entry.row}"
        entry.vote = "no"
        ctx.send(entry.coordinator, VoteAbort(tx, reason))
        _tell(ctx, Voted(ctx.node, tx, False))
        self._abort_waiting(state, entry, ctx, f"VoteAbort ({reason})")

    def _finish(self, state, entry, outcome, ctx):
        """Apply the outcome of a prepared transaction and release its lock."""
        tx, row = entry.tx, entry.row
        entry.phase = PARTICIPANT_MACHINE.move(
            entry.phase, PP.COMMITTED if outcome == COMMIT else PP.ABORTED)
        if outcome == COMMIT:
            state.disk.stock[row] -= 1
        state.disk.outcomes[tx] = outcome
        del state.disk.prepared[tx]
        ctx.cancel_timer(f"status:{tx}")
        ctx.cancel_timer(f"give_up:{tx}")
        held = _ms(ctx.now - entry.locked_at)
        ctx.observe(f"lock_held_ms.{ctx.node}", held)
        ctx.observe("in_doubt_ms", held)
        _tell(ctx, Finished(ctx.node, tx, outcome))
        _tell(ctx, Unlocked(ctx.node, row, tx))
        ctx.note(f"{tx}: {'committed' if outcome == COMMIT else 'aborted'}, row {row} "
                 f"unlocked after {held} ms", tx=tx, outcome=outcome)
        self._release(state, row, ctx)
        self._prune(state)

    def _release(self, state, row, ctx):
        """Free a row's lock and grant it to the queue, in order."""
        del state.locks[row]
        queue = state.queues.get(row)
        while queue:
            entry = state.txs[queue.pop(0)]
            if self._grant(state, entry, ctx):
                break
        if queue is not None and not queue:
            del state.queues[row]

    def _ask(self, state, tx, ctx):
        """In doubt: ask the coordinator for the outcome, again and again."""
        entry = state.txs.get(tx)
        if entry is None or entry.phase is not PP.PREPARED:
            return
        ctx.send(entry.coordinator, StatusRequest(tx))
        ctx.set_timer(f"status:{tx}", self.p["status_interval_ms"] * MS)

    def _give_up(self, state, tx, ctx):
        """Broken variant: abort a prepared transaction without the coordinator."""
        entry = state.txs.get(tx)
        if entry is None or entry.phase is not PP.PREPARED:
            return
        ctx.count("unilateral_aborts")
        ctx.note(f"{tx}: no decision after {self.p['in_doubt_timeout_ms']} ms, aborts on "
                 f"its own", tx=tx)
        self._finish(state, entry, ABORT, ctx)

    @staticmethod
    def _prune(state):
        finished = [tx for tx, e in state.txs.items()
                    if e.phase is PP.COMMITTED or e.phase is PP.ABORTED]
        for tx in finished[:-RECENT] if len(finished) > RECENT else ():
            del state.txs[tx]

    # -- checking --------------------------------------------------------------------------
    def check(self, view, node_id):
        ledger = view.ghost
        if not ledger.pending:
            return ()
        now = view.now
        found = []
        for fact in ledger.pending:
            kind = type(fact)
            if kind is Finished:
                found.extend(self._record_outcome(ledger, fact, now))
            elif kind is Locked:
                held = ledger.locks.setdefault(fact.participant, {})
                current = held.get(fact.row)
                if current is None or current[0] != fact.tx:  # re-locking after a restart
                    held[fact.row] = (fact.tx, now)
            elif kind is Unlocked:
                tx, since = ledger.locks[fact.participant].pop(fact.row)
                ledger.longest_hold = max(ledger.longest_hold, now - since)
            elif kind is Voted:
                record = ledger.txs.get(fact.tx)
                if record is not None:
                    record.votes[fact.participant] = "yes" if fact.yes else "no"
                if fact.yes:
                    ledger.in_doubt[(fact.participant, fact.tx)] = now
            elif kind is Began:
                ledger.txs[fact.tx] = TxRecord(fact.coordinator, dict(fact.rows), now)
        ledger.pending.clear()
        return found

    @staticmethod
    def _record_outcome(ledger, fact, now):
        since = ledger.in_doubt.pop((fact.participant, fact.tx), None)
        if since is not None:
            ledger.longest_in_doubt = max(ledger.longest_in_doubt, now - since)
        record = ledger.txs.get(fact.tx)
        if record is None:
            return ()
        record.outcomes[fact.participant] = fact.outcome
        if record.outcome is None:
            record.outcome = fact.outcome
            if fact.outcome == COMMIT:
                ledger.committed += 1
                ledger.last_commit_at = now
                _bump(ledger.commits, now)
            else:
                ledger.aborted += 1
                _bump(ledger.aborts, now)
            return ()
        if fact.outcome != record.outcome and fact.tx not in ledger.violated:
            ledger.violated[fact.tx] = True
            committed = [p for p, o in record.outcomes.items() if o == COMMIT]
            aborted = [p for p, o in record.outcomes.items() if o == ABORT]
            return [("atomicity", f"transaction {fact.tx} committed at "
                                  f"{', '.join(committed)} but aborted at "
                                  f"{', '.join(aborted)}")]
        return ()

    # -- metrics and display ------------------------------------------------------------
    def _buckets(self, buckets, now):
        n = now // SECOND + (1 if now % SECOND else 0)
        return buckets[:n] + [0] * (n - len(buckets))

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
        for p in self.participant_ids:
            state = view.nodes[p].state
            blocked_now += sum(len(q) for q in state.queues.values())
            locks_now += len(state.locks)
        return {
            "committed": ledger.committed,
            "aborted": ledger.aborted,
            "commits_per_second": self._buckets(ledger.commits, now),
            "aborts_per_second": self._buckets(ledger.aborts, now),
            "blocked_now": blocked_now,
            "locks_held_now": locks_now,
            "in_doubt_now": len(ledger.in_doubt),
            "longest_lock_hold_ms": _ms(longest_hold),
            "longest_in_doubt_ms": _ms(longest_doubt),
            "last_commit_at_ms": (None if ledger.last_commit_at is None
                                  else _ms(ledger.last_commit_at)),
        }

    def role(self, state):
        if type(state) is CoordinatorState:
            phases = [e.phase for e in state.active.values()]
            if CP.PREPARING in phases:
                return "collecting votes"
            return "sending decisions" if phases else "idle"
        if state.disk.prepared:
            return "in doubt"
        return "blocked" if state.queues else "idle"

    def summary(self, node_id, state):
        if type(state) is CoordinatorState:
            return {
                "kind": "coordinator",
                "phase": self.role(state),
                "active": [{"tx": e.tx, "phase": e.phase.value,
                            "votes": {p: "yes" if v else "no" for p, v in e.votes.items()},
                            "acks": list(e.acks)}
                           for e in list(state.active.values())[-RECENT:]],
                "log": [self._log_json(r) for r in state.disk.log[-8:]],
                "log_length": len(state.disk.log),
            }
        return {
            "kind": "participant",
            "phase": self.role(state),
            "locks": [{"row": row, "tx": tx, "since_ms": _ms(state.txs[tx].locked_at)}
                      for row, tx in sorted(state.locks.items())],
            "waiting": {str(row): list(q) for row, q in sorted(state.queues.items())},
            "votes": {tx: e.vote for tx, e in state.txs.items() if e.vote is not None},
            "in_doubt": list(state.disk.prepared),
            "stock": list(state.disk.stock),
        }

    @staticmethod
    def _log_json(record):
        if type(record) is Decision:
            return {"record": "decision", "tx": record.tx, "outcome": record.outcome}
        return {"record": "end", "tx": record.tx}

    def panel(self, view):
        ledger = view.ghost
        now = view.now
        transactions = []
        recent = list(islice(reversed(ledger.txs), RECENT))
        for tx in reversed(recent):
            record = ledger.txs[tx]
            entry = None
            if view.alive(record.coordinator):
                entry = view.nodes[record.coordinator].state.active.get(tx)
            if tx in ledger.violated:
                status = "atomicity violated"
            elif record.outcome is not None:
                status = "committed" if record.outcome == COMMIT else "aborted"
            elif entry is not None:
                status = entry.phase.value
            else:
                status = "undecided; coordinator lost it"
            transactions.append({"tx": tx, "coordinator": record.coordinator,
                                 "rows": record.rows, "status": status,
                                 "votes": dict(record.votes),
                                 "outcomes": dict(record.outcomes),
                                 "began_ms": _ms(record.began_at)})
        locks = [{"participant": p, "row": row, "tx": tx, "since_ms": _ms(since),
                  "held_ms": _ms(now - since)}
                 for p in self.participant_ids
                 for row, (tx, since) in sorted(ledger.locks.get(p, {}).items())]
        queues = [{"participant": p, "row": row, "waiting": list(q)}
                  for p in self.participant_ids
                  for row, q in sorted(view.nodes[p].state.queues.items())]
        return {"transactions": transactions, "locks": locks, "queues": queues,
                "commits_per_second": self._buckets(ledger.commits, now)}
