"""Raft: leader election, log replication, commitment by quorum, and fencing tokens.

Theory of operation
-------------------
What is modelled. Servers ``n1`` … ``nN`` (3 to 51) run Raft as in Figure 2 of the paper
(Ongaro and Ousterhout, "In Search of an Understandable Consensus Algorithm", 2014):

* **State.** Durable: ``current_term``, ``voted_for`` and the ``log`` (a list of immutable
  :class:`Entry` objects, 1-based behind a sentinel at index 0). Volatile: ``commit_index``,
  ``last_applied``, the key-value state machine, and on leaders ``next_index`` /
  ``match_index`` per follower. A restarted server keeps its log and relearns its commit
  index from the leader, re-applying committed entries from the start.
* **Elections.** A follower that hears nothing from a leader within its randomized
  election timeout (drawn from ``ctx.rng`` at start and at each role change, measured on its
  own clock) becomes a candidate, increments its term, votes for itself and sends
  ``RequestVote``. A server grants one vote per term, and only to a candidate whose log is
  at least as up to date as its own (last term, then length). A majority makes a leader.
* **Replication.** The leader sends ``AppendEntries`` with ``prev_log_index`` and
  ``prev_log_term``: immediately to caught-up followers when a client request arrives,
  again whenever a follower acknowledges and is still behind, and as a heartbeat to any
  follower it has not sent to for half a heartbeat interval (the paper's "during idle
  periods"). A follower rejects a mismatch with a hint (the first index of its
  conflicting term, or its log's end), truncates only a conflicting suffix (never
  entries that match) and appends what is new. The leader backs ``next_index`` off to
  the hint and retries at once.
* **Commitment.** A leader commits index N once a majority's ``match_index`` reaches N
  *and* ``log[N]`` is from its current term (the Figure 8 rule); earlier entries are then
  committed indirectly. Followers learn ``leader_commit`` and apply in order.
* **Terms are logical clocks.** Any message with a newer term makes the receiver adopt the
  term and step down to follower; a message from an older term is rejected.
* **Client.** The ``client`` node issues ``requests_per_second`` puts to the server it
  believes leads; a follower redirects with its ``leader_id``; unanswered requests are
  retried after ``request_timeout_ms`` at another server. The leader answers when it
  applies the entry. Outcomes are counted and latencies observed (``client_latency_ms``).
* **Fencing.** While it believes it leads, a leader writes to the external ``storage``
  node every ``storage_write_ms`` (and on election), with its term as the token. The
  storage rejects a token below the highest it has accepted; a rejected writer learns the
  newer term and steps down. The writes need no quorum, so a zombie leader cut off from
  the cluster keeps writing until it learns otherwise.
* **Beyond the paper's Figure 2** (switches, as in etcd): ``prevote`` (a node first asks
  whether it *could* win, without raising its term; servers that heard from a leader
  within the minimum election timeout say no) and ``check_quorum`` (a leader that has not
  heard from a majority within an election timeout steps down; servers ignore a
  RequestVote while they still hear from a leader).

* **Reads** (``read_mode``, Ongaro's dissertation §6.4): with ReadIndex a leader notes its
  commit index, confirms with a round of ``ReadIndexHeartbeat`` that a majority still
  follows it, and answers once it has applied that index; a leader with no committed
  entry of its own term first appends a no-op (request id 0) and waits for it. With
  ``lease`` (§6.4.1) a confirmed round also gives the leader a lease of the minimum
  election timeout on its own clock, during which it answers alone: safe with
  ``check_quorum`` while clocks keep time. The broken ``local`` mode answers at once
  from the leader's own state machine.

* **Client sessions** (``client_sessions``, dissertation §6.3): a retry after a lost reply
  may put a request in the log twice; each state machine remembers the request ids it
  has executed and answers a second copy without executing it (never trimmed here).

What is simplified. No membership changes, snapshots or log compaction; one client
node; no drift bound subtracted from a read lease; a no-op entry only when a read needs
one. The storage is a register with a fencing check, not a database.

Invariants (checked after every event, incrementally):

* ``election_safety``: at most one leader per term (ghost: the leader of each term,
  recorded when a server is first seen leading).
* ``log_matching``: two logs holding an entry with the same index and term are identical
  up to it (ghost: each log prefix gets an id from (parent id, entry), so one id stands
  for a whole prefix; when a log change creates a new id, the (index, term) it ends at
  must not already belong to another id).
* ``leader_completeness``: a new leader's log holds every entry committed in earlier terms
  (ghost: the prefix id of the committed log, extended when a leader advances its commit
  index, with the term of that leader; a leader of term T is compared with the committed
  log up to the last index committed before T).
* ``state_machine_safety``: no two servers apply different commands at one index.
* ``fencing``: the storage never accepts a token lower than one it already accepted.
* ``at_most_once``: no state machine executes a client request twice (each records a
  repeat it runs, which only happens without sessions).
* ``linearizable_reads``: a read returns the key's value after some committed index
  between its start and its answer (ghost: the committed index when the client issued
  it, and each key's committed writes in log order).

Broken variants, each caught by one of them: ``skip_prev_log_term_check`` (log_matching),
``commit_old_terms_by_count`` (the Figure 8 bug: leader_completeness and
state_machine_safety), ``multiple_votes_per_term`` (election_safety), ``fencing`` off
(fencing), ``read_mode`` ``local`` (linearizable_reads), ``client_sessions`` off
(at_most_once).

Claims served: C01 (election by timeout, split votes), C02 (quorum prevents split brain),
C03 (log matching and repair), C04 (fencing tokens), C05 (terms as logical clocks).
"""

from __future__ import annotations

import enum
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from . import register
from .base import MS, SECOND, Invariant, Model, NodeAction, Param, Variant
from .fsm import Transitions
from .raft_messages import (SENTINEL, AppendEntries, AppendEntriesResult, ClientReply,
                            ClientRequest, Entry, ReadIndexHeartbeat,
                            ReadIndexHeartbeatResult, ReadReply, ReadRequest, RequestVote,
                            RequestVoteResult, StorageWrite, StorageWriteResult)

CLIENT = "client"
STORAGE = "storage"

ELECTION = "election"
HEARTBEAT = "heartbeat"
STORAGE_WRITE = "storage_write"
CHECK_QUORUM = "check_quorum"
ISSUE = "issue"
READ = "read"
RETRY = "retry:"  # + request id
READ_RETRY = "read_retry:"  # + request id


class Role(enum.Enum):
    """A server's role; moves only as ``ROLES`` allows."""

    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


FOLLOWER, PRE_CANDIDATE, CANDIDATE, LEADER = (Role.FOLLOWER, Role.PRE_CANDIDATE,
                                              Role.CANDIDATE, Role.LEADER)

ROLES = Transitions("raft server", {
    FOLLOWER: (FOLLOWER, PRE_CANDIDATE, CANDIDATE),
    PRE_CANDIDATE: (FOLLOWER, PRE_CANDIDATE, CANDIDATE),
    CANDIDATE: (FOLLOWER, CANDIDATE, LEADER),
    LEADER: (FOLLOWER,),
})


