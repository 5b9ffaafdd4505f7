"""Log compaction (§7 of the paper, chapter 5 of the dissertation), as a part of the server
apart from Figure 2's rules.

A server snapshots its state machine (its key-value store, its client sessions and the
configuration in force) at its last applied index once ``snapshot_log_length`` entries
have been applied past the log's first index, and discards the log up to there. A leader
whose follower needs an entry it has compacted away sends ``InstallSnapshot`` instead of
``AppendEntries``; the follower keeps the log after the snapshot when it holds the
snapshot's last entry, else discards it, and resets its state machine from the snapshot.
Simplification: a snapshot travels whole, in one message.
"""

from __future__ import annotations

from playground.models.base import on, timer

from .facts import SnapshotInstalled, SnapshotTaken
from .messages import Entry, InstallSnapshot, InstallSnapshotResult, RaftTimer


class Snapshots:
    """Snapshots taken, sent and installed (a part of ``server.Server``)."""

    @timer(RaftTimer.SNAPSHOT)
    def take_snapshot(self, st, _timer, ctx) -> None:
        """Snapshot the state machine at the last applied index and discard the log up to
        it."""
        index = st.last_applied
        log = st.log
        if index <= log.first:
            return
        st.snapshot_kv, st.snapshot_executed = dict(st.kv), dict(st.executed)
        st.snapshot_config = self.config_at(st, index)[0]
        log.compact(index, log[index])
        ctx.count("snapshots")
        ctx.tell(SnapshotTaken(index, log[index].term))

    def send_snapshot(self, st, peer: str, now: int, ctx) -> None:
        """InstallSnapshot to a follower whose next entry is compacted away."""
        first = st.log.first
        ctx.send(peer, InstallSnapshot(st.current_term, ctx.node, first, st.log[first].term,
                                       tuple(sorted(st.snapshot_kv.items())),
                                       tuple(st.snapshot_executed.items()),
                                       st.snapshot_config))
        st.last_sent[peer] = now
        ctx.count("snapshots_sent")

    @on(InstallSnapshot)
    def install_snapshot(self, st, m: InstallSnapshot, src: str, ctx) -> None:
        """Reply immediately if term < currentTerm; keep the log after the snapshot if it
        holds the snapshot's last entry, else discard it; reset the state machine from the
        snapshot."""
        if m.term < st.current_term:
            ctx.count("stale_messages_rejected")
            ctx.send(src, InstallSnapshotResult(st.current_term, 0))
            return
        if not self.follow(st, m.term, m.leader_id, ctx):
            return
        index = m.last_included_index
        if index > st.last_applied:  # else its own log already holds what the snapshot does
            log = st.log
            term = m.last_included_term
            if index < len(log) and log[index].term == term:
                log.compact(index, log[index])
            else:
                log.replace(index, Entry(term, 0, "", 0))
            st.kv, st.executed = dict(m.kv), dict(m.executed)
            st.snapshot_kv, st.snapshot_executed = dict(m.kv), dict(m.executed)
            st.snapshot_config = m.config
            st.last_applied = index
            if index > st.commit_index:
                st.commit_index = index
            self.reconfigure(st, ctx)
            ctx.count("snapshots_installed")
            ctx.tell(SnapshotInstalled(index, term, src))
        ctx.send(src, InstallSnapshotResult(st.current_term, index))

    @on(InstallSnapshotResult)
    def install_snapshot_result(self, st, m: InstallSnapshotResult, src: str,
                                ctx) -> None:
        """The follower holds the snapshot: its match index is the snapshot's last."""
        if self.leads_in(st, m.term, src, ctx):
            self.matched(st, src, m.match_index, ctx)
