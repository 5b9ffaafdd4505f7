"""A Raft server, rule by rule beside Figure 2 of the paper.

The rules for all servers, followers, candidates and leaders, and the two RPCs' receiver
implementations, are here. What goes beyond the figure lives beside it: PreVote and
CheckQuorum in ``extensions.py``, ReadIndex and lease reads in ``reads.py``, membership
changes in ``membership.py``, log compaction in ``snapshots.py``. A broken
variant is one clause beside the paper's test (``may_vote``, ``may_commit``, and the
``prev_log_term`` check in ``append_entries``), so the rule reads as the paper's with the
switch visible in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import Role, command, on, timer

from .extensions import Extensions
from .facts import (BecameLeader, Committed, ElectionStarted, ExecutedAgain, LogTruncated,
                    SteppedDown, VoteGranted)
from .messages import (CANDIDATE, CHECK_QUORUM, CLIENT, ELECTION, FOLLOWER, HEARTBEAT,
                       LEADER, ROLES, SNAPSHOT, STORAGE, STORAGE_WRITE, AppendEntries,
                       AppendEntriesResult, ClientReply, ClientRequest, ConfigEntry, Entry, Log,
                       RaftTimer, RequestVote, RequestVoteResult, ServerRole, StorageWrite,
                       StorageWriteResult)
from .membership import Membership
from .reads import Reads
from .snapshots import Snapshots


@dataclass(slots=True)
class ServerState:
    # persistent (Figure 2): survive a crash
    current_term: int = 0
    voted_for: str | None = None
    log: Log = field(default_factory=Log)  # from the snapshot's last included index on
    snapshot_kv: dict = field(default_factory=dict)  # the state machine at log.first
    snapshot_executed: dict = field(default_factory=dict)  # and its client sessions
    snapshot_config: tuple | None = None  # and its configuration (None: not started yet)
    # volatile
    role: ServerRole = FOLLOWER
    config: tuple = ()  # the voting servers: the latest configuration in the log
    config_index: int = 0  # the index of its entry (log.first: from the snapshot)
    everyone: bool = False  # config holds every server (quorums take the short way)
    member: bool = False  # this server is in config
    leader_id: str | None = None
    commit_index: int = 0
    last_applied: int = 0
    kv: dict = field(default_factory=dict)
    executed: dict = field(default_factory=dict)  # client sessions: request id -> index run at
    election_timeout: int = 0  # µs, drawn at start and at each role change
    heard_leader_at: int | None = None  # local µs of the last AppendEntries from a leader
    votes: list = field(default_factory=list)  # who granted this (pre-)candidacy
    # volatile on leaders
    next_index: dict = field(default_factory=dict)
    match_index: dict = field(default_factory=dict)
    last_sent: dict = field(default_factory=dict)  # local µs of the last AppendEntries
    recent_active: dict = field(default_factory=dict)  # check_quorum: heard since last check
    last_ack: AppendEntriesResult | None = None  # resent as is while term and match hold
    targets: tuple = ()  # whom it replicates to: members, learners, leaving servers
    learners: dict = field(default_factory=dict)  # server being added -> index to reach
    leaving: tuple = ()  # removed by a configuration not yet committed
    pending_change: tuple | None = None  # (kind, server) waiting for a commit of its term
    # ReadIndex, on a leader: read id -> [request id, key, read index, who confirmed, client,
    # local time its heartbeats went out]
    reads: dict = field(default_factory=dict)
    lease_until: int | None = None  # read_mode lease: local time until which reads are local
    deferred_reads: list = field(default_factory=list)  # (request id, key, client)
    next_read: int = 1


class Server(Extensions, Reads, Membership, Snapshots, Role):
    """One of ``n1`` … ``nN``."""

    name = "server"
    State = ServerState
    # config … member are derived from the log alone and recomputed at every start; kept
    # across a crash so that a crashed server still shows the configuration it knows,
    # not "outside" it
    durable = ("current_term", "voted_for", "log", "snapshot_kv", "snapshot_executed",
               "snapshot_config", "config", "config_index", "everyone", "member")

    def __init__(self, model):
        super().__init__(model)
        m = model
        self.majority = m.majority
        self.timeout_lo, self.timeout_hi = m.timeout_lo, m.timeout_hi
        self.heartbeat, self.idle = m.heartbeat, m.idle
        self.max_entries = m.max_entries
        self.storage_every = m.storage_every
        self.sessions = m.sessions
        self.prevote, self.check_quorum = m.prevote, m.check_quorum
        self.read_local, self.read_lease = m.read_local, m.read_lease
        self.skip_term_check = m.skip_term_check
        self.commit_by_count = m.commit_by_count
        self.multi_vote = m.multi_vote
        self.snapshot_every = m.snapshot_every
        self.servers, self.members = m.servers, m.members
        self.change_early = m.change_early
        self._tails: dict = {}  # server -> (its log, version, log_start, tail): display only

    def start(self, st, ctx):
        """Arm the election timer; after a restart, load the snapshot into the state
        machine (what it includes is committed and applied)."""
        if st.snapshot_config is None:  # a server outside the initial one knows none
            st.snapshot_config = self.members if ctx.node in self.members else ()
        if st.log.first:
            st.kv, st.executed = dict(st.snapshot_kv), dict(st.snapshot_executed)
            st.commit_index = st.last_applied = st.log.first
        self.reconfigure(st, ctx)
        st.election_timeout = self.draw_timeout(ctx)
        ctx.set_timer(ELECTION, st.election_timeout)

    # -- rules for all servers -----------------------------------------------------------
    def draw_timeout(self, ctx) -> int:
        return ctx.rng.randint(self.timeout_lo, self.timeout_hi)

    @staticmethod
    def become(st: ServerState, role: ServerRole) -> None:
        st.role = ROLES.move(st.role, role)

    def adopt_term(self, st: ServerState, term: int, ctx) -> None:
        """If RPC request or response contains term T > currentTerm: set currentTerm = T,
        convert to follower (and forget the vote)."""
        was = st.role
        st.current_term = term
        st.voted_for = None
        st.leader_id = None
        if was is not FOLLOWER:
            self.become_follower(st, ctx)
            if was is LEADER:
                ctx.count("leader_step_downs")
                ctx.tell(SteppedDown(term, "saw a newer term"))

    def become_follower(self, st: ServerState, ctx) -> None:
        if st.role is LEADER:
            ctx.cancel_timer(HEARTBEAT)
            ctx.cancel_timer(STORAGE_WRITE)
            ctx.cancel_timer(CHECK_QUORUM)
            self.drop_reads(st, ctx)
            st.learners, st.leaving, st.pending_change = {}, (), None
        self.become(st, FOLLOWER)
        st.votes = []
        st.election_timeout = self.draw_timeout(ctx)
        ctx.set_timer(ELECTION, st.election_timeout)

    def apply(self, st: ServerState, ctx) -> None:
        """If commitIndex > lastApplied: apply log[lastApplied] in order; the leader answers
        the client. With client sessions a request already executed is answered again but
        not executed again."""
        log = st.log
        kv = st.kv
        executed = st.executed
        sessions = self.sessions
        leading = st.role is LEADER
        while st.last_applied < st.commit_index:
            st.last_applied = index = st.last_applied + 1
            entry = log[index]
            rid = entry.request_id
            if rid:  # 0: a leader's no-op
                first = executed.setdefault(rid, index)
                if first == index:
                    kv[entry.key] = entry.value
                elif not sessions:  # no session to recognise it: executed once more
                    kv[entry.key] = entry.value
                    ctx.tell(ExecutedAgain(rid, first, index))
                if leading:
                    ctx.send(CLIENT, ClientReply(rid, True, ctx.node))
        if (self.snapshot_every and st.last_applied - log.first >= self.snapshot_every
                and not ctx.timer_armed(SNAPSHOT)):
            ctx.set_timer(SNAPSHOT, 1)  # a step of its own, as a server snapshots apart

    # -- followers and candidates: elections ------------------------------------------------
    @timer(RaftTimer.ELECTION)
    def election_timeout(self, st: ServerState, _timer, ctx) -> None:
        """No leader heard within the timeout: campaign (after a pre-vote if enabled); a
        server outside its configuration never does."""
        if st.role is LEADER or ctx.node not in st.config:
            return
        if self.prevote and st.role is not CANDIDATE:
            self.start_pre_vote(st, ctx)
        else:
            self.start_election(st, ctx)

    @command("timeout_now")
    def timeout_now(self, st: ServerState, _command, ctx) -> None:
        """The user's "time out now": the election timer fires at once."""
        if st.role is LEADER:
            ctx.note("timeout_now ignored: a leader has no election timer to fire")
        elif ctx.node not in st.config:
            ctx.note("timeout_now ignored: not a member of its configuration")
        else:
            self.election_timeout(st, ELECTION, ctx)

    def start_election(self, st: ServerState, ctx) -> None:
        """Increment currentTerm, vote for self, reset the election timer, send RequestVote
        to all other servers."""
        self.become(st, CANDIDATE)
        st.current_term += 1
        st.voted_for = ctx.node
        st.leader_id = None
        st.votes = [ctx.node]
        st.election_timeout = self.draw_timeout(ctx)
        ctx.set_timer(ELECTION, st.election_timeout)
        ctx.count("elections")
        ctx.tell(ElectionStarted(st.current_term))
        self.ask_votes(st, st.current_term, False, ctx)

    @staticmethod
    def ask_votes(st: ServerState, term: int, pre_vote: bool, ctx) -> None:
        """RequestVote to the other members of its configuration."""
        log = st.log
        msg = RequestVote(term, ctx.node, len(log) - 1, log[-1].term, pre_vote)
        me = ctx.node
        for peer in ctx.peers if st.everyone else st.config:
            if peer != me:
                ctx.send(peer, msg)

    @staticmethod
    def up_to_date(st: ServerState, m: RequestVote) -> bool:
        """The candidate's log is at least as up-to-date as ours (§5.4.1): a later last
        term, or the same last term and at least as long."""
        last_term = st.log[-1].term
        return (m.last_log_term > last_term
                or m.last_log_term == last_term and m.last_log_index >= len(st.log) - 1)

    def may_vote(self, st: ServerState, candidate: str) -> bool:
        """votedFor is null or candidateId (any, under ``multiple_votes_per_term``)."""
        return st.voted_for is None or st.voted_for == candidate or self.multi_vote

    @on(RequestVote)
    def request_vote(self, st: ServerState, m: RequestVote, src: str, ctx) -> None:
        """Reply false if term < currentTerm; grant if votedFor is null or candidateId and
        the candidate's log is at least as up-to-date as the receiver's."""
        if m.pre_vote:
            self.answer_pre_vote(st, m, src, ctx)
            return
        if m.term < st.current_term:
            ctx.count("stale_messages_rejected")
            ctx.send(src, RequestVoteResult(st.current_term, False))
            return
        if self.ignores_vote_request(st, m, ctx):
            return
        if m.term > st.current_term:
            self.adopt_term(st, m.term, ctx)
        granted = (self.may_vote(st, m.candidate_id) and st.role is not LEADER
                   and self.up_to_date(st, m))
        if granted:
            st.voted_for = m.candidate_id
            ctx.set_timer(ELECTION, st.election_timeout)
            ctx.tell(VoteGranted(st.current_term, m.candidate_id))
        ctx.send(src, RequestVoteResult(st.current_term, granted))

    @on(RequestVoteResult)
    def request_vote_result(self, st: ServerState, m: RequestVoteResult, src: str,
                            ctx) -> None:
        """Votes received from a majority of servers: become leader."""
        if m.pre_vote:
            self.count_pre_vote(st, m, src, ctx)
            return
        if m.term > st.current_term:
            self.adopt_term(st, m.term, ctx)
            return
        if m.term < st.current_term:
            ctx.count("stale_messages_rejected")
            return
        if st.role is CANDIDATE and m.vote_granted and src not in st.votes:
            st.votes.append(src)
            if self.has_quorum(st, st.votes):
                self.become_leader(st, ctx)

    # -- followers: AppendEntries --------------------------------------------------------------
    @on(AppendEntries)
    def append_entries(self, st: ServerState, m: AppendEntries, src: str, ctx) -> None:
        """Reply false if term < currentTerm or the log has no matching entry at
        prevLogIndex; delete a conflicting suffix, append new entries, learn the commit
        index."""
        term = st.current_term
        if m.term < term:
            ctx.count("stale_messages_rejected")
            ctx.send(src, AppendEntriesResult(term, False, 0, 0))
            return
        if not self.follow(st, m.term, m.leader_id, ctx):
            return
        log = st.log
        prev = m.prev_log_index
        last = len(log) - 1
        entries = m.entries
        if prev < log.first:  # what it sends up to our snapshot is committed: ours too
            entries = entries[log.first - prev:]
            prev = log.first
        elif prev > last:
            ctx.count("log_mismatches")
            ctx.send(src, AppendEntriesResult(st.current_term, False, 0, last + 1))
            return
        elif log[prev].term != m.prev_log_term and not self.skip_term_check:
            ctx.count("log_mismatches")
            ctx.send(src, AppendEntriesResult(st.current_term, False, 0,
                                              self.conflict_hint(st, prev)))
            return
        match = prev + len(entries)
        if entries:
            self.store(st, prev, entries, last, ctx)
        if m.leader_commit > st.commit_index:
            new = m.leader_commit if m.leader_commit < match else match
            if new > st.commit_index:
                st.commit_index = new
                self.apply(st, ctx)
        ack = st.last_ack
        if ack is None or ack.match_index != match or ack.term != st.current_term:
            ack = st.last_ack = AppendEntriesResult(st.current_term, True, match, 0)
        ctx.send(src, ack)

    def follow(self, st: ServerState, term: int, leader_id: str, ctx) -> bool:
        """A message from the leader of ``term`` (not older than ours): adopt the term or
        stop campaigning, and hear from it (the election timer restarts). False for a
        rival leader of our own term (only a broken election makes one)."""
        if term > st.current_term:
            self.adopt_term(st, term, ctx)
        elif st.role is not FOLLOWER:
            if st.role is LEADER:
                ctx.note("ignored a rival leader", rival=leader_id, term=term)
                return False
            self.become_follower(st, ctx)
        st.leader_id = leader_id
        st.heard_leader_at = ctx.now
        ctx.set_timer(ELECTION, st.election_timeout)
        return True

    @staticmethod
    def conflict_hint(st: ServerState, prev: int) -> int:
        """The first index of the conflicting term (never below the commit point)."""
        log = st.log
        bad = log[prev].term
        i = prev
        floor = st.commit_index + 1
        while i > floor and log[i - 1].term == bad:
            i -= 1
        return i

    def store(self, st: ServerState, prev: int, entries: tuple, last: int, ctx) -> None:
        """Append entries after ``prev``, truncating only at the first conflict; a
        configuration appended or cut off takes effect at once."""
        log = st.log
        index = prev + 1
        for k, entry in enumerate(entries):
            if index > last:
                log.extend(entries[k:])
                break
            if log[index].term != entry.term:
                removed = last - index + 1
                cut = any(type(e) is ConfigEntry for e in log[index:])
                del log[index:]
                ctx.count("truncated_entries", removed)
                ctx.tell(LogTruncated(index, removed))
                if index <= st.commit_index:
                    self.uncommit(st, index, ctx)
                log.extend(entries[k:])
                if cut:
                    self.reconfigure(st, ctx)
                    return
                break
            index += 1
        else:
            return
        for entry in entries[k:]:
            if type(entry) is ConfigEntry:
                self.reconfigure(st, ctx)
                return

    @staticmethod
    def uncommit(st: ServerState, index: int, ctx) -> None:
        """A leader's entries replaced some this server had committed, from ``index`` on.
        Only a broken variant gets here (that leader lacks a committed entry:
        ``leader_completeness`` has fired). The commit point and what is applied fall back
        to the last entry the log still holds, so that the server goes on with the log it
        has; what it applies again at those indexes is judged by ``state_machine_safety``.
        (etcd's raft stops the process here instead.)"""
        ctx.note("committed entries replaced", from_index=index, commit_index=st.commit_index)
        st.commit_index = index - 1
        if st.last_applied > index - 1:
            st.last_applied = index - 1

    # -- leaders ---------------------------------------------------------------------------------
    def become_leader(self, st: ServerState, ctx) -> None:
        """Initialize nextIndex to the last log index + 1 and matchIndex to 0, then send
        heartbeats."""
        self.become(st, LEADER)
        st.leader_id = ctx.node
        st.votes = []
        ctx.cancel_timer(ELECTION)
        nxt = len(st.log)
        peers = ctx.peers
        st.next_index = dict.fromkeys(peers, nxt)
        st.match_index = dict.fromkeys(peers, 0)
        st.last_sent = dict.fromkeys(peers, -self.heartbeat)
        st.recent_active = dict.fromkeys(peers, False)
        self.retarget(st, ctx)
        ctx.tell(BecameLeader(st.current_term))
        self.heartbeat_due(st, HEARTBEAT, ctx)
        if self.storage_every:
            self.write_storage(st, STORAGE_WRITE, ctx)
        if self.check_quorum:
            ctx.set_timer(CHECK_QUORUM, self.timeout_lo)

    def send_append(self, st: ServerState, peer: str, now: int, ctx) -> None:
        log = st.log
        nxt = st.next_index[peer]
        if nxt <= log.first:
            self.send_snapshot(st, peer, now, ctx)
            return
        entries = tuple(log[nxt:nxt + self.max_entries]) if nxt < len(log) else ()
        ctx.send(peer, AppendEntries(st.current_term, ctx.node, nxt - 1, log[nxt - 1].term,
                                     entries, st.commit_index))
        st.last_sent[peer] = now

    @timer(RaftTimer.HEARTBEAT)
    def heartbeat_due(self, st: ServerState, _timer, ctx) -> None:
        """AppendEntries to every follower not sent to for half an interval."""
        if st.role is not LEADER:
            return
        now = ctx.now
        ctx.set_timer(HEARTBEAT, self.heartbeat)
        last_sent = st.last_sent
        next_index = st.next_index
        idle = now - self.idle
        log = st.log
        n = len(log)
        made = {}  # next index -> message: followers at the same place share one
        term, node, commit, most = st.current_term, ctx.node, st.commit_index, self.max_entries
        first = log.first
        for peer in st.targets:
            if last_sent[peer] <= idle:
                nxt = next_index[peer]
                if nxt <= first:
                    self.send_snapshot(st, peer, now, ctx)
                    continue
                msg = made.get(nxt)
                if msg is None:
                    entries = tuple(log[nxt:nxt + most]) if nxt < n else ()
                    msg = made[nxt] = AppendEntries(term, node, nxt - 1, log[nxt - 1].term,
                                                    entries, commit)
                ctx.send(peer, msg)
                last_sent[peer] = now

    @on(ClientRequest)
    def client_request(self, st: ServerState, m: ClientRequest, src: str, ctx) -> None:
        """The leader appends the command and replicates it; others redirect."""
        if st.role is not LEADER:
            ctx.send(src, ClientReply(m.request_id, False, st.leader_id))
            return
        self.append(st, Entry(st.current_term, m.request_id, m.key, m.value), ctx)

    def append(self, st: ServerState, entry: Entry, ctx) -> None:
        """Append a new entry to the leader's log and send it to caught-up followers."""
        log = st.log
        index = len(log)
        log.append(entry)
        if type(entry) is ConfigEntry:
            self.appended_config(st, ctx)
        msg = None
        next_index = st.next_index
        everyone = True
        now = ctx.now
        for peer in st.targets:
            if next_index[peer] == index:
                if msg is None:
                    msg = AppendEntries(st.current_term, ctx.node, index - 1,
                                        log[index - 1].term, (entry,), st.commit_index)
                ctx.send(peer, msg)
                st.last_sent[peer] = now
            else:
                everyone = False
        if everyone:  # this broadcast is as good as a heartbeat
            ctx.set_timer(HEARTBEAT, self.heartbeat)

    @on(AppendEntriesResult)
    def append_entries_result(self, st: ServerState, m: AppendEntriesResult, src: str,
                              ctx) -> None:
        """If successful, update nextIndex and matchIndex; if it fails because of log
        inconsistency, decrement nextIndex (to the follower's hint) and retry."""
        if not self.leads_in(st, m.term, src, ctx):
            return
        if m.success:
            self.matched(st, src, m.match_index, ctx)
            return
        next_index = st.next_index
        floor = st.match_index[src] + 1
        hint = m.conflict_index
        nxt = next_index[src] - 1
        if hint < nxt:
            nxt = hint
        next_index[src] = nxt if nxt > floor else floor
        self.send_append(st, src, ctx.now, ctx)

    def leads_in(self, st: ServerState, term: int, src: str, ctx) -> bool:
        """An answer to this leader in its current term (a newer term deposes it)."""
        if term > st.current_term:
            self.adopt_term(st, term, ctx)
            return False
        if st.role is not LEADER or term < st.current_term:
            if term < st.current_term:
                ctx.count("stale_messages_rejected")
            return False
        if self.check_quorum:
            st.recent_active[src] = True
        return True

    def matched(self, st: ServerState, src: str, match: int, ctx) -> None:
        """The follower's log matches ours up to ``match``: advance its next and match
        indexes, the commit index, and send what it still lacks."""
        if match > st.match_index[src]:  # else a heartbeat's or a duplicate's answer
            st.match_index[src] = match
            next_index = st.next_index
            if match + 1 > next_index[src]:
                next_index[src] = match + 1
            if match > st.commit_index:
                self.advance_commit(st, ctx)
                if st.role is not LEADER:  # it committed its own removal
                    return
            if next_index[src] < len(st.log):  # still behind: send the next entries now
                self.send_append(st, src, ctx.now, ctx)
        if st.learners:
            self.caught_up(st, src, ctx)

    def may_commit(self, st: ServerState, n: int) -> bool:
        """log[N].term == currentTerm: the Figure 8 rule (any term, under
        ``commit_old_terms_by_count``)."""
        return st.log[n].term == st.current_term or self.commit_by_count

    def advance_commit(self, st: ServerState, ctx) -> None:
        """If there exists an N > commitIndex such that a majority of matchIndex[i] >= N and
        log[N].term == currentTerm: set commitIndex = N."""
        if st.everyone:
            matches = sorted(st.match_index.values())
            # The leader holds its whole log; with it, the majority's lowest match is:
            n = matches[len(matches) + 1 - self.majority]
        else:  # the members' matches (the leader's own only if it is one)
            me, match_index = ctx.node, st.match_index
            matches = sorted(match_index[p] for p in st.config if p != me)
            need = len(st.config) // 2 + 1 - (me in st.config)
            n = (len(st.log) - 1 if need <= 0 else
                 matches[len(matches) - need] if len(matches) >= need else 0)
        if n > st.commit_index and self.may_commit(st, n):
            ctx.tell(Committed(st.current_term, st.commit_index, n))
            st.commit_index = n
            self.apply(st, ctx)
            self.committed(st, n, ctx)
            if not st.everyone or st.pending_change:
                self.membership_committed(st, ctx)

    # -- the fenced storage --------------------------------------------------------------------
    @timer(RaftTimer.STORAGE_WRITE)
    def write_storage(self, st: ServerState, _timer, ctx) -> None:
        """A leader's periodic write to the storage, fenced by its term."""
        if st.role is not LEADER:
            return
        ctx.send(STORAGE, StorageWrite(st.current_term, ctx.node, st.commit_index))
        ctx.set_timer(STORAGE_WRITE, self.storage_every)

    @on(StorageWriteResult)
    def storage_write_result(self, st: ServerState, m: StorageWriteResult, src: str,
                             ctx) -> None:
        """A fenced writer learns a newer term exists, and steps down."""
        if not m.accepted:
            ctx.note("write fenced by the storage", token=m.token, highest=m.highest_token)
            if m.highest_token > st.current_term:
                self.adopt_term(st, m.highest_token, ctx)

    # -- display ---------------------------------------------------------------------------------
    def log_tail(self, node_id: str, log) -> tuple[int, list]:
        """The index of the first of the last 30 entries of ``log`` and those entries as
        ``[term, key, value]``: the same list as last time while the log has not changed
        (a frame then skips it at once), and the same ``[term, key, value]`` for an entry
        still at its index (an entry appended makes two new lists, not thirty-one: the
        collector walks what is new)."""
        cached = self._tails.get(node_id)
        if cached is not None and cached[0] is log and cached[1] == log.version:
            return cached[2], cached[3]
        start = max(log.first + 1, len(log) - 30)
        entries = log[start:]
        _log, _version, was, drawn, had = cached or (None, 0, start, (), ())
        tail = [drawn[i] if 0 <= i < len(had) and had[i] is e else [e.term, e.key, e.value]
                for i, e in enumerate(entries, start - was)]
        self._tails[node_id] = (log, log.version, start, tail, entries)
        return start, tail

    def label(self, st):
        """The role; a follower outside its configuration is "outside"."""
        return st.role.value if st.member or st.role is not FOLLOWER else "outside"

    def summary(self, node_id, st):
        """A server's term, vote, commit point and the tail of its log (for the UI)."""
        log = st.log
        first = log.first
        start, tail = self.log_tail(node_id, log)
        out = {"role": st.role.value, "current_term": st.current_term,
               "voted_for": st.voted_for, "leader": st.leader_id,
               "last_log_index": len(log) - 1, "commit_index": st.commit_index,
               "last_applied": st.last_applied, "snapshot_index": first,
               "member": node_id in st.config, "config": st.config,
               "snapshot_term": log[first].term, "log_start": start, "log": tail}
        if st.role is LEADER:
            out["next_index"] = dict(st.next_index)
            out["match_index"] = dict(st.match_index)
            if st.learners:
                out["learners"] = list(st.learners)
        return out
