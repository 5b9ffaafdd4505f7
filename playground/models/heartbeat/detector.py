"""The failure detector: the registry's view of each worker, and the rules that move it.

Each worker's view is UP, SUSPECT or DOWN (``Health``), and every change goes through the
transition table ``HEALTH``. Evidence comes in two kinds: a *miss* (a sweep finds the
worker silent: nothing heard for more than ``timeout_ms``, or with ``detector = phi`` a
suspicion level above ``phi_threshold``) and a *success* (a served pulse, or a reply
within its round). ``k`` consecutive misses mark a worker DOWN; one success clears a mere
suspicion; ``m`` consecutive successes bring a DOWN worker back UP (the hysteresis). Each
change is published (``StatusPublished``) for whoever watches the registry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from playground.models.base import MS, Transitions

from .facts import StatusPublished
from .messages import Health

PHI_WINDOW = 16  # inter-arrival samples kept per worker for the phi-accrual detector

HEALTH = Transitions("detector", {Health.UP: (Health.SUSPECT, Health.DOWN),
                                  Health.SUSPECT: (Health.UP, Health.DOWN),
                                  Health.DOWN: (Health.UP,)})


@dataclass(slots=True)
class WorkerView:
    """The detector's view of one worker."""

    health: Health = Health.UP
    last_heard: int = 0  # registry clock, µs (the worker's, with sender_clock)
    misses: int = 0  # consecutive
    successes: int = 0  # consecutive
    intervals: list = field(default_factory=list)  # recent inter-arrival times, µs (phi)
    phi: float = 0.0


def phi(view: WorkerView, now: int, interval: int, min_std: int) -> float:
    """Phi accrual (Hayashibara et al.): −log10 P(a pulse comes later than this silence),
    the inter-arrival times of recent pulses taken as normally distributed."""
    silence = now - view.last_heard
    samples = view.intervals or [interval]
    mean = sum(samples) / len(samples)
    var = sum((x - mean) ** 2 for x in samples) / len(samples)
    std = max(math.sqrt(var), min_std)
    p_later = 0.5 * math.erfc((silence - mean) / (std * math.sqrt(2)))
    return -math.log10(max(p_later, 1e-300))


class Detector:
    """The rules of the failure detector, with the model's parameters read once."""

    def __init__(self, model):
        p, v = model.p, model.v
        self.k = 1 if v["no_hysteresis"] else p["k"]
        self.m = 1 if v["no_hysteresis"] else p["m"]
        self.timeout = p["timeout_ms"] * MS
        self.interval = model.interval
        self.use_phi = v["detector"] == "phi"
        self.phi_threshold = p["phi_threshold"]
        self.min_std = p["phi_min_std_ms"] * MS
        self.sender_clock = v["sender_clock"]

    def sweep(self, views: dict, ctx) -> None:
        """Count a miss for every worker not heard from recently enough."""
        now = ctx.now
        for w, view in views.items():
            if self.use_phi:
                view.phi = phi(view, now, self.interval, self.min_std)
                silent = view.phi > self.phi_threshold
            else:
                silent = now - view.last_heard > self.timeout
            if silent:
                self.miss(view, w, ctx)

    def miss(self, view: WorkerView, w: str, ctx) -> None:
        view.misses += 1
        view.successes = 0
        if view.misses >= self.k:
            self.move(view, w, Health.DOWN, ctx)
        elif view.health is Health.UP:
            self.move(view, w, Health.SUSPECT, ctx)

    def heard(self, view: WorkerView, w: str, sent_at: int, ctx) -> None:
        """A served pulse or reply: the worker was alive when it sent it."""
        heard = ctx.now
        if self.sender_clock:
            heard = sent_at
            if ctx.now - heard > self.timeout:
                ctx.count("stale_pulses")  # older than the timeout by its stamp: discarded
                return
        view.intervals.append(heard - view.last_heard)
        del view.intervals[:-PHI_WINDOW]
        view.last_heard = heard
        self.success(view, w, ctx)

    def success(self, view: WorkerView, w: str, ctx) -> None:
        view.misses = 0
        view.successes += 1
        if view.health is Health.SUSPECT or (view.health is Health.DOWN
                                             and view.successes >= self.m):
            self.move(view, w, Health.UP, ctx)

    def move(self, view: WorkerView, w: str, new: Health, ctx) -> None:
        """Publish a change of view (a move to the view it already has is no change)."""
        old = view.health
        if new is old:
            return
        view.health = HEALTH.move(old, new)
        ctx.tell(StatusPublished(w, new, old))
        if new is Health.DOWN:
            ctx.count("marked_down")
            ctx.note(f"registry marks {w} DOWN after {view.misses} consecutive misses",
                     worker=w, misses=view.misses,
                     silent_ms=(ctx.now - view.last_heard) / MS)
        elif old is Health.DOWN:
            ctx.count("flaps")
            ctx.note(f"registry marks {w} UP again after {view.successes} successes",
                     worker=w, successes=view.successes)
        elif new is Health.SUSPECT:
            ctx.count("suspicions")
            ctx.note(f"registry suspects {w}", worker=w)
