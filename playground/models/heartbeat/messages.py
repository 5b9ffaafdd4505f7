"""What the heartbeat model's nodes say to each other, and the names they share.

Workers push ``Heartbeat`` pulses (push mode) or answer the registry's ``HealthProbe``
with a ``HealthReply`` (pull mode); both carry ``sent_at``, the worker's clock when it
sent them, which only the broken ``sender_clock`` detector reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from playground.models.base import Timer

REGISTRY = "registry"


class Health(Enum):
    """The detector's published view of a worker."""

    UP = "up"
    SUSPECT = "suspect"
    DOWN = "down"


class HeartbeatTimer(Enum):
    """Timer kinds; the values are the timers' names."""

    PULSE = "pulse"  # a worker sends its next Heartbeat (push)
    SERVE = "serve"  # the registry finishes the job at the head of its queue
    SWEEP = "sweep"  # the detector looks at every worker's silence
    ROUND = "round"  # the registry starts a probe round (pull)
    ROUND_DEADLINE = "round_deadline"  # a probe round stops waiting for replies (pull)


PULSE, SERVE, SWEEP, ROUND, ROUND_DEADLINE = (Timer(kind) for kind in HeartbeatTimer)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A worker's pulse (push mode), stamped with the worker's clock."""

    seq: int
    sent_at: int


@dataclass(frozen=True, slots=True)
class HealthProbe:
    """The registry's ``GET /health`` of one probe round (pull mode)."""

    round: int


@dataclass(frozen=True, slots=True)
class HealthReply:
    """A worker's ``200 OK`` to a probe, stamped with the worker's clock."""

    round: int
    sent_at: int
