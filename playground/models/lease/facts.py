"""What the lease model's roles tell the checker (``ctx.tell``), and the trace."""

from __future__ import annotations

from dataclasses import dataclass

from playground.models.base import Fact


@dataclass(frozen=True, slots=True)
class LeaseGranted(Fact):
    text = "granted epoch {epoch} to {holder}"
    holder: str
    epoch: int
    lease_expiry: int  # the service's clock, µs
    previous: str | None  # the holder whose lease expired, if another


@dataclass(frozen=True, slots=True)
class LeaseRenewed(Fact):
    text = "renewed epoch {epoch} of {holder}"
    holder: str
    epoch: int


@dataclass(frozen=True, slots=True)
class BecameLeader(Fact):
    text = "became leader, epoch {epoch}"
    epoch: int
    lease_expiry: int  # own clock, µs


@dataclass(frozen=True, slots=True)
class SteppedDown(Fact):
    text = "stepped down from epoch {epoch}: {why}"
    epoch: int
    why: str


@dataclass(frozen=True, slots=True)
class WriteAccepted(Fact):
    text = "accepted write {seq} of {writer} with epoch {epoch}"
    writer: str
    epoch: int
    seq: int
