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

* **Log compaction** (``snapshot_log_length``, §7 of the paper): a server whose log holds
  that many applied entries past its snapshot snapshots its state machine and client
  sessions at its last applied index (a step of its own, on the ``snapshot`` timer) and
  discards its log up to it; the :class:`~.messages.Log` keeps absolute indexes, with
  ``log[log.first]`` standing for the snapshot. A leader sends ``InstallSnapshot``
  (whole, in one message) to a follower whose next index it has compacted; the follower
  keeps its log after the snapshot's last entry if it holds that entry, else discards it.

* **Membership changes** (``membership.py``, dissertation chapter 4): one server at a
  time, through the log. A ``ConfigEntry`` takes effect on append (a truncated one gives
  back the one before); quorums for votes, commitment, CheckQuorum and ReadIndex are the
  configuration's; a server outside its configuration never campaigns.
  ``add_server`` makes a learner that the leader replicates to without counting, and
  appends the new configuration once it has caught up (one round); ``remove_server``
  appends it at once; a leader that removed itself steps down when the entry commits.
  Servers n1 … nK (``initial_members``) form the initial configuration. A leader starts
  a change only after committing an entry of its own term (the 2015 fix); the broken
  ``change_before_term_commit`` skips that and two leaders of one term follow.

What is simplified. Single-server changes only (no joint consensus); catch-up in one
round, however long it takes; snapshots sent whole and taken at once; one client node; no drift bound subtracted from a read lease; a no-op entry only when a read needs
one. The storage is a register with a fencing check, not a database.

Invariants (checked after every event, incrementally, in ``checker.py``):

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
* ``commit_rule``: a leader of term T advances its commit index only to an entry of term T
  (§5.4.2, Figure 8): judged on each ``Committed`` fact from the entry at the new commit
  index in the leader's log, so the unsafe commit itself fires, whether or not a later
  leader then loses the entry.