@dataclass(slots=True)
class ServerState:
    current_term: int = 0
    voted_for: str | None = None
    log: list = field(default_factory=lambda: [SENTINEL])
    role: Role = FOLLOWER
    leader_id: str | None = None
    commit_index: int = 0
    last_applied: int = 0
    kv: dict = field(default_factory=dict)
    executed: dict = field(default_factory=dict)  # client sessions: request id -> index run at
    executed_again: list = field(default_factory=list)  # (request id, first index, index)
    election_timeout: int = 0  # µs, drawn at start and at each role change
    heard_leader_at: int | None = None  # local µs of the last AppendEntries from a leader
    votes: list = field(default_factory=list)  # who granted this (pre-)candidacy
    next_index: dict = field(default_factory=dict)
    match_index: dict = field(default_factory=dict)
    last_sent: dict = field(default_factory=dict)  # local µs of the last AppendEntries
    recent_active: dict = field(default_factory=dict)  # check_quorum: heard since last check
    last_ack: AppendEntriesResult | None = None  # resent as is while term and match hold
    # ReadIndex, on a leader: read id -> [request id, key, read index, who confirmed, client,
    # local time its heartbeats went out]
    reads: dict = field(default_factory=dict)
    lease_until: int | None = None  # read_mode lease: local time until which reads are local
    deferred_reads: list = field(default_factory=list)  # (request id, key, client)
    next_read: int = 1


@dataclass(slots=True)
class ClientState:
    next_request: int = 1
    leader_guess: str | None = None
    pending: dict = field(default_factory=dict)  # request_id -> (issued_at, key, value)
    answered: int = 0
    reads: dict = field(default_factory=dict)  # request_id -> (issued_at, key, asked)
    reads_issued: int = 0
    last_read_issued: int = 0  # request id
    reads_answered: int = 0
    last_read: tuple = ()  # (request id, key, value, server that answered)


@dataclass(slots=True)
class StorageState:
    highest_token: int = 0
    accepted: int = 0
    rejected: int = 0
    stale_accepted: int = 0
    last_write: tuple = ()  # (token, writer, highest before, accepted)
    writes: list = field(default_factory=list)  # the latest few, for the panel


@dataclass(slots=True)
class RaftGhost:
    """The observer's notebook (invariants and metrics only; handlers never read it)."""

    leaders: dict = field(default_factory=dict)  # term -> first server seen leading it
    leader_seen: dict = field(default_factory=dict)  # (term, server) -> True
    candidates: dict = field(default_factory=dict)  # term -> candidacies started in it
    prefix_ids: dict = field(default_factory=dict)  # (parent id, term, request) -> prefix id
    prefixes: list = field(default_factory=lambda: [(0, SENTINEL, 0)])  # id: parent, Entry, index
    at: dict = field(default_factory=dict)  # (index, term) -> (prefix id, server)
    chains: dict = field(default_factory=dict)  # server -> prefix id of each log index
    dirty: dict = field(default_factory=dict)  # server -> lowest log index changed
    committed: list = field(default_factory=lambda: [0])  # prefix id per committed index
    commit_terms: list = field(default_factory=lambda: [0])  # term of the leader committing it
    applied: list = field(default_factory=lambda: [SENTINEL])  # entry applied per index
    seen: dict = field(default_factory=dict)  # server -> [commit_index, last_applied, led term]
    minority: dict = field(default_factory=dict)  # (index, term) appended out of a majority
    minority_appends: int = 0
    commits_in_minority: int = 0
    stale_seen: int = 0
    committed_requests: dict = field(default_factory=dict)  # request id -> committed index
    write_index: dict = field(default_factory=dict)  # key -> committed indexes writing it
    write_value: dict = field(default_factory=dict)  # key -> the values written there
    executed_again: dict = field(default_factory=dict)  # server -> its repeats reported
    read_start: dict = field(default_factory=dict)  # read request -> committed index at issue
    reads_registered: int = 0
    reads_checked: int = 0
    stale_reads: int = 0


def _range_schema(lo: int, hi: int) -> dict:
    return {"type": "array", "items": {"type": "number", "minimum": lo, "maximum": hi},
            "minItems": 2, "maxItems": 2}


