"""The Raft model's data on the wire and in the log, and the names its modules share.

Names follow Figure 2 of the Raft paper (Ongaro and Ousterhout, 2014): ``RequestVote``
and ``AppendEntries`` with their results, plus the client's requests, the ReadIndex
heartbeats of linearizable reads (Ongaro's dissertation, section 6.4) and the fenced
storage resource's writes. Every class is a frozen, slotted dataclass: immutable, so a
leader can hand the same ``Entry`` objects and, within one heartbeat, the same
``AppendEntries`` to several followers, and cheap to build on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from playground.models.base import Timer, Transitions

CLIENT = "client"
STORAGE = "storage"


class ServerRole(Enum):
    """A server's role; moves only as ``ROLES`` allows."""

    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


FOLLOWER, PRE_CANDIDATE, CANDIDATE, LEADER = (ServerRole.FOLLOWER, ServerRole.PRE_CANDIDATE,
                                              ServerRole.CANDIDATE, ServerRole.LEADER)

ROLES = Transitions("raft server", {
    FOLLOWER: (FOLLOWER, PRE_CANDIDATE, CANDIDATE),
    PRE_CANDIDATE: (FOLLOWER, PRE_CANDIDATE, CANDIDATE),
    CANDIDATE: (FOLLOWER, CANDIDATE, LEADER),
    LEADER: (FOLLOWER,),
})


class RaftTimer(Enum):
    """Timer kinds; the values are the timers' names (or the prefix before a request id)."""

    ELECTION = "election"
    HEARTBEAT = "heartbeat"
    STORAGE_WRITE = "storage_write"
    CHECK_QUORUM = "check_quorum"
    SNAPSHOT = "snapshot"  # take a snapshot (as its own step, after the entries applied)
    ISSUE = "issue"  # the client's next workload put
    READ = "read"  # the client's next workload get
    RETRY = "retry:"  # + request id
    READ_RETRY = "read_retry:"  # + request id


