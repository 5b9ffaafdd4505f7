"""The Raft model's invariants and metrics, judged from the servers' logs and the facts.

The observer's notebook (:class:`RaftGhost`) gives each log prefix an id from (parent id,
entry), so one id stands for a whole prefix and two logs agree up to an index exactly when
their ids there are equal. Each server's chain of prefix ids follows its log: a log that
grew, or a ``LogTruncated`` fact, extends or cuts it. The committed log is the chain of
prefix ids that leaders' ``Committed`` facts advanced over. Everything is incremental:
after an event on a server only what changed is looked at.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from playground.models.base import Checker
from playground.stats import percentile

from .facts import (BecameLeader, Committed, ElectionStarted, ExecutedAgain, LogTruncated,
                    ReadAnswered, ReadIssued, SnapshotInstalled, SnapshotTaken, WriteAccepted)
from .messages import LEADER, SENTINEL
from .server import ServerState


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
    committed: list = field(default_factory=lambda: [0])  # prefix id per committed index
    commit_terms: list = field(default_factory=lambda: [0])  # term of the leader committing it
    applied: list = field(default_factory=lambda: [SENTINEL])  # entry applied per index
    seen: dict = field(default_factory=dict)  # server -> [log length, last_applied] checked
    snapshots: dict = field(default_factory=dict)  # (server, index) -> prefix id it holds
    minority: dict = field(default_factory=dict)  # (index, term) appended out of a majority
    minority_appends: int = 0
    commits_in_minority: int = 0
    highest_token: int = 0  # the highest fencing token the storage told it accepted
    committed_requests: dict = field(default_factory=dict)  # request id -> committed index
    write_index: dict = field(default_factory=dict)  # key -> committed indexes writing it
    write_value: dict = field(default_factory=dict)  # key -> the values written there
    read_start: dict = field(default_factory=dict)  # read request -> committed index at issue
    stale_reads: int = 0


class RaftChecker(Checker):
    def __init__(self, model):
        super().__init__(model)
        self.servers, self.majority = model.servers, model.majority
        self.sessions = model.sessions

    def check(self, view, node_id):
        if node_id is None:
            return ()
        st = view.nodes[node_id].state
        facts = view.facts
        if type(st) is not ServerState:
            return self._check_helper(view.ghost, facts) if facts else ()
        seen = view.ghost.seen[node_id]
        if not facts and st.last_applied == seen[1] and len(st.log) == seen[0]:
            return ()  # nothing the invariants look at changed
        return self._check_server(view, node_id, st, facts)

    def _check_server(self, view, node_id, st, facts) -> list:
        g = view.ghost
        seen = g.seen[node_id]
        found = []
        start = seen[0]
        installed = False
        for fact in facts:
            kind = type(fact)
            if kind is LogTruncated and fact.from_index < start:
                start = fact.from_index
            elif kind is SnapshotInstalled:  # the chain is rebuilt up to the snapshot
                self._installed(g, node_id, fact)
                start, installed = fact.index + 1, True
        if installed or start < seen[0] or len(st.log) != seen[0]:
            self._check_log(view, g, node_id, st, start, found)
            seen[0] = len(st.log)
        for fact in facts:
            kind = type(fact)
            if kind is ElectionStarted:
                g.candidates[fact.term] = g.candidates.get(fact.term, 0) + 1
            elif kind is BecameLeader:
                self._check_new_leader(g, node_id, st, found)
            elif kind is Committed:
                self._check_commit_rule(node_id, st, fact, found)
                self._check_commit(g, node_id, st, fact)
            elif kind is SnapshotTaken:
                g.snapshots[(node_id, fact.index)] = g.chains[node_id][fact.index]
        if st.last_applied != seen[1]:
            self._check_applied(g, node_id, seen, st, facts, found)
        return found

    @staticmethod
    def _installed(g, nid, fact: SnapshotInstalled) -> None:
        """A follower's log up to the snapshot's index is now the prefix the leader's
        snapshot holds (its entries are gone, its prefix ids are not: the chain is rebuilt
        from the leader's)."""
        q = g.snapshots[(fact.leader, fact.index)]
        g.snapshots[(nid, fact.index)] = q
        prefixes = g.prefixes
        ids = [q]
        while q:
            q = prefixes[q][0]
            ids.append(q)
        ids.reverse()
        g.chains[nid][:] = ids

    def _check_log(self, view, g, nid, st, start, found) -> None:
        """Log matching: give each new entry its prefix id; (index, term) fixes the id."""
        chain = g.chains[nid]
        log = st.log
        del chain[start:]
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

    @staticmethod
    def _check_commit_rule(nid, st, fact: Committed, found) -> None:
        """Commit rule (§5.4.2, Figure 8): a leader of term T advances its commit index only
        to an entry of term T; entries of earlier terms are committed with it, never by
        counting their own replicas. Judged from the fact and the entry in the log."""
        entry = st.log[fact.commit_index]
        if entry.term != fact.term:
            found.append(("commit_rule", f"{nid}, leader of term {fact.term}, advanced its "
                          f"commit index from {fact.previous} to {fact.commit_index}, whose "
                          f"entry ({entry.key}={entry.value}) is of term {entry.term}: an "
                          f"entry of an earlier term committed by counting its replicas"))

    def _check_commit(self, g, nid, st, fact: Committed) -> None:
        """A leader's commit index extends the ghost's committed log."""
        new = fact.commit_index
        committed = g.committed
        c = len(committed) - 1
        if new <= c:
            return
        chain = g.chains[nid]
        if chain[c] != committed[c]:
            return  # a conflicting commit: leader_completeness and state_machine_safety
        minority = g.minority
        prefixes = g.prefixes
        commit_terms = g.commit_terms
        write_index, write_value = g.write_index, g.write_value
        requests, sessions = g.committed_requests, self.sessions
        term = max(fact.term, commit_terms[-1])  # kept sorted, for bisect
        for i in range(c + 1, new + 1):
            q = chain[i]
            committed.append(q)
            commit_terms.append(term)
            entry = prefixes[q][1]  # the log itself may be compacted past it already
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

    def _check_applied(self, g, nid, seen, st, facts, found) -> None:
        """State machine safety: what is applied at an index is the same everywhere; at
        most once: no request executed twice."""
        old = seen[1]
        new = seen[1] = st.last_applied
        if new < old:
            return  # restarted: it re-applies from the start
        applied = g.applied
        chain, prefixes = g.chains[nid], g.prefixes  # entries a snapshot took are here
        for fact in facts:
            if type(fact) is ExecutedAgain:
                entry = prefixes[chain[fact.index]][1]
                found.append(("at_most_once", f"{nid} executed request {fact.request_id} "
                              f"({entry.key}={entry.value}) at index {fact.first_index} and "
                              f"again at index {fact.index} (a retry after a lost reply, "
                              f"appended twice)"))
        for i in range(old + 1, new + 1):
            entry = prefixes[chain[i]][1]
            if i < len(applied):
                first = applied[i]
                if first is not entry and first != entry:
                    found.append(("state_machine_safety", f"index {i}: {nid} applied "
                                  f"{entry.key}={entry.value} (term {entry.term}) where "
                                  f"another server applied {first.key}={first.value} "
                                  f"(term {first.term})"))
            else:
                applied.append(entry)

    def _check_helper(self, g, facts) -> list:
        """Fencing from the storage's accepted tokens; linearizable reads from the client's
        issued and answered reads."""
        found = []
        for fact in facts:
            kind = type(fact)
            if kind is WriteAccepted:
                if fact.token < g.highest_token:
                    found.append(("fencing", f"the storage accepted token {fact.token} from "
                                             f"{fact.writer} after accepting token "
                                             f"{g.highest_token}"))
                else:
                    g.highest_token = fact.token
            elif kind is ReadIssued:
                g.read_start[fact.request_id] = len(g.committed) - 1
            elif kind is ReadAnswered:
                self._check_read(g, fact, found)
        return found

    @staticmethod
    def _check_read(g, fact: ReadAnswered, found) -> None:
        """Linearizable reads: a read issued when index s was committed and answered when
        index e was must return the key's value after some index in [s, e]."""
        rid, key, value = fact.request_id, fact.key, fact.value
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
                          f"read {rid} of {key} answered {value} by {fact.server}, but {key} "
                          f"was already {before} when the read was issued (committed "
                          f"index {start})"))

    # -- metrics ---------------------------------------------------------------------------
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
            for p in (50, 90, 99):
                out[f"client_latency_p{p}_ms"] = percentile(ordered, p)
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
