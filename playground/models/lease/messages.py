"""The lease model's messages and its two fixed nodes."""

from __future__ import annotations

from dataclasses import dataclass


LOCK = "lock"
STORE = "store"
INF = float("inf")


@dataclass(frozen=True, slots=True)
class LeaseRequest:
    """Acquire or renew; ``sent_at`` is the requester's clock when it sent this."""

    sent_at: int


@dataclass(frozen=True, slots=True)
class LeaseGrant:
    epoch: int
    ttl: int  # µs
    sent_at: int  # echoed from the request


@dataclass(frozen=True, slots=True)
class LeaseDenied:
    holder: str
    epoch: int


@dataclass(frozen=True, slots=True)
class Write:
    """A write to the shared resource; ``epoch`` is the fencing token."""

    epoch: int
    seq: int


@dataclass(frozen=True, slots=True)
class WriteAck:
    accepted: bool
    epoch: int  # the store's highest accepted epoch
