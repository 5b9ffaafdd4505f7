"""PreVote and CheckQuorum: the two switches beyond Figure 2 (Ongaro's dissertation §9.6,
§6.2; etcd's ``PreVote`` and ``CheckQuorum``), as a part of the server apart from the
paper's rules.

* **PreVote**: a follower whose election timer fires first asks, without raising its term,
  whether it *could* win (``RequestVote`` with ``pre_vote``). A server says yes only to a
  newer term, a log at least as up to date, and when it has not heard from a leader within
  the minimum election timeout. A pre-vote majority starts the real election; so a server
  that rejoins after a partition cannot disrupt a working leader by its inflated term.
* **CheckQuorum**: a leader that has not heard from a majority within an election timeout
  steps down, and servers that still hear from a leader ignore a ``RequestVote``.
"""

from __future__ import annotations

from playground.models.base import timer

from .facts import SteppedDown
from .messages import (CHECK_QUORUM, ELECTION, LEADER, PRE_CANDIDATE, RaftTimer, RequestVote,
                       RequestVoteResult)


class Extensions:
    """The server's PreVote and CheckQuorum rules (a part of ``server.Server``)."""

    def in_lease(self, st, ctx) -> bool:
        """Whether this server still hears from a leader (for PreVote and CheckQuorum)."""
        if st.role is LEADER:
            return True
        heard = st.heard_leader_at
        return (st.leader_id is not None and heard is not None
                and ctx.now - heard < self.timeout_lo)

    # -- PreVote ---------------------------------------------------------------------------
    def start_pre_vote(self, st, ctx) -> None:
        """Ask whether an election in the next term could be won, without raising ours."""
        self.become(st, PRE_CANDIDATE)
        st.votes = [ctx.node]
        st.election_timeout = self.draw_timeout(ctx)
        ctx.set_timer(ELECTION, st.election_timeout)
        ctx.count("prevote_rounds")
        self.ask_votes(st, st.current_term + 1, True, ctx)

    def answer_pre_vote(self, st, m: RequestVote, src: str, ctx) -> None:
        """Yes to a newer term and a log as up to date, unless a leader is still heard."""
        granted = (m.term > st.current_term and self.up_to_date(st, m)
                   and not self.in_lease(st, ctx))
        ctx.send(src, RequestVoteResult(m.term if granted else st.current_term, granted, True))

    def count_pre_vote(self, st, m: RequestVoteResult, src: str, ctx) -> None:
        """A pre-vote majority starts the real election; a refusal with a newer term is
        a newer term."""
        if st.role is PRE_CANDIDATE and m.vote_granted and m.term == st.current_term + 1:
            if src not in st.votes:
                st.votes.append(src)
                if self.has_quorum(st, st.votes):
                    self.start_election(st, ctx)
        elif m.term > st.current_term and not m.vote_granted:
            self.adopt_term(st, m.term, ctx)

    # -- CheckQuorum -----------------------------------------------------------------------
    def ignores_vote_request(self, st, m: RequestVote, ctx) -> bool:
        """With CheckQuorum, a server that hears from a leader ignores a newer term's
        RequestVote (no answer, no term adopted)."""
        if self.check_quorum and m.term > st.current_term and self.in_lease(st, ctx):
            ctx.count("votes_ignored_in_lease")
            return True
        return False

    @timer(RaftTimer.CHECK_QUORUM)
    def check_quorum_due(self, st, _timer, ctx) -> None:
        """Step down unless a majority answered since the last check."""
        if st.role is not LEADER:
            return
        heard = [p for p, v in st.recent_active.items() if v]
        heard.append(ctx.node)
        active = len(heard)
        if not self.has_quorum(st, heard):
            ctx.count("check_quorum_step_downs")
            ctx.tell(SteppedDown(st.current_term, f"lost contact with a majority (heard "
                                                  f"{active})"))
            self.become_follower(st, ctx)
            st.leader_id = None
            return
        st.recent_active = dict.fromkeys(st.recent_active, False)
        ctx.set_timer(CHECK_QUORUM, self.timeout_lo)

