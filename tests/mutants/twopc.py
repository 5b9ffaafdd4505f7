"""Mutants of the two-phase commit model: a participant and a coordinator each breaking one
rule of the protocol (Gray and Lamport's conditions for a correct commit protocol)."""

from __future__ import annotations

from playground.models.twopc.coordinator import CP, Coordinator
from playground.models.twopc.messages import COMMIT, Commit
from playground.models.twopc.participant import Participant

from . import mutant, replacing

_grant = Participant.__dict__["grant"]


@replacing(Participant, "grant")
def _lock_released_at_vote(self, state, entry, ctx):
    kept = _grant(self, state, entry, ctx)
    if kept:
        state.locks.pop(entry.row)  # the bug: the row goes free before the decision
    return kept


@replacing(Participant, "release")
def _release_a_free_row(self, state, row, ctx):
    state.locks.pop(row, None)  # (the row may already be free, or held by another)
    queue = state.queues.get(row)
    while queue:
        if self.grant(state, state.txs[queue.pop(0)], ctx):
            break
    if queue is not None and not queue:
        del state.queues[row]


@replacing(Coordinator, "vote_timeout")
def _commit_on_missing_vote(self, state, name, ctx):
    entry = state.active.get(name.arg)
    if entry is not None and entry.phase is CP.PREPARING:
        ctx.count("vote_timeouts")
        if all(entry.votes.values()):  # the bug: a missing vote counts as yes
            self.decide(state, entry, COMMIT, ctx, "no vote against")
        else:
            self.decide(state, entry, "abort", ctx, "a vote against")


@replacing(Participant, "start")
def _prepared_forgotten_at_restart(self, state, ctx):
    state.disk.prepared.clear()  # the bug: the prepared record was never forced to disk


@replacing(Coordinator, "presume_abort")
def _presumed_commit(self, tx, src, ctx):
    ctx.count("presumed_aborts")
    ctx.send(src, Commit(tx))  # the bug: an unknown transaction is answered Commit


MUTANTS = (
    mutant("twopc", "lock_released_at_vote", "a participant lets its row lock go when it "
           "votes yes, before the decision", _lock_released_at_vote, _release_a_free_row),
    mutant("twopc", "commit_on_missing_vote", "the coordinator's vote timeout decides commit "
           "when no vote against has arrived", _commit_on_missing_vote),
    mutant("twopc", "prepared_forgotten_at_restart", "a restarted participant has lost its "
           "prepared transactions", _prepared_forgotten_at_restart),
    mutant("twopc", "presumed_commit", "the coordinator answers a transaction it does not "
           "know with Commit", _presumed_commit),
)
