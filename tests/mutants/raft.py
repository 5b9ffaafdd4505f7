"""Mutants of the Raft model: the vote, the consistency check, the commit rule, terms."""

from __future__ import annotations

from playground.models.raft import FOLLOWER, LEADER, Server
from playground.models.raft.messages import ELECTION, AppendEntriesResult

from . import mutant, replacing


@replacing(Server, "up_to_date")
def _any_log_is_up_to_date(self, st, m):
    return True  # the bug: a vote for a candidate whatever its log


@replacing(Server, "append_entries")
def _no_consistency_check(self, st, m, src, ctx):
    term = st.current_term
    if m.term < term:
        ctx.send(src, AppendEntriesResult(term, False, 0, 0))
        return
    if m.term > term:
        self.adopt_term(st, m.term, ctx)
    elif st.role is not FOLLOWER:
        if st.role is LEADER:
            return
        self.become_follower(st, ctx)
    st.leader_id = m.leader_id
    st.heard_leader_at = ctx.now
    ctx.set_timer(ELECTION, st.election_timeout)
    log = st.log
    prev = m.prev_log_index
    last = len(log) - 1
    if prev > last:  # the bug: beyond the end it pads with what it has, and never checks
        prev = last  # log[prev_log_index].term against prev_log_term
    entries = m.entries
    match = prev + len(entries)
    if entries:
        self.store(st, prev, entries, last, ctx)
    if m.leader_commit > st.commit_index:
        new = min(m.leader_commit, match)
        if new > st.commit_index:
            st.commit_index = new
            self.apply(st, ctx)
    ctx.send(src, AppendEntriesResult(st.current_term, True, match, 0))


@replacing(Server, "may_commit")
def _commit_by_counting(self, st, n):
    return True  # the bug: any index a majority holds, whatever its entry's term


@replacing(Server, "adopt_term")
def _no_step_down_on_a_newer_term(self, st, term, ctx):
    st.current_term = term  # the bug: the term is adopted, the role is kept
    st.voted_for = None


MUTANTS = (
    mutant("raft", "vote_without_up_to_date_check", "a server grants its vote whatever the "
           "candidate's log", _any_log_is_up_to_date),
    mutant("raft", "append_without_consistency_check", "a follower appends AppendEntries "
           "without matching prev_log_index and prev_log_term", _no_consistency_check),
    mutant("raft", "commit_by_counting_old_terms", "a leader commits any index a majority "
           "holds, of any term", _commit_by_counting),
    mutant("raft", "no_step_down_on_newer_term", "a leader or candidate that sees a newer "
           "term adopts it but keeps its role", _no_step_down_on_a_newer_term),
)
