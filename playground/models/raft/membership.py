"""Membership changes, one server at a time (Ongaro's dissertation, chapter 4), as a part
of the server apart from Figure 2's rules.

* **The configuration is in the log.** A ``ConfigEntry`` names the voting servers. A server
  uses the latest configuration in its log, committed or not: it takes effect on append,
  and a truncated configuration entry gives back the one before it. Below the log's first
  entry the snapshot's configuration holds, and before any entry the model's initial one
  (``initial_members``; a server outside it starts knowing no configuration at all).
* **Quorums are the configuration's.** Votes, pre-votes, commitment, CheckQuorum and
  ReadIndex confirmations count only its members; a server outside its configuration
  never campaigns. The leader replicates to the members, to the servers it is adding, and
  to those an uncommitted configuration removed (so they learn of their removal).
* **One change at a time.** ``add_server`` first makes the server a learner: the leader
  replicates to it without counting it, and once its log reaches the leader's last index
  at the time it was added (one round of the dissertation's catch-up), appends the new
  configuration. ``remove_server`` appends it at once. A leader refuses a change while
  another one is under way (a learner catching up, or a configuration entry it has not
  committed). Once the entry commits, the change is complete; a leader that removed
  itself steps down.
* **The 2015 fix.** A leader starts a change only once it has committed an entry of its
  own term (appending a no-op if it must, and starting the change when that commits):
  otherwise a new leader can append a configuration that differs from an uncommitted one
  a deposed leader appended, and the two configurations' majorities need not overlap
  (Ongaro, raft-dev, "bug in single-server membership changes", 2015). The broken
  variant ``change_before_term_commit`` skips the wait.
"""

from __future__ import annotations

from playground.models.base import command

from .facts import ConfigurationChanged, SteppedDown
from .messages import LEADER, ConfigEntry, Entry


class Membership:
    """The server's configuration and its changes (a part of ``server.Server``)."""

    # -- the configuration ---------------------------------------------------------------------
    def config_at(self, st, index: int) -> tuple[tuple, int]:
        """The configuration in force at ``index`` and the index of its entry (the
        snapshot's index when it comes from the snapshot)."""
        log = st.log
        first = log.first
        for i in range(index, first, -1):
            entry = log[i]
            if type(entry) is ConfigEntry:
                return entry.servers, i
        return st.snapshot_config, first

    def reconfigure(self, st, ctx) -> None:
        """Take up the latest configuration in the log."""
        config, st.config_index = self.config_at(st, len(st.log) - 1)
        st.member = ctx.node in config
        if config != st.config:
            st.config = config
            st.everyone = config == self.servers
            if st.role is LEADER:
                self.retarget(st, ctx)

    def retarget(self, st, ctx) -> None:
        """The servers a leader replicates to: members, learners, and those an
        uncommitted configuration removed."""
        config, learners, leaving = st.config, st.learners, st.leaving
        st.targets = tuple(p for p in ctx.peers
                           if p in config or p in learners or p in leaving)

    def has_quorum(self, st, voters) -> bool:
        """Whether ``voters`` (distinct servers) hold a majority of the configuration."""
        config = st.config
        if st.everyone:
            return len(voters) >= self.majority
        return 2 * sum(1 for v in voters if v in config) > len(config)

    def quorum_reached(self, st, voters, last: str) -> bool:
        """Whether ``last``, just added to ``voters``, made them a majority (exactly then:
        no later confirmation counts again)."""
        if st.everyone:
            return len(voters) == self.majority
        config = st.config
        return last in config and sum(1 for v in voters if v in config) == len(config) // 2 + 1

    def appended_config(self, st, ctx) -> None:
        """A configuration entry entered the leader's log: it takes effect now."""
        old = st.config
        self.reconfigure(st, ctx)
        st.leaving = tuple(s for s in old if s not in st.config and s != ctx.node)
        self.retarget(st, ctx)
        ctx.count("membership_changes")
        ctx.tell(ConfigurationChanged(st.config_index, st.config))

    # -- the commands --------------------------------------------------------------------------
    @command("add_server")
    def add_server(self, st, cmd: dict, ctx) -> None:
        """The leader adds a server: a learner first, a voter once caught up."""
        self.change(st, "add", cmd["node"], ctx)

    @command("remove_server")
    def remove_server(self, st, cmd: dict, ctx) -> None:
        """The leader removes a server (itself included) from the configuration."""
        self.change(st, "remove", cmd["node"], ctx)

    def change(self, st, kind: str, server: str, ctx) -> None:
        if st.role is not LEADER:
            ctx.note(f"{kind}_server {server} refused: not the leader", leader=st.leader_id)
            return
        if (server in st.config) == (kind == "add"):
            ctx.note(f"{kind}_server {server} refused: "
                     f"{'already' if kind == 'add' else 'not'} a member")
            return
        if kind == "remove" and st.config == (server,):
            ctx.note(f"remove_server {server} refused: the last member")
            return
        if st.learners or st.pending_change or st.config_index > st.commit_index:
            ctx.count("membership_changes_refused")
            ctx.note(f"{kind}_server {server} refused: another change is under way")
            return
        if not self.committed_own_term(st) and not self.change_early:
            st.pending_change = (kind, server)
            if st.log[-1].term != st.current_term:
                self.append(st, Entry(st.current_term, 0, "", 0), ctx)
            ctx.note(f"{kind}_server {server} waits for an entry of term "
                     f"{st.current_term} to commit")
            return
        self.start_change(st, kind, server, ctx)

    @staticmethod
    def committed_own_term(st) -> bool:
        return st.log[st.commit_index].term == st.current_term

    def start_change(self, st, kind: str, server: str, ctx) -> None:
        if kind == "remove":
            self.append(st, ConfigEntry(st.current_term, tuple(
                s for s in st.config if s != server)), ctx)
            return
        st.learners[server] = len(st.log) - 1  # caught up once it matches this index
        st.next_index[server] = len(st.log)
        st.match_index[server] = 0
        self.retarget(st, ctx)
        ctx.count("learners_added")
        self.send_append(st, server, ctx.now, ctx)

    def caught_up(self, st, src: str, ctx) -> None:
        """A learner that reached its round's index becomes a voter."""
        goal = st.learners.get(src)
        if goal is not None and st.match_index[src] >= goal:
            del st.learners[src]
            added = set(st.config) | {src}
            self.append(st, ConfigEntry(st.current_term, tuple(
                s for s in self.servers if s in added)), ctx)

    def membership_committed(self, st, ctx) -> None:
        """After the leader's commit index advanced: a committed configuration completes
        its change (a leader outside it steps down); a change waiting for an entry of
        this term starts."""
        if st.config_index <= st.commit_index:
            if st.leaving:
                st.leaving = ()
                self.retarget(st, ctx)
            if ctx.node not in st.config:
                ctx.count("leader_step_downs")
                ctx.tell(SteppedDown(st.current_term, "removed from the configuration"))
                self.become_follower(st, ctx)
                return
        pending = st.pending_change
        if pending and self.committed_own_term(st):
            st.pending_change = None
            self.start_change(st, pending[0], pending[1], ctx)
