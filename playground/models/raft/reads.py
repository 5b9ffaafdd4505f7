"""Reads on the server: ReadIndex and lease reads (Ongaro's dissertation §6.4, §6.4.1), and
the broken local read, as a part of the server apart from Figure 2's rules.

With ReadIndex a leader notes its commit index, confirms with a round of
``ReadIndexHeartbeat`` that a majority still follows it, and answers once it has applied
that index; a leader with no committed entry of its own term first appends a no-op
(request id 0) and waits for it. With ``lease`` a confirmed round also gives the leader a
lease of the minimum election timeout on its own clock, during which it answers alone.
The broken ``local`` mode answers at once from the leader's own state machine.
"""

from __future__ import annotations

from playground.models.base import on

from .messages import (LEADER, Entry, ReadIndexHeartbeat,
                       ReadIndexHeartbeatResult, ReadReply, ReadRequest)


class Reads:
    """The server's read path (a part of ``server.Server``)."""

    @on(ReadRequest)
    def read_request(self, st, m: ReadRequest, src: str, ctx) -> None:
        """A leader answers a read (at once, or after ReadIndex); others redirect."""
        if st.role is not LEADER:
            ctx.send(src, ReadReply(m.request_id, False, None, st.leader_id))
            return
        if self.read_local:  # the broken shortcut: no check that it still leads
            ctx.send(src, ReadReply(m.request_id, True, st.kv.get(m.key), ctx.node))
            return
        if self.read_lease and st.lease_until is not None and ctx.now < st.lease_until:
            ctx.count("lease_reads")  # no round trip: the lease says no one else leads yet
            ctx.send(src, ReadReply(m.request_id, True, st.kv.get(m.key), ctx.node))
            return
        if st.log[st.commit_index].term != st.current_term:
            # Its commit index may lag until an entry of its own term commits: wait for
            # one, appending a no-op if the log has none (the paper's no-op at election).
            st.deferred_reads.append((m.request_id, m.key, src))
            if st.log[-1].term != st.current_term:
                self.append(st, Entry(st.current_term, 0, "", 0), ctx)
            return
        self.start_read(st, m.request_id, m.key, src, ctx)

    def start_read(self, st, rid: int, key: str, client: str, ctx) -> None:
        """Record the read index and ask the followers to confirm leadership."""
        read_id = st.next_read
        st.next_read += 1
        st.reads[read_id] = [rid, key, st.commit_index, [ctx.node], client, ctx.now]
        ctx.count("read_index_rounds")
        msg = ReadIndexHeartbeat(st.current_term, ctx.node, read_id)
        for peer in st.targets:
            ctx.send(peer, msg)

    def committed(self, st, n: int, ctx) -> None:
        """After the leader commits index ``n``: start the reads waiting for an entry of
        its term, answer the confirmed reads now applied."""
        if st.deferred_reads and st.log[n].term == st.current_term:
            deferred, st.deferred_reads = st.deferred_reads, []
            for rid, key, client in deferred:
                self.start_read(st, rid, key, client, ctx)
        if st.reads:
            self.answer_reads(st, ctx)

    @staticmethod
    def drop_reads(st, ctx) -> None:
        """A leader stepping down: its lease ends, its reads go unanswered (the client's
        retry goes elsewhere)."""
        st.lease_until = None
        if st.reads or st.deferred_reads:
            ctx.count("reads_abandoned", len(st.reads) + len(st.deferred_reads))
            st.reads = {}
            st.deferred_reads = []

    @on(ReadIndexHeartbeat)
    def read_index_heartbeat(self, st, m: ReadIndexHeartbeat, src: str, ctx) -> None:
        """A follower confirms a leader of its term (and hears from it, as a heartbeat)."""
        if m.term < st.current_term:
            ctx.count("stale_messages_rejected")
            ctx.send(src, ReadIndexHeartbeatResult(st.current_term, m.read_id, False))
            return
        if not self.follow(st, m.term, m.leader_id, ctx):  # a rival leader of our term
            ctx.send(src, ReadIndexHeartbeatResult(st.current_term, m.read_id, False))
            return
        ctx.send(src, ReadIndexHeartbeatResult(st.current_term, m.read_id, True))

    @on(ReadIndexHeartbeatResult)
    def read_index_heartbeat_result(self, st, m: ReadIndexHeartbeatResult, src: str,
                                    ctx) -> None:
        """Count confirmations; with a majority the read index is safe to answer at."""
        if m.term > st.current_term:
            self.adopt_term(st, m.term, ctx)
            return
        if st.role is not LEADER or m.term < st.current_term or not m.success:
            return
        if self.check_quorum:
            st.recent_active[src] = True
        read = st.reads.get(m.read_id)
        if read is None or src in read[3]:
            return
        read[3].append(src)
        if self.quorum_reached(st, read[3], src):
            if self.read_lease:  # a majority heard it at or after read[5]: none of them
                lease = read[5] + self.timeout_lo  # times out before then (their clocks)
                if st.lease_until is None or lease > st.lease_until:
                    st.lease_until = lease
            self.answer_reads(st, ctx)

    def answer_reads(self, st, ctx) -> None:
        """Answer every confirmed read whose read index is applied (on a leader, which
        applies as it commits, that is at once)."""
        for read_id, (rid, key, read_index, confirmed, client, _sent) in list(st.reads.items()):
            if read_index <= st.last_applied and self.has_quorum(st, confirmed):
                del st.reads[read_id]
                ctx.send(client, ReadReply(rid, True, st.kv.get(key), ctx.node))
