"""The coordinator (Gray's transaction manager): Prepare, collect votes, log, decide.

A transaction's phases at its coordinator form a transition table
(``COORDINATOR_MACHINE``): collecting votes, then committing or aborting until every
participant has acknowledged, then ended. The decision is forced to the durable log
before any ``Commit``/``Abort`` leaves; a restart reads the log, resends the decisions
not yet acknowledged, and answers every transaction it does not know with Abort
(presumed abort).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

from playground.models.base import MS, SECOND, Role, Transitions, command, on, timer

from .facts import Decided, PresumedAborted, TransactionBegan
from .messages import (ABORT, COMMIT, DECISION_MESSAGE, RECENT, RESEND, WORKLOAD, Abort,
                       Ack, Decision, End, Prepare, StatusRequest, TwoPCTimer, VoteAbort,
                       VoteCommit, ms, votes_timer)


class CoordinatorPhase(Enum):
    """A transaction at its coordinator."""

    PREPARING = "preparing"  # Prepare sent, collecting votes
    COMMITTING = "committing"  # commit logged, waiting for every Ack
    ABORTING = "aborting"  # abort logged, waiting for every Ack
    ENDED = "ended"  # every participant acknowledged; End logged


CP = CoordinatorPhase
COORDINATOR_MACHINE = Transitions("2PC coordinator", {
    CP.PREPARING: (CP.COMMITTING, CP.ABORTING),
    CP.COMMITTING: (CP.ENDED,),
    CP.ABORTING: (CP.ENDED,),
})


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


class Coordinator(Role):
    name = "coordinator"
    State = CoordinatorState
    durable = ("disk",)

    def start(self, state, ctx):
        """Boot, or recover from the durable log after a crash."""
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
                self.resend(state, RESEND, ctx)
        self._arm_workload(ctx)

    # -- starting transactions --------------------------------------------------------------
    @timer(TwoPCTimer.WORKLOAD)
    def workload(self, state, _timer, ctx):
        self.begin(state, {}, ctx)
        self._arm_workload(ctx)

    def _arm_workload(self, ctx):
        tps = self.model.p["tps"]
        if tps > 0:
            gap = -math.log(1.0 - ctx.rng.random()) / tps  # exponential inter-arrival
            ctx.set_timer(WORKLOAD, max(1, int(gap * SECOND)))

    @command("transaction")
    def transaction(self, state, cmd, ctx):
        """A client starts a transaction (optionally naming the row at some participants)."""
        rows = dict(cmd.get("rows", {}))
        bad = [p for p, r in rows.items()
               if p not in self.model.participant_ids or r >= self.model.p["rows"]]
        if bad:
            ctx.note(f"transaction refused: no such participant or row for "
                     f"{', '.join(bad)}")
            return
        self.begin(state, rows, ctx)

    @command("out_of_stock", "restock", "resolve")
    def stock(self, state, cmd, ctx):
        ctx.note(f"{cmd['type']} refused: {ctx.node} holds no rows")

    def begin(self, state, rows, ctx):
        """Phase 1: send Prepare to every participant and arm the vote timeout."""
        state.disk.next_tx += 1
        tx = f"{self.model.prefix[ctx.node]}{state.disk.next_tx}"
        last = self.model.p["rows"] - 1
        rows = {p: rows[p] if p in rows else ctx.rng.randint(0, last) for p in ctx.peers}
        entry = CoordinatorTx(tx, CP.PREPARING, tuple(ctx.peers), rows, began_at=ctx.now)
        state.active[tx] = entry
        ctx.tell(TransactionBegan(tx, tuple(rows.items())))
        for p in entry.participants:
            ctx.send(p, Prepare(tx, rows[p]))
        ctx.set_timer(votes_timer(tx), self.model.p["vote_timeout_ms"] * MS)
        ctx.note(f"{tx}: Prepare sent", tx=tx, rows=rows)

    # -- votes and the decision ------------------------------------------------------------
    @on(VoteCommit, VoteAbort)
    def vote(self, state, msg, src, ctx):
        """Any no aborts; all yes commits."""
        entry = state.active.get(msg.tx)
        if entry is None:
            if msg.tx not in state.disk.decisions:
                self.presume_abort(msg.tx, src, ctx)
            return
        if entry.phase is not CP.PREPARING:
            return  # a late vote: the decision is already out and is being resent
        yes = type(msg) is VoteCommit
        entry.votes[src] = yes
        if not yes:
            self.decide(state, entry, ABORT, ctx, f"{src} voted no ({msg.reason})")
        elif all(entry.votes.get(p) for p in entry.participants):
            self.decide(state, entry, COMMIT, ctx, "every participant voted yes")

    @timer(TwoPCTimer.VOTES)
    def vote_timeout(self, state, name, ctx):
        """Votes missing after vote_timeout_ms: a missing vote counts as no."""
        entry = state.active.get(name.arg)
        if entry is not None and entry.phase is CP.PREPARING:
            ctx.count("vote_timeouts")
            missing = [p for p in entry.participants if p not in entry.votes]
            self.decide(state, entry, ABORT, ctx, f"vote timeout (no vote from "
                                                  f"{', '.join(missing)})")

    def decide(self, state, entry, outcome, ctx, reason):
        """Force the decision to the log, then send it (phase 2)."""
        record = Decision(entry.tx, outcome, entry.participants)
        state.disk.log.append(record)
        state.disk.decisions[entry.tx] = outcome
        entry.phase = COORDINATOR_MACHINE.move(
            entry.phase, CP.COMMITTING if outcome == COMMIT else CP.ABORTING)
        ctx.cancel_timer(votes_timer(entry.tx))
        ctx.tell(Decided(entry.tx, outcome, entry.participants))
        message = DECISION_MESSAGE[outcome](entry.tx)
        for p in entry.participants:
            ctx.send(p, message)
        if not ctx.timer_armed(RESEND):
            ctx.set_timer(RESEND, self.model.p["decision_retry_ms"] * MS)
        ctx.count(f"decided_{outcome}")
        ctx.observe("decision_ms", ms(ctx.now - entry.began_at))
        ctx.note(f"{entry.tx}: decided {outcome} ({reason}); logged, then sent",
                 tx=entry.tx, outcome=outcome)

    @on(Ack)
    def ack(self, state, msg, src, ctx):
        """A participant applied the decision; when all have, log End and forget."""
        entry = state.active.get(msg.tx)
        if entry is None or entry.phase is CP.PREPARING or src in entry.acks:
            return
        entry.acks.append(src)
        if len(entry.acks) == len(entry.participants):
            entry.phase = COORDINATOR_MACHINE.move(entry.phase, CP.ENDED)
            state.disk.log.append(End(msg.tx))
            del state.active[msg.tx]

    @on(StatusRequest)
    def status(self, state, msg, src, ctx):
        """Termination protocol: answer from the log; unknown means presumed abort."""
        ctx.count("status_requests")
        outcome = state.disk.decisions.get(msg.tx)
        if outcome is not None:
            ctx.send(src, DECISION_MESSAGE[outcome](msg.tx))
        elif msg.tx not in state.active:
            self.presume_abort(msg.tx, src, ctx)
        # else: still collecting votes; the participant asks again later

    def presume_abort(self, tx, src, ctx):
        ctx.count("presumed_aborts")
        ctx.tell(PresumedAborted(tx, src))
        ctx.send(src, Abort(tx))
        ctx.note(f"{tx}: not in the log, presumed aborted", tx=tx, to=src)

    @timer(TwoPCTimer.RESEND)
    def resend(self, state, _timer, ctx):
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
            ctx.set_timer(RESEND, self.model.p["decision_retry_ms"] * MS)

    # -- display -----------------------------------------------------------------------------
    def label(self, state):
        phases = [e.phase for e in state.active.values()]
        if CP.PREPARING in phases:
            return "collecting votes"
        return "sending decisions" if phases else "idle"

    def summary(self, node_id, state):
        return {
            "kind": "coordinator",
            "phase": self.label(state),
            "active": [{"tx": e.tx, "phase": e.phase.value,
                        "votes": {p: "yes" if v else "no" for p, v in e.votes.items()},
                        "acks": list(e.acks)}
                       for e in list(state.active.values())[-RECENT:]],
            "log": [_log_json(r) for r in state.disk.log[-8:]],
            "log_length": len(state.disk.log),
        }


def _log_json(record):
    if type(record) is Decision:
        return {"record": "decision", "tx": record.tx, "outcome": record.outcome}
    return {"record": "end", "tx": record.tx}
