"""What the heartbeat model's handlers tell the checker (``ctx.tell``), and the trace.

Two kinds of observation, both of the registry: what it *heard* (a pulse, or a reply
within its round, served from its queue: its input) and what it *published* (each change
of its view of a worker). The checker judges the published history against what was
heard and against the engine's truth about each worker, never against the detector's
own counters.
"""

from __future__ import annotations

from dataclasses import dataclass

from playground.models.base import Fact

from .messages import Health


@dataclass(frozen=True, slots=True)
class WorkerHeard(Fact):
    """The registry served a pulse, or a reply within its round, from ``worker``: it
    heard from it (whatever the detector then makes of it)."""

    text = "heard from {worker}"
    worker: str


@dataclass(frozen=True, slots=True)
class StatusPublished(Fact):
    """The detector changed its published view of ``worker``."""

    text = "published {worker} {status.name} (was {previous.name})"
    worker: str
    status: Health
    previous: Health
