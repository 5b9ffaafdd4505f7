"""Two-phase commit: a coordinator, participants with row locks, and the blocking it causes.

Theory of operation
-------------------
One business transaction ("buy an item") writes to several databases: the participants
(Gray's resource managers: ``orders``, ``inventory``, ``payments``, ...; the scenario's node
count is the number of participants). A coordinator (the transaction manager;
``coordinators`` of them, each with its own workload) runs every transaction in two
phases (Gray 1978; Lampson and Sturgis; Gray and Lamport, "Consensus on Transaction
Commit", 2006):

1. **Prepare.** The coordinator sends ``Prepare(tx, row)`` to every participant. A
   participant takes the row's exclusive lock, checks its constraint (the row's quantity
   is at least 1, and a business rule that refuses with ``abort_probability``), forces a
   prepared record to its durable log and **votes** ``VoteCommit``; or it votes
   ``VoteAbort`` and forgets the transaction. A participant whose row is locked by another
   transaction **queues** the Prepare (FIFO per row) and votes only when the lock is
   granted, so conflicting transactions really stall behind locks. By default the wait is
   bounded only by the coordinator's vote timeout: a transaction still waiting for votes
   after ``vote_timeout_ms`` is aborted, which also breaks distributed deadlocks (two
   transactions each holding a row the other waits for at another participant). With
   ``lock_wait_timeout_ms`` the participant itself votes ``VoteAbort`` after that long in
   the queue; it has not voted yet, so it may still refuse.
2. **Commit or Abort.** If every participant voted yes, the coordinator decides commit;
   any no, or the vote timeout, decides abort. The decision is forced to the
   coordinator's durable log *before* any ``Commit``/``Abort`` is sent, and is resent
   every ``decision_retry_ms`` until every participant has sent ``Ack``; then an ``End``
   record closes the transaction in the log.

A prepared participant is **in doubt**: it cannot decide alone, and holds its lock until
it hears the decision. Every ``status_interval_ms`` it asks the coordinator
(``StatusRequest``, the termination protocol). The coordinator answers from its log; a
transaction it does not know and is not still collecting votes for is answered ``Abort``
(**presumed abort**: a crash loses every undecided transaction, and a restarted
coordinator can never decide commit for one of those). So when the coordinator crashes
after Prepare, the prepared participants stay blocked, their locks held and conflicting
work queued behind them, until it restarts, reads its log, resends the decisions it had
logged and answers the rest with presumed abort. This is the blocking that Paxos Commit
(Gray and Lamport) removes by replicating the coordinator's decision.

What survives a crash is each node's ``disk``: the coordinator's log and transaction
counter; a participant's rows, prepared records and outcomes. A restarted participant
re-takes the locks of its prepared transactions and asks again; transactions it had only
queued are lost, and the coordinator's vote timeout aborts them. A participant that gets
``Commit`` for a transaction it never voted yes on (a protocol error no correct
coordinator makes) refuses it and aborts: it cannot commit what it has not prepared.

Simplified: every transaction touches one row at every participant; locks are exclusive;
the work of a transaction is its Prepare (no separate statements); the coordinator logs
aborts too (presumed abort only needs commits logged).

Invariants
----------
Judged by ``checker.py`` from the facts the handlers tell, never from a handler's own
tables:

* ``atomicity``: no transaction commits at one participant and aborts at another (the
  participants' ``OutcomeApplied``).
* ``unanimous_commit``: a transaction commits only by a coordinator's decision taken after
  every participant voted yes: a coordinator decides commit (``Decided``) only for a
  transaction every participant voted yes on (the participants' own ``Voted``), and a
  participant commits (``OutcomeApplied``) only a transaction decided commit.
* ``isolation``: a participant lets a transaction vote yes on a row only when every
  transaction that voted yes on that row there before has had its outcome applied there:
  a lock is held from the yes vote until the decision.

Variant ``participant_unilateral_abort`` (broken): a participant that voted
``VoteCommit`` and has heard nothing for ``in_doubt_timeout_ms`` aborts on its own and
releases its lock. Whenever the coordinator decided commit meanwhile (it was paused,
slow to collect the other votes, or its Commit was lost while it crashed), the
transaction commits elsewhere and aborts here: ``atomicity`` names the transaction.

Facts (``facts.py``): ``TransactionBegan``, ``Decided`` and ``PresumedAborted`` (a
coordinator); ``Voted``, ``LockAcquired``, ``LockReleased``, ``OutcomeApplied`` and
``ResolvedByHand`` (a participant).

Metrics: ``committed``/``aborted`` transactions, ``commits_per_second`` and
``aborts_per_second`` (one bucket per simulated second, for a chart), ``blocked``
(Prepares that had to queue) and ``blocked_now``, ``lock_held_ms.<participant>`` and
``lock_wait_ms`` samples, ``longest_lock_hold_ms`` and ``longest_in_doubt_ms`` (true
time, including locks still held), ``in_doubt_now``, ``last_commit_at_ms``, and the
coordinator's ``decided_commit``, ``decided_abort``, ``vote_timeouts``,
``presumed_aborts``, ``status_requests``; ``lock_wait_timeouts``, ``unilateral_aborts``,
``heuristic_decisions``.

**By hand.** When a coordinator is lost for good, its in-doubt transactions can only be
resolved by an operator (XA's heuristic commit and rollback, Gray and Reuter's heuristic
decisions): the ``resolve`` command decides every transaction in doubt at one participant
with the outcome given, and releases the locks. Done from the coordinator's log it is
safe; a wrong guess breaks ``atomicity`` (commit at one participant, abort at another) or
``unanimous_commit`` (a commit nobody decided). These two are promised only in runs
without ``resolve`` (``assumes``): a heuristic decision is the operator's, not the
protocol's.

Faults may aim at ``{"role": "coordinator"}``: the live coordinator that holds the most
participants in doubt at that moment (see ``TwoPhaseCommit.resolve_role``).

Modules: ``messages.py`` (the wire, the log records, timer kinds, names),
``coordinator.py``, ``participant.py`` (each role with its transition table),
``facts.py``, ``checker.py`` (the invariants and metrics), ``panel.py``.

Claims served: C06 (commit only if all vote yes; any no or a timeout rolls everyone
back) and C07 (the coordinator crashes after Prepare: locks held, work stalled until it
recovers from its log).
"""

