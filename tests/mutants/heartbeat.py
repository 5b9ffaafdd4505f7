"""Mutants of the heartbeat model: the failure detector's rules and the registry's queue."""

from __future__ import annotations

from playground.models.heartbeat.detector import PHI_WINDOW, Detector
from playground.models.heartbeat.messages import Health

from . import mutant, replacing


@replacing(Detector, "miss")
def _down_at_the_first_miss(self, view, w, ctx):
    view.misses += 1
    view.successes = 0
    self.move(view, w, Health.DOWN, ctx)  # the bug: k is never consulted


@replacing(Detector, "success")
def _up_at_the_first_success(self, view, w, ctx):
    view.misses = 0
    view.successes += 1
    if view.health is not Health.UP:
        self.move(view, w, Health.UP, ctx)  # the bug: m is never consulted


@replacing(Detector, "heard")
def _silence_on_the_senders_clock(self, view, w, sent_at, ctx):
    heard = sent_at  # the bug: the worker's stamp, whatever the variant says
    view.intervals.append(heard - view.last_heard)
    del view.intervals[:-PHI_WINDOW]
    view.last_heard = max(view.last_heard, heard)
    self.success(view, w, ctx)


@replacing(Detector, "success")
def _never_revives(self, view, w, ctx):
    view.misses = 0
    view.successes += 1
    if view.health is Health.SUSPECT:  # the bug: a DOWN worker stays DOWN for good
        self.move(view, w, Health.UP, ctx)


@replacing(Detector, "success")
def _misses_never_forgotten(self, view, w, ctx):
    view.successes += 1  # the bug: misses are not reset, so k need not be consecutive
    if view.health is Health.SUSPECT or (view.health is Health.DOWN
                                         and view.successes >= self.m):
        self.move(view, w, Health.UP, ctx)


MUTANTS = (
    mutant("heartbeat", "ignores_hysteresis", "the detector marks a worker down at its first "
           "miss and up at its first success, whatever k and m say",
           _down_at_the_first_miss, _up_at_the_first_success),
    mutant("heartbeat", "silence_on_senders_clock", "the detector measures silence from the "
           "timestamp the worker put in its pulse, on the worker's clock",
           _silence_on_the_senders_clock),
    mutant("heartbeat", "never_revives", "a worker marked down is never marked up again",
           _never_revives),
    mutant("heartbeat", "misses_never_forgotten", "a success does not reset the count of "
           "misses, so k misses spread over a long time mark a worker down",
           _misses_never_forgotten),
)