ELECTION, HEARTBEAT, STORAGE_WRITE, CHECK_QUORUM, SNAPSHOT, ISSUE, READ = (
    Timer(kind) for kind in tuple(RaftTimer)[:7])


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry: the leader's term when it was created and a key-value command.

    ``request_id`` names the client request (0 for the sentinel at index 0).
    """

    term: int
    request_id: int
    key: str
    value: int


@dataclass(frozen=True, slots=True)
class ConfigEntry:
    """A configuration in the log: the voting servers from the moment it is appended
    (the dissertation's single-server changes). It runs no command: a no-op to the state
    machine, with the fields an ``Entry`` has for the log's readers."""

    term: int
    servers: tuple  # in the model's server order

    request_id = 0
    key = "config"

    @property
    def value(self) -> str:
        return " ".join(self.servers)


SENTINEL = Entry(0, 0, "", 0)  # log[0]: makes the log 1-based with prev_log_term 0 at index 0


class Log(list):
    """A log indexed by absolute log index, holding only the entries from ``first`` on.

    ``first`` is the last index a snapshot includes (0 before any): ``log[first]`` stands
    for the snapshot and carries its last included term (the sentinel at index 0), so
    ``log[prev].term`` and ``log[-1]`` read as in the paper whatever was compacted.
    ``len(log)`` is one past the last index. Reading an index below ``first`` is a bug in
    the caller, and raises. It changes only by ``append``, ``extend``, ``del log[i:]``,
    ``compact`` and ``replace``, each of which counts one more ``version`` (what lets a
    display reuse what it drew of an unchanged log); the other ways to change a list raise.
    """

    __slots__ = ("first", "version")

    def __init__(self, entries=(SENTINEL,), first: int = 0):
        list.__init__(self, entries)
        self.first = first
        self.version = 0

    def append(self, entry) -> None:
        self.version += 1
        list.append(self, entry)

    def extend(self, entries) -> None:
        self.version += 1
        list.extend(self, entries)

    def __reduce__(self):  # pickled whole (time travel's checkpoints), version and all
        return _restore_log, (list(self), self.first, self.version)

    def _unsupported(self, *args, **kwargs):
        raise TypeError("a Log changes only by append, extend, del log[i:], compact and "
                        "replace")

    __setitem__ = pop = insert = remove = clear = sort = reverse = __iadd__ = __imul__ = \
        _unsupported

    def __len__(self) -> int:
        return self.first + list.__len__(self)

    def __getitem__(self, i):
        first = self.first
        if type(i) is int:
            if i < 0:
                return list.__getitem__(self, i)
            if i < first:
                raise IndexError(f"log index {i} is compacted (the snapshot ends at {first})")
            return list.__getitem__(self, i - first)
        start = i.start - first if i.start is not None else None
        stop = i.stop - first if i.stop is not None else None
        if start is not None and start < 0:
            raise IndexError(f"log index {i.start} is compacted (the snapshot ends at {first})")
        return list.__getitem__(self, slice(start, stop))

    def __delitem__(self, i: slice) -> None:
        if i.start <= self.first:
            raise IndexError(f"cannot truncate at {i.start}: the snapshot ends at {self.first}")
        self.version += 1
        list.__delitem__(self, slice(i.start - self.first, None))

    def compact(self, index: int, entry) -> None:
        """Discard the entries up to ``index``, which ``entry`` (of its term) stands for."""
        self.version += 1
        list.__delitem__(self, slice(None, index - self.first))
        list.__setitem__(self, 0, entry)
        self.first = index

    def replace(self, index: int, entry) -> None:
        """Discard the whole log for a snapshot ending at ``index``."""
        self.version += 1
        list.__delitem__(self, slice(None, None))
        list.append(self, entry)
        self.first = index


def _restore_log(entries: list, first: int, version: int) -> Log:
    log = Log(entries, first)
    log.version = version
    return log


@dataclass(frozen=True, slots=True)
class RequestVote:
    """A candidate asks for a vote; with ``pre_vote`` it only asks whether it could win."""

    term: int  # the candidate's term (for a pre-vote: the term it would campaign in)
    candidate_id: str
    last_log_index: int
    last_log_term: int
    pre_vote: bool = False


@dataclass(frozen=True, slots=True)
class RequestVoteResult:
    """A vote, granted or not, in ``term``."""

    term: int
    vote_granted: bool
    pre_vote: bool = False


@dataclass(frozen=True, slots=True)
class AppendEntries:
    """Replicate ``entries`` after (prev_log_index, prev_log_term); empty is a heartbeat."""

    term: int
    leader_id: str
    prev_log_index: int
    prev_log_term: int
    entries: tuple  # of Entry
    leader_commit: int


@dataclass(frozen=True, slots=True)
class AppendEntriesResult:
    """The follower's answer: on success the index its log now matches up to; on
    failure a hint, ``conflict_index``, where the leader should retry from."""

    term: int
    success: bool
    match_index: int
    conflict_index: int


@dataclass(frozen=True, slots=True)
class InstallSnapshot:
    """The leader's snapshot for a follower whose next entry it has compacted away (§7 of
    the paper; sent whole, in one message): the state machine and the client sessions as
    of ``last_included_index``."""

    term: int
    leader_id: str
    last_included_index: int
    last_included_term: int
    kv: tuple  # (key, value) pairs, sorted
    executed: tuple  # (request id, index executed at) pairs: the client sessions
    config: tuple  # the configuration as of last_included_index


@dataclass(frozen=True, slots=True)
class InstallSnapshotResult:
    """The follower's answer: its log now matches the leader's up to ``match_index``."""

    term: int
    match_index: int


@dataclass(frozen=True, slots=True)
class ClientRequest:
    """The client asks the cluster to store ``key = value``."""

    request_id: int
    key: str
    value: int


@dataclass(frozen=True, slots=True)
class ClientReply:
    """Applied (``success``), or a redirect naming the leader the server believes in."""

    request_id: int
    success: bool
    leader_hint: str | None


@dataclass(frozen=True, slots=True)
class StorageWrite:
    """A leader's write to the external storage, carrying its term as fencing token."""

    token: int
    writer: str
    commit_index: int


@dataclass(frozen=True, slots=True)
class StorageWriteResult:
    """The storage's answer: accepted, or rejected because it has seen ``highest_token``."""

    token: int
    accepted: bool
    highest_token: int


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """The client asks for the current value of ``key``."""

    request_id: int
    key: str


@dataclass(frozen=True, slots=True)
class ReadReply:
    """A read's answer (``success``: ``value``, None for a key never written), or a
    redirect naming the leader the server believes in."""

    request_id: int
    success: bool
    value: int | None
    leader_hint: str | None


@dataclass(frozen=True, slots=True)
class ReadIndexHeartbeat:
    """ReadIndex: a leader's heartbeat that asks followers to confirm it still leads, for
    the read(s) numbered ``read_id`` (etcd carries this in a heartbeat's context)."""

    term: int
    leader_id: str
    read_id: int


@dataclass(frozen=True, slots=True)
class ReadIndexHeartbeatResult:
    """A follower's answer: ``success`` if it accepts the sender as leader of ``term``."""

    term: int
    read_id: int
    success: bool