from __future__ import annotations

from playground.models import register
from playground.models.base import Invariant, Model, Param, Variant

from .checker import Ledger, TwoPCChecker
from .coordinator import CP, Coordinator
from .messages import PARTICIPANT_NAMES, TX_PREFIXES
from .panel import TwoPCDisplay
from .participant import Participant, ParticipantDisk, ParticipantState

_POSINT = {"type": "integer", "minimum": 1, "maximum": 600_000}


@register
class TwoPhaseCommit(Model):
    name = "twopc"
    title = "Two-phase commit"
    invariants = (
        Invariant("atomicity", "No transaction commits at one participant and aborts at "
                               "another."),
        Invariant("unanimous_commit", "A transaction commits only by a coordinator's "
                                      "decision taken after every participant voted yes."),
        Invariant("isolation", "A participant holds a row for a transaction that voted yes "
                               "on it until that transaction's outcome is applied: no second "
                               "transaction votes yes on the row before."),
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
        "resolve": {"properties": {"outcome": {"enum": ["commit", "abort"]}},
                    "required": ["node", "outcome"]},
    }
    addressable_roles = ("coordinator",)
    roles = (Coordinator, Participant)
    Checker = TwoPCChecker
    Display = TwoPCDisplay
    default_nodes = 3
    min_nodes = 2
    max_nodes = len(PARTICIPANT_NAMES)

    def setup(self):
        k = self.p["coordinators"]
        self.coordinator_ids = tuple(["coordinator"] + [f"coordinator{i}"
                                                        for i in range(2, k + 1)])
        self.participant_ids = PARTICIPANT_NAMES[:self.n]
        self.prefix = dict(zip(self.coordinator_ids, TX_PREFIXES))

    def node_ids(self):
        return [*self.coordinator_ids, *self.participant_ids]

    def role_of(self, node_id):
        return Coordinator.name if node_id in self.prefix else Participant.name

    def peers_of(self, node_id, all_ids):
        if node_id in self.prefix:
            return self.participant_ids
        return self.coordinator_ids

    def init_node(self, node_id):
        if node_id in self.prefix:
            return super().init_node(node_id)
        return ParticipantState(ParticipantDisk(stock=[self.p["stock"]] * self.p["rows"]))

    def init_ghost(self):
        return Ledger()

    def command_target(self, command, view):
        if command["type"] == "transaction":
            return command.get("node", self.coordinator_ids[0])
        return command["node"]

    def assumes(self):
        """An operator's heuristic decision (``resolve``) is outside the protocol: it may
        commit what was never decided, or abort what committed elsewhere."""
        return {"atomicity": ("resolve",), "unanimous_commit": ("resolve",)}

    def resolve_role(self, view, role):
        """The coordinator: the live one holding the most participants in doubt now (its
        transactions collecting votes, then those whose decision is not yet acknowledged);
        None when no coordinator has a transaction under way."""
        best, most = None, (0, 0)
        for nid in self.coordinator_ids:
            if not view.alive(nid):
                continue
            active = view.nodes[nid].state.active.values()
            preparing = sum(1 for e in active if e.phase is CP.PREPARING)
            weight = (preparing, len(active))
            if weight > most:
                best, most = nid, weight
        return best