@register
class Raft(Model):
    name = "raft"
    title = "Raft: elections, log replication, quorum and fencing"
    invariants = (
        Invariant("election_safety", "At most one leader is elected in a term."),
        Invariant("log_matching", "If two logs hold an entry with the same index and term, "
                                  "they are identical in all entries up to it."),
        Invariant("leader_completeness", "A leader's log holds every entry committed "
                                         "before its term."),
        Invariant("state_machine_safety", "No two servers apply different commands at "
                                          "the same log index."),
        Invariant("fencing", "The storage never accepts a write whose token is below one "
                             "it has already accepted."),
        Invariant("at_most_once", "A client request is executed by a state machine at most "
                                  "once, even when a retry puts it in the log twice."),
        Invariant("linearizable_reads", "A read returns a value the key held at some moment "
                                        "between the read's start and its answer: never one "
                                        "older than a write committed before it started."),
    )
    variants = (
        Variant("prevote", False, "PreVote: ask whether an election could be won before "
                                  "raising the term (stops rejoining nodes disrupting)."),
        Variant("check_quorum", False, "CheckQuorum: a leader that stops hearing from a "
                                       "majority steps down; servers that hear a leader "
                                       "ignore vote requests."),
        Variant("fencing", True, "The storage rejects tokens below the highest accepted.",
                broken=(False,)),
        Variant("skip_prev_log_term_check", False, "Followers accept AppendEntries without "
                "checking prev_log_term (only that the index exists).", broken=(True,)),
        Variant("commit_old_terms_by_count", False, "Leaders commit entries of earlier "
                "terms by counting replicas (the Figure 8 bug).", broken=(True,)),
        Variant("multiple_votes_per_term", False, "Servers may grant more than one vote "
                "in a term.", broken=(True,)),
        Variant("client_sessions", True, "Each state machine remembers the requests it has "
                "executed (the dissertation's client sessions): a request that a retry after "
                "a lost reply put in the log twice is answered again but executed once.",
                broken=(False,)),
        Variant("read_mode", "read_index", "How a leader answers a read. read_index: it "
                "confirms it still leads with a round of heartbeats, then answers once it has "
                "applied its commit index (linearizable). lease: a confirmed round also gives "
                "it a lease of the minimum election timeout, on its own clock, during which "
                "it answers alone; safe only with check_quorum and clocks that keep time. "
                "local: it answers at once from its own state machine, so a deposed leader "
                "serves stale values.",
                choices=("read_index", "lease", "local"), broken=("local",)),
    )
    params = (
        Param("election_timeout_ms", [150, 300], "Randomized election timeout range.",
              _range_schema(1, 60_000)),
        Param("heartbeat_ms", 50, "Leader heartbeat interval.",
              {"type": "number", "minimum": 1, "maximum": 60_000}),
        Param("max_entries_per_append", 4, "Most entries one AppendEntries carries.",
              {"type": "integer", "minimum": 1, "maximum": 1000}),
        Param("requests_per_second", 10, "Client workload (0: only injected requests).",
              {"type": "number", "minimum": 0, "maximum": 1000}),
        Param("request_timeout_ms", 500, "Client retries a request unanswered this long.",
              {"type": "number", "minimum": 1, "maximum": 60_000}),
        Param("reads_per_second", 0, "Client reads per second (0: only injected reads).",
              {"type": "number", "minimum": 0, "maximum": 1000}),
        Param("keys", 8, "Number of distinct keys the client writes.",
              {"type": "integer", "minimum": 1, "maximum": 1000}),
        Param("storage_write_ms", 500, "A leader writes to the storage this often "
              "(0: never).", {"type": "number", "minimum": 0, "maximum": 60_000}),
    )
    commands = {
        "put": {"properties": {"key": {"type": "string", "minLength": 1, "maxLength": 40},
                               "value": {"type": "integer"},
                               "node": {"type": "string", "pattern": "^n[0-9]+$"}},
                "required": ["key", "value"]},  # node: the server to send it to
        "timeout_now": {"properties": {"node": {"type": "string", "pattern": "^n[0-9]+$"}},
                        "required": ["node"]},  # the server's election timer fires at once
        "get": {"properties": {"key": {"type": "string", "minLength": 1, "maxLength": 40},
                               "node": {"type": "string", "pattern": "^n[0-9]+$"}},
                "required": ["key"]},  # node: the server to ask (default: the leader)
    }
    durable = ("current_term", "voted_for", "log",  # servers
               "highest_token", "accepted", "rejected", "stale_accepted", "last_write",
               "writes",  # the storage is an external durable resource
               "next_request")  # the client never reuses a request id, even after a crash
    node_actions = (
        NodeAction("timeout_now", "Time out now", ("server",)),
        NodeAction("put", "Client request to this server", ("server",)),
    )
    default_nodes = 5
    min_nodes = 3
    max_nodes = 51

    def __init__(self, nodes: int, params: dict, variant: dict):
        p = {prm.name: prm.default for prm in type(self).params}
        p.update(params)
        v = {var.name: var.default for var in type(self).variants}
        v.update(variant)
        super().__init__(nodes, p, v)
        self.servers = tuple(f"n{i}" for i in range(1, nodes + 1))
        self.majority = nodes // 2 + 1
        lo, hi = p["election_timeout_ms"]
        self.timeout_lo = int(lo * MS)
        self.timeout_hi = max(self.timeout_lo, int(hi * MS))
        self.heartbeat = max(1, int(p["heartbeat_ms"] * MS))
        self.idle = self.heartbeat // 2
        self.max_entries = p["max_entries_per_append"]
        rps = p["requests_per_second"]
        self.issue_every = int(SECOND / rps) if rps > 0 else 0
        reads = p["reads_per_second"]
        self.read_every = int(SECOND / reads) if reads > 0 else 0
        self.read_local = v["read_mode"] == "local"
        self.read_lease = v["read_mode"] == "lease"
        self.sessions = bool(v["client_sessions"])
        self.request_timeout = max(1, int(p["request_timeout_ms"] * MS))
        self.keys = tuple(f"k{i}" for i in range(p["keys"]))
        self.storage_every = int(p["storage_write_ms"] * MS)
        self.prevote = bool(v["prevote"])
        self.check_quorum = bool(v["check_quorum"])
        self.fencing = bool(v["fencing"])
        self.skip_term_check = bool(v["skip_prev_log_term_check"])
        self.commit_by_count = bool(v["commit_old_terms_by_count"])
        self.multi_vote = bool(v["multiple_votes_per_term"])
        self._handlers = {  # message class -> handler (servers, then client and storage)
            RequestVote: self._on_request_vote,
            RequestVoteResult: self._on_request_vote_result,
            AppendEntries: self._on_append_entries,
            AppendEntriesResult: self._on_append_entries_result,
            ClientRequest: self._on_client_request,
            StorageWriteResult: self._on_storage_write_result,
            ClientReply: self._on_client_reply,
            StorageWrite: self._on_storage_write,
            ReadRequest: self._on_read_request,
            ReadIndexHeartbeat: self._on_read_index_heartbeat,
            ReadIndexHeartbeatResult: self._on_read_index_heartbeat_result,
            ReadReply: self._on_read_reply,
        }

    # -- the cluster -------------------------------------------------------------------
    def node_ids(self):
        return [*self.servers, CLIENT, STORAGE]

    def peers_of(self, node_id, all_ids):
        if node_id == STORAGE:
            return ()
        if node_id == CLIENT:
            return self.servers
        return tuple(s for s in self.servers if s != node_id)

    def init_node(self, node_id):
        if node_id == CLIENT:
            return ClientState()
        if node_id == STORAGE:
            return StorageState()
        return ServerState()

    def init_ghost(self):
        g = RaftGhost()
        for s in self.servers:
            g.chains[s] = [0]
            g.seen[s] = [0, 0, -1]
            g.executed_again[s] = 0
        return g

    # -- handlers ----------------------------------------------------------------------
    def on_start(self, state, ctx):
        """Servers arm their election timer; the client starts its workload."""
        kind = type(state)
        if kind is ServerState:
            state.election_timeout = self._draw_timeout(ctx)
            ctx.set_timer(ELECTION, state.election_timeout)
        elif kind is ClientState:
            if self.issue_every:
                ctx.set_timer(ISSUE, self.issue_every)
            if self.read_every:
                ctx.set_timer(READ, self.read_every)

    def on_message(self, state, msg, src, ctx):
        """Dispatch on the message class."""
        handler = self._handlers.get(type(msg))
        if handler is None:
            raise TypeError(f"raft: unexpected message {type(msg).__name__}")
        handler(state, msg, src, ctx)

    def on_timer(self, state, name, ctx):
        """Election timeout, heartbeat, storage write, quorum check, client timers."""
        if name == HEARTBEAT:
            self._on_heartbeat(state, ctx)
        elif name == ELECTION:
            self._on_election_timeout(state, ctx)
        elif name == ISSUE:
            ctx.set_timer(ISSUE, self.issue_every)
            self._issue(state, ctx.rng.choice(self.keys), state.next_request, ctx)
        elif name == STORAGE_WRITE:
            self._write_storage(state, ctx)
        elif name == CHECK_QUORUM:
            self._on_check_quorum(state, ctx)
        elif name.startswith(RETRY):
            self._on_retry(state, int(name[len(RETRY):]), ctx)
        elif name == READ:
            ctx.set_timer(READ, self.read_every)
            self._issue_read(state, ctx.rng.choice(self.keys), None, ctx)
        elif name.startswith(READ_RETRY):
            self._on_read_retry(state, int(name[len(READ_RETRY):]), ctx)

    def on_command(self, state, command, ctx):
        """A user's put or get goes to the client, which sends it like any other request
        (to the server it names, if it names one); ``timeout_now`` goes to the server,
        whose election timer fires at once."""
        kind = command["type"]
        if kind == "timeout_now":
            if state.role is LEADER:
                ctx.note("timeout_now ignored: a leader has no election timer to fire")
            else:
                self._on_election_timeout(state, ctx)
        elif kind == "get":
            self._issue_read(state, command["key"], command.get("node"), ctx)
        else:
            self._issue(state, command["key"], command["value"], ctx, command.get("node"))

    def command_target(self, command, view):
        return command["node"] if command["type"] == "timeout_now" else CLIENT

    def role_of(self, node_id):
        return node_id if node_id in (CLIENT, STORAGE) else "server"

    def is_helper(self, node_id):
        return node_id in (CLIENT, STORAGE)

    # -- roles -------------------------------------------------------------------------
    def _draw_timeout(self, ctx) -> int:
        return ctx.rng.randint(self.timeout_lo, self.timeout_hi)

    @staticmethod
    def _become(st: ServerState, role: Role) -> None:
        st.role = ROLES.move(st.role, role)

    def _adopt_term(self, st: ServerState, term: int, ctx) -> None:
        """A newer term: adopt it, forget the vote, and step down if not a follower."""
        was = st.role
        st.current_term = term
        st.voted_for = None
        st.leader_id = None
        if was is not FOLLOWER:
            self._become_follower(st, ctx)
            if was is LEADER:
                ctx.count("leader_step_downs")
                ctx.note("stepped down: saw a newer term", term=term)

    def _become_follower(self, st: ServerState, ctx) -> None:
        if st.role is LEADER:
            ctx.cancel_timer(HEARTBEAT)
            ctx.cancel_timer(STORAGE_WRITE)
            ctx.cancel_timer(CHECK_QUORUM)
            st.lease_until = None
            if st.reads or st.deferred_reads:  # unanswered: the client's retry goes elsewhere
                ctx.count("reads_abandoned", len(st.reads) + len(st.deferred_reads))
                st.reads = {}
                st.deferred_reads = []
        self._become(st, FOLLOWER)
        st.votes = []
        st.election_timeout = self._draw_timeout(ctx)
        ctx.set_timer(ELECTION, st.election_timeout)

    def _on_election_timeout(self, st, ctx) -> None:
        """No leader heard within the timeout: campaign (after a pre-vote if enabled)."""
        if st.role is LEADER:
            return
        if self.prevote and st.role is not CANDIDATE:
            self._become(st, PRE_CANDIDATE)
            st.votes = [ctx.node]
            st.election_timeout = self._draw_timeout(ctx)
            ctx.set_timer(ELECTION, st.election_timeout)
            ctx.count("prevote_rounds")
            self._ask_votes(st, st.current_term + 1, True, ctx)
        else:
            self._start_election(st, ctx)

    def _start_election(self, st, ctx) -> None:
        self._become(st, CANDIDATE)
        st.current_term += 1
        st.voted_for = ctx.node
        st.leader_id = None
        st.votes = [ctx.node]
        st.election_timeout = self._draw_timeout(ctx)
        ctx.set_timer(ELECTION, st.election_timeout)
        ctx.count("elections")
        ghost = ctx.ghost
        if ghost is not None:
            ghost.candidates[st.current_term] = ghost.candidates.get(st.current_term, 0) + 1
        ctx.note("election started", term=st.current_term)
        self._ask_votes(st, st.current_term, False, ctx)

    def _ask_votes(self, st, term: int, pre_vote: bool, ctx) -> None:
        log = st.log
        msg = RequestVote(term, ctx.node, len(log) - 1, log[-1].term, pre_vote)
        for peer in ctx.peers:
            ctx.send(peer, msg)

    def _become_leader(self, st, ctx) -> None:
        self._become(st, LEADER)
        st.leader_id = ctx.node
        st.votes = []
        ctx.cancel_timer(ELECTION)
        nxt = len(st.log)
        peers = ctx.peers
        st.next_index = dict.fromkeys(peers, nxt)
        st.match_index = dict.fromkeys(peers, 0)
        st.last_sent = dict.fromkeys(peers, -self.heartbeat)
        st.recent_active = dict.fromkeys(peers, False)
        ctx.note("became leader", term=st.current_term)
        self._on_heartbeat(st, ctx)
        if self.storage_every:
            self._write_storage(st, ctx)
        if self.check_quorum:
            ctx.set_timer(CHECK_QUORUM, self.timeout_lo)

    def _log_changed(self, ctx, index: int) -> None:
        ghost = ctx.ghost
        if ghost is not None:
            dirty = ghost.dirty
            old = dirty.get(ctx.node)
            if old is None or index < old:
                dirty[ctx.node] = index

    # -- RequestVote -------------------------------------------------------------------
    def _up_to_date(self, st, msg) -> bool:
        last_term = st.log[-1].term
        return (msg.last_log_term > last_term
                or msg.last_log_term == last_term and msg.last_log_index >= len(st.log) - 1)

    def _in_lease(self, st, ctx) -> bool:
        """Whether this server still hears from a leader (for PreVote and CheckQuorum)."""
        if st.role is LEADER:
            return True
        heard = st.heard_leader_at
        return (st.leader_id is not None and heard is not None
                and ctx.now - heard < self.timeout_lo)

    def _on_request_vote(self, st, m, src, ctx) -> None:
        """Grant at most one vote per term, to a candidate at least as up to date."""
        if m.pre_vote:
            granted = (m.term > st.current_term and self._up_to_date(st, m)
                       and not self._in_lease(st, ctx))
            ctx.send(src, RequestVoteResult(m.term if granted else st.current_term,
                                            granted, True))
            return
        if m.term < st.current_term:
            ctx.count("stale_messages_rejected")
            ctx.send(src, RequestVoteResult(st.current_term, False))
            return
        if self.check_quorum and m.term > st.current_term and self._in_lease(st, ctx):
            ctx.count("votes_ignored_in_lease")
            return
        if m.term > st.current_term:
            self._adopt_term(st, m.term, ctx)
        granted = ((st.voted_for is None or st.voted_for == m.candidate_id or self.multi_vote)
                   and st.role is not LEADER and self._up_to_date(st, m))
        if granted:
            st.voted_for = m.candidate_id
            ctx.set_timer(ELECTION, st.election_timeout)
        ctx.send(src, RequestVoteResult(st.current_term, granted))

    def _on_request_vote_result(self, st, m, src, ctx) -> None:
        """Count votes; a majority wins (a pre-vote majority starts the real election)."""
        if m.pre_vote:
            if st.role is PRE_CANDIDATE and m.vote_granted and m.term == st.current_term + 1:
                if src not in st.votes:
                    st.votes.append(src)
                    if len(st.votes) >= self.majority:
                        self._start_election(st, ctx)
            elif m.term > st.current_term and not m.vote_granted:
                self._adopt_term(st, m.term, ctx)
            return
        if m.term > st.current_term:
            self._adopt_term(st, m.term, ctx)
            return
        if m.term < st.current_term:
            ctx.count("stale_messages_rejected")
            return
        if st.role is CANDIDATE and m.vote_granted and src not in st.votes:
            st.votes.append(src)
            if len(st.votes) >= self.majority:
                self._become_leader(st, ctx)

    # -- AppendEntries -----------------------------------------------------------------
    def _on_append_entries(self, st, m, src, ctx) -> None:
        """Check prev_log_index/prev_log_term, repair a conflicting suffix, learn commits."""
        term = st.current_term
        if m.term < term:
            ctx.count("stale_messages_rejected")
            ctx.send(src, AppendEntriesResult(term, False, 0, 0))
            return
        if m.term > term:
            self._adopt_term(st, m.term, ctx)
        elif st.role is not FOLLOWER:
            if st.role is LEADER:  # a rival leader of the same term (a broken election)
                ctx.note("ignored AppendEntries from a rival leader", rival=src, term=term)
                return
            self._become_follower(st, ctx)
        st.leader_id = m.leader_id
        st.heard_leader_at = ctx.now
        ctx.set_timer(ELECTION, st.election_timeout)
        log = st.log
        prev = m.prev_log_index
        last = len(log) - 1
        if prev > last:
            ctx.count("log_mismatches")
            ctx.send(src, AppendEntriesResult(st.current_term, False, 0, last + 1))
            return
        if log[prev].term != m.prev_log_term and not self.skip_term_check:
            ctx.count("log_mismatches")
            ctx.send(src, AppendEntriesResult(st.current_term, False, 0,
                                              self._conflict_hint(st, prev)))
            return
        entries = m.entries
        match = prev + len(entries)
        if entries:
            self._store(st, prev, entries, last, ctx)
        if m.leader_commit > st.commit_index:
            new = m.leader_commit if m.leader_commit < match else match
            if new > st.commit_index:
                st.commit_index = new
                self._apply(st, ctx)
        ack = st.last_ack
        if ack is None or ack.match_index != match or ack.term != st.current_term:
            ack = st.last_ack = AppendEntriesResult(st.current_term, True, match, 0)
        ctx.send(src, ack)

    @staticmethod
    def _conflict_hint(st, prev: int) -> int:
        """The first index of the conflicting term (never below the commit point)."""
        log = st.log
        bad = log[prev].term
        i = prev
        floor = st.commit_index + 1
        while i > floor and log[i - 1].term == bad:
            i -= 1
        return i

    def _store(self, st, prev: int, entries: tuple, last: int, ctx) -> None:
        """Append entries after ``prev``, truncating only at the first conflict."""
        log = st.log
        index = prev + 1
        for k, entry in enumerate(entries):
            if index > last:
                log.extend(entries[k:])
                self._log_changed(ctx, index)
                return
            if log[index].term != entry.term:
                removed = last - index + 1
                del log[index:]
                ctx.count("truncated_entries", removed)
                ctx.note("truncated conflicting entries", from_index=index, removed=removed)
                log.extend(entries[k:])
                self._log_changed(ctx, index)
                return
            index += 1

    def _apply(self, st, ctx) -> None:
        """Apply committed entries in order; the leader answers the client. With client
        sessions a request already executed is answered again but not executed again."""
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
                    st.executed_again.append((rid, first, index))
                if leading:
                    ctx.send(CLIENT, ClientReply(rid, True, ctx.node))

    # -- the leader --------------------------------------------------------------------
    def _send_append(self, st, peer: str, now: int, ctx) -> None:
        log = st.log
        nxt = st.next_index[peer]
        entries = tuple(log[nxt:nxt + self.max_entries]) if nxt < len(log) else ()
        ctx.send(peer, AppendEntries(st.current_term, ctx.node, nxt - 1, log[nxt - 1].term,
                                     entries, st.commit_index))
        st.last_sent[peer] = now

    def _on_heartbeat(self, st, ctx) -> None:
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
        for peer in ctx.peers:
            if last_sent[peer] <= idle:
                nxt = next_index[peer]
                msg = made.get(nxt)
                if msg is None:
                    entries = tuple(log[nxt:nxt + most]) if nxt < n else ()
                    msg = made[nxt] = AppendEntries(term, node, nxt - 1, log[nxt - 1].term,
                                                    entries, commit)
                ctx.send(peer, msg)
                last_sent[peer] = now

    def _on_client_request(self, st, m, src, ctx) -> None:
        """The leader appends the command and replicates it; others redirect."""
        if st.role is not LEADER:
            ctx.send(src, ClientReply(m.request_id, False, st.leader_id))
            return
        self._append(st, Entry(st.current_term, m.request_id, m.key, m.value), ctx)

    def _append(self, st, entry: Entry, ctx) -> None:
        """Append a new entry to the leader's log and send it to caught-up followers."""
        log = st.log
        index = len(log)
        log.append(entry)
        self._log_changed(ctx, index)
        msg = None
        next_index = st.next_index
        everyone = True
        now = ctx.now
        for peer in ctx.peers:
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

    def _on_append_entries_result(self, st, m, src, ctx) -> None:
        """Advance match/next index and the commit index, or back off and retry."""
        if m.term > st.current_term:
            self._adopt_term(st, m.term, ctx)
            return
        if st.role is not LEADER or m.term < st.current_term:
            if m.term < st.current_term:
                ctx.count("stale_messages_rejected")
            return
        if self.check_quorum:
            st.recent_active[src] = True
        next_index = st.next_index
        if m.success:
            match = m.match_index
            if match <= st.match_index[src]:
                return  # a heartbeat's or a duplicate's answer: nothing new
            st.match_index[src] = match
            if match + 1 > next_index[src]:
                next_index[src] = match + 1
            if match > st.commit_index:
                self._advance_commit(st, ctx)
            if next_index[src] < len(st.log):  # still behind: send the next entries now
                self._send_append(st, src, ctx.now, ctx)
            return
        floor = st.match_index[src] + 1
        hint = m.conflict_index
        nxt = next_index[src] - 1
        if hint < nxt:
            nxt = hint
        next_index[src] = nxt if nxt > floor else floor
        self._send_append(st, src, ctx.now, ctx)

    def _advance_commit(self, st, ctx) -> None:
        """Commit the highest index a majority holds, if it is from the current term."""
        log = st.log
        matches = sorted(st.match_index.values())
        # The leader holds its whole log; with it, the majority's lowest match is:
        n = matches[len(matches) + 1 - self.majority]
        if n > st.commit_index and (log[n].term == st.current_term or self.commit_by_count):
            st.commit_index = n
            self._apply(st, ctx)
            if st.deferred_reads and log[n].term == st.current_term:
                deferred, st.deferred_reads = st.deferred_reads, []
                for rid, key, client in deferred:
                    self._start_read(st, rid, key, client, ctx)
            if st.reads:
                self._answer_reads(st, ctx)

    def _on_check_quorum(self, st, ctx) -> None:
        """CheckQuorum: step down unless a majority answered since the last check."""
        if st.role is not LEADER:
            return
        active = 1 + sum(1 for v in st.recent_active.values() if v)
        if active < self.majority:
            ctx.count("check_quorum_step_downs")
            ctx.note("stepped down: lost contact with a majority", heard=active)
            self._become_follower(st, ctx)
            st.leader_id = None
            return
        st.recent_active = dict.fromkeys(st.recent_active, False)
        ctx.set_timer(CHECK_QUORUM, self.timeout_lo)

    def _write_storage(self, st, ctx) -> None:
        """A leader's periodic write to the storage, fenced by its term."""
        if st.role is not LEADER:
            return
        ctx.send(STORAGE, StorageWrite(st.current_term, ctx.node, st.commit_index))
        ctx.set_timer(STORAGE_WRITE, self.storage_every)

    def _on_storage_write_result(self, st, m, src, ctx) -> None:
        """A fenced writer learns a newer term exists, and steps down."""
        if not m.accepted:
            ctx.note("write fenced by the storage", token=m.token, highest=m.highest_token)
            if m.highest_token > st.current_term:
                self._adopt_term(st, m.highest_token, ctx)

    # -- the storage -------------------------------------------------------------------
    def _on_storage_write(self, st, m, src, ctx) -> None:
        """Accept a write unless its token is below the highest accepted (with fencing)."""
        highest = st.highest_token
        if m.token < highest and self.fencing:
            st.rejected += 1
            ctx.count("fenced_writes")
            accepted = False
        else:
            st.accepted += 1
            if m.token < highest:
                st.stale_accepted += 1
                ctx.count("stale_writes_accepted")
            else:
                st.highest_token = m.token
            accepted = True
        st.last_write = (m.token, m.writer, highest, accepted)
        writes = st.writes
        writes.append((ctx.now // MS, m.writer, m.token, accepted))
        if len(writes) > 12:
            del writes[0]
        ctx.send(src, StorageWriteResult(m.token, accepted, st.highest_token))

    # -- the client --------------------------------------------------------------------
    def _issue(self, st, key: str, value: int, ctx, via: str | None = None) -> None:
        rid = st.next_request
        st.next_request += 1
        st.pending[rid] = (ctx.now, key, value)
        ctx.count("client_requests")
        target = via or st.leader_guess or ctx.rng.choice(ctx.peers)
        ctx.send(target, ClientRequest(rid, key, value))
        ctx.set_timer(RETRY + str(rid), self.request_timeout)

    def _on_client_reply(self, st, m, src, ctx) -> None:
        """Success ends a request; a redirect resends it to the named leader."""
        pending = st.pending.get(m.request_id)
        if pending is None:
            return  # answered already (a request and its retry were both answered)
        if m.success:
            del st.pending[m.request_id]
            st.leader_guess = src
            st.answered += 1
            ctx.cancel_timer(RETRY + str(m.request_id))
            ctx.count("client_ok")
            ctx.observe("client_latency_ms", (ctx.now - pending[0]) / MS)
            return
        ctx.count("client_redirects")
        hint = self._redirected(st, m.leader_hint, src)
        if hint is not None:
            ctx.send(hint, ClientRequest(m.request_id, pending[1], pending[2]))

    @staticmethod
    def _redirected(st, hint: str | None, src: str) -> str | None:
        """Follow a redirect: the named leader becomes the client's guess. None when the
        server knows no leader (or names itself): the retry timer tries elsewhere."""
        st.leader_guess = None if hint is None or hint == src else hint
        return st.leader_guess

    def _on_retry(self, st, rid: int, ctx) -> None:
        pending = st.pending.get(rid)
        if pending is None:
            return
        ctx.count("client_retries")
        others = [s for s in ctx.peers if s != st.leader_guess]
        st.leader_guess = ctx.rng.choice(others)
        ctx.send(st.leader_guess, ClientRequest(rid, pending[1], pending[2]))
        ctx.set_timer(RETRY + str(rid), self.request_timeout)

    # -- reads (ReadIndex, Ongaro's dissertation, section 6.4) --------------------------
    def _on_read_request(self, st, m, src, ctx) -> None:
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
                self._append(st, Entry(st.current_term, 0, "", 0), ctx)
            return
        self._start_read(st, m.request_id, m.key, src, ctx)

    def _start_read(self, st, rid: int, key: str, client: str, ctx) -> None:
        """Record the read index and ask the followers to confirm leadership."""
        read_id = st.next_read
        st.next_read += 1
        st.reads[read_id] = [rid, key, st.commit_index, [ctx.node], client, ctx.now]
        ctx.count("read_index_rounds")
        msg = ReadIndexHeartbeat(st.current_term, ctx.node, read_id)
        for peer in ctx.peers:
            ctx.send(peer, msg)

    def _on_read_index_heartbeat(self, st, m, src, ctx) -> None:
        """A follower confirms a leader of its term (and hears from it, as a heartbeat)."""
        if m.term < st.current_term:
            ctx.count("stale_messages_rejected")
            ctx.send(src, ReadIndexHeartbeatResult(st.current_term, m.read_id, False))
            return
        if m.term > st.current_term:
            self._adopt_term(st, m.term, ctx)
        elif st.role is not FOLLOWER:
            if st.role is LEADER:  # a rival leader of the same term (a broken election)
                ctx.send(src, ReadIndexHeartbeatResult(st.current_term, m.read_id, False))
                return
            self._become_follower(st, ctx)
        st.leader_id = m.leader_id
        st.heard_leader_at = ctx.now
        ctx.set_timer(ELECTION, st.election_timeout)
        ctx.send(src, ReadIndexHeartbeatResult(st.current_term, m.read_id, True))

    def _on_read_index_heartbeat_result(self, st, m, src, ctx) -> None:
        """Count confirmations; with a majority the read index is safe to answer at."""
        if m.term > st.current_term:
            self._adopt_term(st, m.term, ctx)
            return
        if st.role is not LEADER or m.term < st.current_term or not m.success:
            return
        if self.check_quorum:
            st.recent_active[src] = True
        read = st.reads.get(m.read_id)
        if read is None or src in read[3]:
            return
        read[3].append(src)
        if len(read[3]) == self.majority:
            if self.read_lease:  # a majority heard it at or after read[5]: none of them
                lease = read[5] + self.timeout_lo  # times out before then (their clocks)
                if st.lease_until is None or lease > st.lease_until:
                    st.lease_until = lease
            self._answer_reads(st, ctx)

    def _answer_reads(self, st, ctx) -> None:
        """Answer every confirmed read whose read index is applied (on a leader, which
        applies as it commits, that is at once)."""
        for read_id, (rid, key, read_index, confirmed, client, _sent) in list(st.reads.items()):
            if len(confirmed) >= self.majority and read_index <= st.last_applied:
                del st.reads[read_id]
                ctx.send(client, ReadReply(rid, True, st.kv.get(key), ctx.node))

    def _issue_read(self, st, key: str, via: str | None, ctx) -> None:
        rid = st.next_request
        st.next_request += 1
        target = via or st.leader_guess or ctx.rng.choice(ctx.peers)
        st.reads[rid] = (ctx.now, key, target)
        st.reads_issued += 1
        st.last_read_issued = rid
        ctx.count("client_reads")
        ctx.send(target, ReadRequest(rid, key))
        ctx.set_timer(READ_RETRY + str(rid), self.request_timeout)

    def _on_read_reply(self, st, m, src, ctx) -> None:
        """An answer ends a read; a redirect resends it to the named leader."""
        pending = st.reads.get(m.request_id)
        if pending is None:
            return  # answered already
        if m.success:
            del st.reads[m.request_id]
            st.leader_guess = src
            st.reads_answered += 1
            st.last_read = (m.request_id, pending[1], m.value, src)
            ctx.cancel_timer(READ_RETRY + str(m.request_id))
            ctx.count("reads_ok")
            ctx.observe("read_latency_ms", (ctx.now - pending[0]) / MS)
            return
        ctx.count("read_redirects")
        hint = self._redirected(st, m.leader_hint, src)
        if hint is not None:
            st.reads[m.request_id] = (pending[0], pending[1], hint)
            ctx.send(hint, ReadRequest(m.request_id, pending[1]))

    def _on_read_retry(self, st, rid: int, ctx) -> None:
        pending = st.reads.get(rid)
        if pending is None:
            return
        ctx.count("read_retries")
        target = ctx.rng.choice([s for s in ctx.peers if s != pending[2]])
        st.leader_guess = None
        st.reads[rid] = (pending[0], pending[1], target)
        ctx.send(target, ReadRequest(rid, pending[1]))
        ctx.set_timer(READ_RETRY + str(rid), self.request_timeout)

    # -- checking ----------------------------------------------------------------------
    def check(self, view, node_id):
        if node_id is None:
            return ()
        st = view.nodes[node_id].state
        kind = type(st)
        if kind is not ServerState:
            g = view.ghost
            if kind is StorageState:
                if st.stale_accepted != g.stale_seen:
                    return self._check_fencing(g, st)
            elif st.reads_issued != g.reads_registered or st.reads_answered != g.reads_checked:
                return self._check_reads(g, st)
            return ()
        g = view.ghost
        seen = g.seen[node_id]
        leading = st.role is LEADER
        if (st.commit_index == seen[0] and st.last_applied == seen[1] and node_id not in g.dirty
                and (not leading or seen[2] == st.current_term)):
            return ()  # nothing the invariants look at changed
        found = []
        if node_id in g.dirty:
            self._check_log(view, g, node_id, st, found)
        if leading and seen[2] != st.current_term:
            seen[2] = st.current_term
            self._check_new_leader(g, node_id, st, found)
        if st.commit_index != seen[0]:
            self._check_commit(g, node_id, seen, st)
        if st.last_applied != seen[1]:
            self._check_applied(g, node_id, seen, st, found)
        return found

    def _check_log(self, view, g, nid, st, found) -> None:
        """Log matching: give each new entry its prefix id; (index, term) fixes the id."""
        start = g.dirty.pop(nid)
        chain = g.chains[nid]
        log = st.log
        del chain[start:]
        if start > len(chain):  # cannot happen: changes start inside or just past the log
            raise AssertionError("raft ghost: log changed beyond its end")
        prefix_ids, prefixes, at = g.prefix_ids, g.prefixes, g.at
        pid = chain[start - 1]
        own_term = st.current_term if st.role is LEADER else -1
        minority = None
        for i in range(start, len(log)):
            entry = log[i]
            key = (pid, entry.term, entry.request_id)  # a request id fixes key and value
            q = prefix_ids.get(key)
            if q is None:  # a prefix no log had: the only place (index, term) can clash
                q = prefix_ids[key] = len(prefixes)
                prefixes.append((pid, entry, i))
                where = (i, entry.term)
                seen = at.get(where)
                if seen is None:
                    at[where] = (q, nid)
                else:
                    d = self._divergence(g, seen[0], q)
                    found.append(("log_matching", f"{nid} and {seen[1]} hold the same term-"
                                  f"{entry.term} entry index, yet their logs differ from "
                                  f"index {d} on"))
                if entry.term == own_term:  # the leader's own new entry
                    if minority is None:
                        minority = not self._reaches_majority(view, nid)
                    if minority:
                        g.minority[where] = True
                        g.minority_appends += 1
            chain.append(q)
            pid = q

    @staticmethod
    def _divergence(g, a: int, b: int) -> int:
        """The first index at which two prefixes of the same length differ."""
        prefixes = g.prefixes
        first = a
        while a != b:
            first = a
            a, b = prefixes[a][0], prefixes[b][0]
        return prefixes[first][2]

    def _reaches_majority(self, view, nid: str) -> bool:
        """Whether ``nid`` can currently exchange messages with a majority of servers."""
        alive, is_cut, need = view.alive, view.is_cut, self.majority
        faulty_links = view.cuts or view.groups
        reach = 1
        for s in self.servers:
            if s != nid and alive(s) and not (faulty_links and (is_cut(nid, s)
                                                                or is_cut(s, nid))):
                reach += 1
                if reach >= need:
                    return True
        return False

    def _check_new_leader(self, g, nid, st, found) -> None:
        """Election safety and leader completeness, once per (term, leader)."""
        term = st.current_term
        g.leader_seen[(term, nid)] = True
        first = g.leaders.get(term)
        if first is None:
            g.leaders[term] = nid
        else:
            found.append(("election_safety", f"term {term} has two leaders: {first} and "
                                             f"{nid}"))
        committed = g.committed
        c = bisect_left(g.commit_terms, term) - 1  # entries committed in earlier terms
        chain = g.chains[nid]
        if c < len(chain) and chain[c] == committed[c]:
            return
        lo, hi = 1, min(c, len(chain) - 1)  # find the first committed index it lacks
        while lo <= hi:
            mid = (lo + hi) // 2
            if chain[mid] == committed[mid]:
                lo = mid + 1
            else:
                hi = mid - 1
        entry = g.prefixes[committed[lo]][1]
        found.append(("leader_completeness", f"{nid} became leader of term {term} without "
                      f"the entry committed at index {lo} (term {entry.term}, "
                      f"{entry.key}={entry.value})"))

    def _check_commit(self, g, nid, seen, st) -> None:
        """A leader's commit index extends the ghost's committed log."""
        new = st.commit_index
        seen[0] = new
        if st.role is not LEADER:
            return
        committed = g.committed
        c = len(committed) - 1
        if new <= c:
            return
        chain = g.chains[nid]
        if chain[c] != committed[c]:
            return  # a conflicting commit: leader_completeness and state_machine_safety
        minority = g.minority
        log = st.log
        commit_terms = g.commit_terms
        write_index, write_value = g.write_index, g.write_value
        requests, sessions = g.committed_requests, self.sessions
        term = max(st.current_term, commit_terms[-1])  # kept sorted, for bisect
        for i in range(c + 1, new + 1):
            committed.append(chain[i])
            commit_terms.append(term)
            entry = log[i]
            rid = entry.request_id
            # A write, what a read may return: not a no-op, nor (with client sessions) a
            # second copy of a request, which the state machines answer without executing.
            if rid and (requests.setdefault(rid, i) == i or not sessions):
                indexes = write_index.get(entry.key)
                if indexes is None:
                    indexes = write_index[entry.key] = []
                    write_value[entry.key] = []
                indexes.append(i)
                write_value[entry.key].append(entry.value)
            if minority and minority.pop((i, entry.term), None):
                g.commits_in_minority += 1

    def _check_applied(self, g, nid, seen, st, found) -> None:
        """State machine safety: what is applied at an index is the same everywhere."""
        old = seen[1]
        new = st.last_applied
        seen[1] = new
        if new < old:
            g.executed_again[nid] = 0
            return  # restarted: it re-applies from the start
        applied = g.applied
        log = st.log
        again, reported = st.executed_again, g.executed_again[nid]
        if len(again) > reported:  # at most once: requests its state machine ran twice
            for rid, first, i in again[reported:]:
                entry = log[i]
                found.append(("at_most_once", f"{nid} executed request {rid} "
                              f"({entry.key}={entry.value}) at index {first} and again at "
                              f"index {i} (a retry after a lost reply, appended twice)"))
            g.executed_again[nid] = len(again)
        for i in range(old + 1, new + 1):
            entry = log[i]
            if i < len(applied):
                first = applied[i]
                if first is not entry and first != entry:
                    found.append(("state_machine_safety", f"index {i}: {nid} applied "
                                  f"{entry.key}={entry.value} (term {entry.term}) where "
                                  f"another server applied {first.key}={first.value} "
                                  f"(term {first.term})"))
            else:
                applied.append(entry)

    @staticmethod
    def _check_reads(g, st):
        """Linearizable reads: a read issued when index s was committed and answered when
        index e was must return the key's value after some index in [s, e]."""
        found = []
        if st.reads_issued < g.reads_registered or st.reads_answered < g.reads_checked:
            g.reads_registered, g.reads_checked = st.reads_issued, st.reads_answered
            return found  # the client restarted: its reads in flight are forgotten
        if st.reads_issued != g.reads_registered:  # one read is issued per client event
            g.reads_registered = st.reads_issued
            g.read_start[st.last_read_issued] = len(g.committed) - 1
        if st.reads_answered != g.reads_checked:
            g.reads_checked = st.reads_answered
            rid, key, value, server = st.last_read
            start = g.read_start.pop(rid)
            indexes = g.write_index.get(key, [])
            values = g.write_value.get(key, [])
            first = bisect_right(indexes, start)  # writes after the read started
            last = bisect_right(indexes, len(g.committed) - 1)
            allowed = values[first:last]
            if first:
                allowed.append(values[first - 1])  # the value when it started
            else:
                allowed.append(None)  # never written yet when it started
            if value not in allowed:
                g.stale_reads += 1
                before = (f"{values[first - 1]} (written at index {indexes[first - 1]})"
                          if first else "unwritten")
                found.append(("linearizable_reads",
                              f"read {rid} of {key} answered {value} by {server}, but {key} "
                              f"was already {before} when the read was issued (committed "
                              f"index {start})"))
        return found

    @staticmethod
    def _check_fencing(g, st):
        g.stale_seen = st.stale_accepted
        token, writer, highest, _accepted = st.last_write
        return [("fencing", f"the storage accepted token {token} from {writer} after "
                            f"accepting token {highest}")]

    # -- display -----------------------------------------------------------------------
    def metrics(self, view) -> dict:
        g = view.ghost
        terms_with_candidates = [t for t, n in g.candidates.items() if n >= 2]
        out = {
            "leaders_elected": len(g.leaders),
            "leader_changes": max(0, len(g.leaders) - 1),
            "extra_leaders": len(g.leader_seen) - len(g.leaders),  # same-term rivals
            "split_votes": sum(1 for t in terms_with_candidates if t not in g.leaders),
            "committed_entries": len(g.committed) - 1,
            "minority_appends": g.minority_appends,
            "commits_in_minority": g.commits_in_minority,
            "divergent_servers": self._divergent(view),
            "stale_reads": g.stale_reads,
        }
        for name in ("elections", "truncated_entries", "log_mismatches", "fenced_writes",
                     "stale_writes_accepted", "stale_messages_rejected", "leader_step_downs",
                     "client_requests", "client_ok"):
            out.setdefault(name, view.counters.get(name, 0))
        samples = view.samples.get("client_latency_ms")
        if samples:
            ordered = sorted(samples)
            n = len(ordered)
            for p in (50, 90, 99):
                out[f"client_latency_p{p}_ms"] = ordered[min(n - 1, max(0, -(-n * p // 100) - 1))]
        return out

    def _divergent(self, view) -> int:
        """Servers whose log contradicts the committed log (a lagging log does not)."""
        g = view.ghost
        committed = g.committed
        count = 0
        for s in self.servers:
            chain = g.chains[s]
            k = min(len(chain), len(committed)) - 1
            if chain[k] != committed[k]:
                count += 1
        return count

    def role(self, state) -> str:
        kind = type(state)
        if kind is ServerState:
            return state.role.value
        return CLIENT if kind is ClientState else STORAGE

    def summary(self, node_id, state) -> dict:
        """A server's term, vote, commit point and the tail of its log (for the UI)."""
        kind = type(state)
        if kind is ServerState:
            log = state.log
            start = max(1, len(log) - 30)
            out = {"role": state.role.value, "current_term": state.current_term,
                   "voted_for": state.voted_for, "leader": state.leader_id,
                   "last_log_index": len(log) - 1, "commit_index": state.commit_index,
                   "last_applied": state.last_applied, "log_start": start,
                   "log": [[e.term, e.key, e.value] for e in log[start:]]}
            if state.role is LEADER:
                out["next_index"] = dict(state.next_index)
                out["match_index"] = dict(state.match_index)
            return out
        if kind is ClientState:
            return {"pending": len(state.pending), "answered": state.answered,
                    "leader_guess": state.leader_guess}
        return {"highest_token": state.highest_token, "accepted": state.accepted,
                "rejected": state.rejected, "stale_accepted": state.stale_accepted}

    def panel(self, view) -> dict:
        """Leaders per term (truth), the committed index, the storage's writes, the client."""
        g = view.ghost
        store = view.nodes[STORAGE].state
        terms = sorted(g.leaders)[-10:]
        return {
            "leaders_by_term": [{"term": t, "leader": g.leaders[t]} for t in terms],
            "committed_index": len(g.committed) - 1,
            "storage": {"highest_token": store.highest_token, "fencing": self.fencing,
                        "writes": [{"at_ms": at, "writer": w, "token": tok, "accepted": ok}
                                   for at, w, tok, ok in store.writes]},
            "client_pending": len(view.nodes[CLIENT].state.pending),
            "reads": self._reads_panel(view),
        }

    def _reads_panel(self, view) -> dict:
        """How reads are answered, the leases held now, and the client's latest read."""
        client = view.nodes[CLIENT].state
        leases = {}
        for s in self.servers:
            st = view.nodes[s].state
            if st.role is LEADER and st.lease_until is not None:
                left = st.lease_until - view.local_time(s)
                if left > 0:
                    leases[s] = f"{left / MS:.1f} ms left on its clock"
        out = {"read_mode": self.v["read_mode"], "client_sessions": self.sessions,
               "reads_pending": len(client.reads)}
        if leases:
            out["leases"] = leases
        if client.last_read:
            rid, key, value, server = client.last_read
            out["last_read"] = f"read {rid}: {key} = {value}, answered by {server}"
        return out