* ``state_machine_safety``: no two servers apply different commands at one index (an
  installed snapshot counts as applying the prefix of the leader's snapshot it came from).
* ``fencing``: the storage never accepts a token lower than one it already accepted
  (from its ``WriteAccepted`` facts, not from its own highest token).
* ``at_most_once``: no state machine executes a client request twice (each tells an
  ``ExecutedAgain`` for a repeat it runs, which only happens without sessions).
* ``linearizable_reads``: a read returns the key's value after some committed index
  between its start and its answer (ghost: the committed index when the client told
  ``ReadIssued``, and each key's committed writes in log order).

Broken variants, each caught by one of them: ``change_before_term_commit``
(election_safety and leader_completeness), ``skip_prev_log_term_check`` (log_matching),
``commit_old_terms_by_count`` (the Figure 8 bug: commit_rule at once, then
leader_completeness and state_machine_safety), ``multiple_votes_per_term`` (election_safety), ``fencing`` off
(fencing), ``read_mode`` ``local`` (linearizable_reads), ``client_sessions`` off
(at_most_once).

Facts told to the checker (``facts.py``): ``ElectionStarted``, ``VoteGranted``,
``BecameLeader``, ``SteppedDown``, ``LogTruncated``, ``Committed``, ``ExecutedAgain``,
``SnapshotTaken``, ``SnapshotInstalled`` and ``ConfigurationChanged`` (servers), ``WriteAccepted`` (the storage), ``ReadIssued`` and ``ReadAnswered`` (the client).

Modules: ``messages.py`` (the wire, the log entries, roles and timer kinds), ``server.py``
(Figure 2's rules and log compaction), ``extensions.py`` (PreVote and CheckQuorum),
``membership.py`` (configurations and their changes), ``reads.py`` (ReadIndex,
lease and local reads), ``client.py``, ``storage.py``, ``facts.py``, ``checker.py`` (the
invariants and metrics), ``panel.py``.

Claims served: C01 (election by timeout, split votes), C02 (quorum prevents split brain),
C03 (log matching and repair), C04 (fencing tokens), C05 (terms as logical clocks).
"""

from __future__ import annotations

from playground.models import register
from playground.models.base import MS, SECOND, Invariant, Model, NodeAction, Param, Variant

from .checker import RaftChecker, RaftGhost
from .client import Client, ClientState
from .messages import (CANDIDATE, CLIENT, FOLLOWER, LEADER, PRE_CANDIDATE, STORAGE,
                       RaftTimer, ServerRole)
from .panel import RaftDisplay
from .server import Server, ServerState
from .storage import Storage, StorageState

__all__ = ["Raft", "Server", "Client", "Storage", "ServerState", "ClientState",
           "StorageState", "RaftGhost", "RaftTimer", "ServerRole", "CLIENT", "STORAGE",
           "FOLLOWER", "PRE_CANDIDATE", "CANDIDATE", "LEADER"]


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
        Invariant("commit_rule", "A leader commits an entry of an earlier term only by "
                                 "committing an entry of its own term after it, never by "
                                 "counting the earlier entry's replicas (Figure 8)."),
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
        Variant("change_before_term_commit", False, "A new leader starts a membership change "
                "before it has committed an entry of its own term (the 2015 single-server "
                "change bug: two configurations whose majorities do not overlap).",
                broken=(True,)),
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
        Param("initial_members", 0, "Servers n1 … nK form the initial configuration; the "
              "others start outside it, to be added (0, or more than the servers: all).",
              {"type": "integer", "minimum": 0, "maximum": 51}),
        Param("snapshot_log_length", 0, "A server snapshots its state machine and discards "
              "its log up to the last applied entry once that many applied entries are in "
              "its log (0: never).", {"type": "integer", "minimum": 0, "maximum": 100_000}),
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
        "add_server": {"properties": {"node": {"type": "string", "pattern": "^n[0-9]+$"}},
                       "required": ["node"]},  # to the leader: node becomes a member
        "remove_server": {"properties": {"node": {"type": "string", "pattern": "^n[0-9]+$"}},
                          "required": ["node"]},  # to the leader: node leaves
    }
    node_actions = (
        NodeAction("timeout_now", "Time out now", ("server",)),
        NodeAction("put", "Client request to this server", ("server",)),
        NodeAction("remove_server", "Remove from cluster", ("server",)),
        NodeAction("add_server", "Add to cluster", ("server",)),
    )
    addressable_roles = ("leader",)
    roles = (Server, Client, Storage)
    Checker = RaftChecker
    Display = RaftDisplay
    default_nodes = 5
    min_nodes = 3
    max_nodes = 51

    def setup(self):
        p, v, nodes = self.p, self.v, self.n
        self.servers = tuple(f"n{i}" for i in range(1, nodes + 1))
        k = p["initial_members"]
        self.members = self.servers[:k] if 0 < k < nodes else self.servers
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
        self.snapshot_every = p["snapshot_log_length"]
        self.change_early = bool(v["change_before_term_commit"])

    # -- the cluster -------------------------------------------------------------------
    def node_ids(self):
        return [*self.servers, CLIENT, STORAGE]

    def role_of(self, node_id):
        return node_id if node_id in (CLIENT, STORAGE) else Server.name

    def peers_of(self, node_id, all_ids):
        if node_id == STORAGE:
            return ()
        if node_id == CLIENT:
            return self.servers
        return tuple(s for s in self.servers if s != node_id)

    def init_ghost(self):
        g = RaftGhost()
        for s in self.servers:
            g.chains[s] = [0]
            g.seen[s] = [1, 0]
        return g

    def resolve_role(self, view, role):
        """The leader: the server leading the newest term (a deposed leader that has not
        yet heard of the newer term is not it)."""
        best = None
        for s in self.servers:
            st = view.nodes[s].state
            if st.role is LEADER and (best is None or st.current_term > best[0]):
                best = (st.current_term, s)
        return best[1] if best else None

    def command_target(self, command, view):
        """``timeout_now`` goes to the server it names; a membership change to the leader
        (to the server it names when there is none, which refuses it); a put or a get to
        the client, which sends it like any other request (to the server it names, if it
        names one)."""
        kind = command["type"]
        if kind in ("add_server", "remove_server"):
            return self.resolve_role(view, "leader") or command["node"]
        return command["node"] if kind == "timeout_now" else CLIENT
