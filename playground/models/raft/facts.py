"""What the Raft model's handlers tell the checker (``ctx.tell``), and the trace.

From these, with the servers' logs, an independent checker can follow a run: who
campaigned and who won each term, which votes were granted, where a follower cut its log,
how far each leader advanced its commit index and in which term, which requests a state
machine executed twice, which fencing tokens the storage accepted, and which reads the
client issued and what they returned.
"""

from __future__ import annotations

from dataclasses import dataclass

from playground.models.base import Fact


# -- the servers ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ElectionStarted(Fact):
    text = "election started, term {term}"
    term: int


@dataclass(frozen=True, slots=True)
class VoteGranted(Fact):
    text = "voted for {candidate_id} in term {term}"
    term: int
    candidate_id: str


@dataclass(frozen=True, slots=True)
class BecameLeader(Fact):
    text = "became leader of term {term}"
    term: int


@dataclass(frozen=True, slots=True)
class SteppedDown(Fact):
    text = "stepped down from term {term}: {why}"
    term: int
    why: str


@dataclass(frozen=True, slots=True)
class LogTruncated(Fact):
    """A follower deleted a conflicting suffix of its log, from ``from_index`` on."""

    text = "truncated {removed} conflicting entries from index {from_index}"
    from_index: int
    removed: int


@dataclass(frozen=True, slots=True)
class ConfigurationChanged(Fact):
    """A leader appended a configuration entry at ``index``: ``servers`` vote from now."""

    text = "configuration at index {index}: {servers}"
    index: int
    servers: tuple


@dataclass(frozen=True, slots=True)
class SnapshotTaken(Fact):
    """A server snapshotted its state machine at ``index`` and discarded its log up to it."""

    text = "snapshot taken up to index {index} (term {term})"
    index: int
    term: int


@dataclass(frozen=True, slots=True)
class SnapshotInstalled(Fact):
    """A follower replaced its state machine (and its log up to ``index``) by the
    snapshot ``leader`` sent."""

    text = "installed {leader}'s snapshot up to index {index} (term {term})"
    index: int
    term: int
    leader: str


@dataclass(frozen=True, slots=True)
class Committed(Fact):
    """A leader of ``term`` advanced its commit index from ``previous`` to
    ``commit_index`` (the entries in between are in its log)."""

    text = "committed up to index {commit_index} in term {term}"
    term: int
    previous: int
    commit_index: int


@dataclass(frozen=True, slots=True)
class ExecutedAgain(Fact):
    """A state machine executed a client request it had already executed."""

    text = "executed request {request_id} again at index {index} (first at {first_index})"
    request_id: int
    first_index: int
    index: int


# -- the storage and the client ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class WriteAccepted(Fact):
    text = "accepted write of {writer} with token {token}"
    token: int
    writer: str


@dataclass(frozen=True, slots=True)
class ReadIssued(Fact):
    text = "read {request_id} of {key} issued"
    request_id: int
    key: str


@dataclass(frozen=True, slots=True)
class ReadAnswered(Fact):
    text = "read {request_id} of {key} answered {value} by {server}"
    request_id: int
    key: str
    value: int | None
    server: str
