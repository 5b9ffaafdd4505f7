"""Heartbeats and health probes: a registry's failure detector over a cluster of workers.

Theory of operation
-------------------
Node ``registry`` watches workers ``w1`` … ``wN`` (``nodes`` = N + 1). Two transports
(variant ``mode``):

* **push**: every worker sends a ``Heartbeat`` every ``interval_ms`` of its own clock;
* **pull**: every ``interval_ms`` the registry starts a probe round: it sends each worker
  a ``HealthProbe`` (a ``GET /health``) and each live, reachable worker answers with a
  ``HealthReply``. A round ends when every reply is in, or ``probe_timeout_ms`` after its
  last probe went out; the next round starts ``interval_ms`` after the previous one
  started, or at once if the round overran.

**The registry has a processing capacity.** Every pulse it receives, every probe it sends
and every reply it receives is a job in one FIFO queue (its state ``queue``), served one
at a time, ``service_ms`` each, by a timer: a pulse counts as *heard* only when it has been
served. Client command ``load`` adds other work (a deploy storm, an API burst) to the same
queue. Under load, pulses are heard late; in pull mode a round costs 2·N jobs, so the round
time and the probe load grow with the cluster until the registry is the bottleneck.

**The failure detector** sweeps every ``interval_ms`` (a timer, not a queued job). For each
worker the sweep sees either silence (nothing heard for more than ``timeout_ms``, or with
variant ``detector = phi`` a phi-accrual suspicion level above ``phi_threshold``) — a
*miss* — or not. Every job that proves a worker alive is a *success*. The worker's view
moves through the transition table ``HEALTH`` (UP, SUSPECT, DOWN): ``k`` consecutive
misses mark it DOWN, ``m`` consecutive successes mark a DOWN worker UP again (hysteresis);
one success clears a mere suspicion. The detector sees only its own inputs: a crashed
worker, a paused one and one whose link is cut all fall silent the same way.

Simplifications: the registry's view is volatile (a restarted registry trusts everyone
again); the sweep is free; a reply to an earlier round is ignored as HTTP would.

Invariants
----------
Both are judged by an outside observer (``checker.py``) from what the registry *heard*
(``WorkerHeard``: a served pulse, or a reply within its round) and *published*
(``StatusPublished``), against the engine's truth about each worker: never from the
detector's own counters. Silence is measured on the registry's clock, the one its
timeout is promised on.

* ``down_means_silent`` (no false suspicion of a worker that is heard) — a worker that is
  alive, not paused and whose link to the registry is intact is published DOWN only after
  the registry has heard nothing from it for ``timeout_ms``: the least silence a timeout
  detector's first miss needs. A verdict of death must rest on the registry's own
  silence. The broken variant ``sender_clock`` takes "last heard" from the timestamp in
  the pulse, on the worker's clock, and discards pulses that look older than the timeout:
  a worker whose clock runs behind is declared dead while its pulses are heard, and one
  whose clock runs ahead is kept alive after a crash. *Cannot fire by construction* with
  ``detector = phi`` (phi may count a miss after any silence, so the bound is 0) and with
  ``no_hysteresis`` alone (it still waits for the timeout); an overloaded registry or one
  whose replies miss their round has truly heard nothing, so its false deaths (C17, C18)
  are the metric ``false_suspicions``, not a violation.
* ``no_flapping`` — judged from the published history of workers that have not crashed:
  a worker published DOWN is published UP again only once the registry has heard from it
  ``m`` times since, and a worker so revived is published DOWN again only after the
  silence ``k`` sweeps take (``timeout_ms + (k − 1)·interval_ms``; ``(k − 1)·interval_ms``
  with phi). A crashed worker marked down at its first miss is a fast detection, not a
  flap. The broken variant ``no_hysteresis`` acts on the first miss and the first success.
  *Cannot fire by construction* with ``k = m = 1`` and the timeout detector (the
  hysteresis then asks for nothing a detector does anyway).

Detection *quality* is not a safety property — no detector in an asynchronous system is
both complete and accurate — so the phenomena are metrics, judged against the engine's
truth: ``false_suspicions`` (a worker marked DOWN while it is alive, not paused, its links
to the registry intact, and has been so for at least ``timeout_ms``; a verdict within a
timeout after a real outage ended is a ``late_detection``), ``flaps`` (DOWN → UP),
``detection_time_ms`` for real crashes, ``detection_ms_crashed``, ``_paused`` and ``_cut``
(the longest time from each kind of failure to its DOWN: C19 expects them within one sweep
interval of each other), ``probe_load`` (probes per second),
``registry_queue_max`` and ``_avg``, ``probe_round_ms`` and ``pulse_wait_ms`` (how long a
pulse or reply waited in the queue).

Facts told to the checker (``facts.py``): ``WorkerHeard`` (the registry served a pulse,
or a reply within its round) and ``StatusPublished`` (the detector changed its view of a
worker).

Modules: ``messages.py`` (the wire, node names, the ``Health`` and timer enums),
``worker.py`` (the worker role), ``registry.py`` (the registry role: its queue, probe
rounds and sweep), ``detector.py`` (the failure detector's rules and its transition
table), ``facts.py``, ``checker.py`` (the invariants and metrics), ``panel.py``.

Claims: C17 (push, overloaded registry), C18 (pull, probe load grows with N), C19 (crashed,
paused and cut off look alike), C20 (flapping and hysteresis).
"""

from __future__ import annotations

from playground.models import register
from playground.models.base import MS, Invariant, Model, Param, Variant

from .checker import HeartbeatChecker, HeartbeatGhost
from .detector import Detector
from .messages import REGISTRY
from .panel import HeartbeatDisplay
from .registry import Registry
from .worker import Worker


@register
class Heartbeats(Model):
    name = "heartbeat"
    title = "Heartbeats and health probes"
    invariants = (
        Invariant("no_flapping", "A worker that has not crashed is marked up again only after "
                                 "the registry heard from it m times since it went down, "
                                 "and down again only after k sweeps of silence."),
        Invariant("down_means_silent", "A worker that is alive and reachable is marked down "
                                       "only after the registry heard nothing from it for "
                                       "timeout_ms."),
    )
    variants = (
        Variant("mode", "push", "push: workers send pulses; pull: the registry probes them.",
                choices=("push", "pull")),
        Variant("detector", "timeout", "timeout: silence longer than timeout_ms is a miss; "
                "phi: a phi-accrual suspicion above phi_threshold is a miss.",
                choices=("timeout", "phi")),
        Variant("no_hysteresis", False, "Mark down on the first miss and up on the first "
                "success, whatever k and m say.", broken=(True,)),
        Variant("sender_clock", False, "Judge silence by the timestamp the worker put in its "
                "pulse (its clock) instead of the registry's own clock.", broken=(True,)),
    )
    params = (
        Param("interval_ms", 100, "Pulse period (push) or probe period (pull), and the "
              "detector's sweep period.", {"type": "number", "minimum": 1, "maximum": 60000}),
        Param("timeout_ms", 300, "Silence after which a sweep counts a miss.",
              {"type": "number", "minimum": 1, "maximum": 600000}),
        Param("probe_timeout_ms", 50, "Pull: how long a round waits for replies after its "
              "last probe went out.", {"type": "number", "minimum": 1, "maximum": 600000}),
        Param("service_ms", 2, "Registry time to serve one pulse, probe or reply.",
              {"type": "number", "minimum": 0.001, "maximum": 10000}),
        Param("k", 3, "Consecutive misses that mark a worker down.",
              {"type": "integer", "minimum": 1, "maximum": 100}),
        Param("m", 3, "Consecutive successes that mark a down worker up.",
              {"type": "integer", "minimum": 1, "maximum": 100}),
        Param("phi_threshold", 8, "Suspicion level counted as a miss (detector = phi).",
              {"type": "number", "minimum": 0.1, "maximum": 100}),
        Param("phi_min_std_ms", 20, "Floor on the standard deviation of inter-arrival times "
              "(detector = phi), so a very regular worker is not suspected at once.",
              {"type": "number", "minimum": 0.001, "maximum": 600000}),
        Param("queue_limit", 100000, "Jobs the registry's queue holds; more are dropped.",
              {"type": "integer", "minimum": 1, "maximum": 10000000}),
    )
    commands = {
        "load": {"properties": {"jobs": {"type": "integer", "minimum": 1, "maximum": 100000},
                                "job_ms": {"type": "number", "minimum": 0.001,
                                           "maximum": 10000}},
                 "required": ["jobs"]},
    }
    roles = (Registry, Worker)
    Checker = HeartbeatChecker
    Display = HeartbeatDisplay
    default_nodes = 6
    min_nodes = 2

    def setup(self):
        self.push = self.v["mode"] == "push"
        self.interval = max(1, int(self.p["interval_ms"] * MS))
        self.cost = max(1, int(self.p["service_ms"] * MS))
        self.detector = Detector(self)

    # -- the cluster -------------------------------------------------------------------
    def node_ids(self):
        return [REGISTRY] + [f"w{i}" for i in range(1, self.n)]

    def peers_of(self, node_id, all_ids):
        return tuple(x for x in all_ids if x != REGISTRY) if node_id == REGISTRY else (REGISTRY,)

    def role_of(self, node_id):
        return REGISTRY if node_id == REGISTRY else Worker.name

    def init_ghost(self):
        return HeartbeatGhost()

    def command_target(self, command, view):
        return REGISTRY
