"""The worker role: it pulses (push) or answers probes (pull), and nothing else."""

from __future__ import annotations

from dataclasses import dataclass

from playground.models.base import Role, on, timer

from .messages import PULSE, REGISTRY, HealthProbe, HealthReply, Heartbeat, HeartbeatTimer


@dataclass(slots=True)
class WorkerState:
    seq: int = 0
    pulses_sent: int = 0
    probes_answered: int = 0


class Worker(Role):
    name = "worker"
    State = WorkerState

    def start(self, state, ctx):
        """Push: start pulsing at a random phase of the interval."""
        if self.model.push:
            ctx.set_timer(PULSE, ctx.rng.randint(1, self.model.interval))

    @timer(HeartbeatTimer.PULSE)
    def pulse(self, state, _timer, ctx):
        state.seq += 1
        state.pulses_sent += 1
        ctx.send(REGISTRY, Heartbeat(state.seq, ctx.now))
        ctx.set_timer(PULSE, self.model.interval)

    @on(HealthProbe)
    def probe(self, state, msg: HealthProbe, src, ctx):
        """Answer ``GET /health`` at once, stamped with this worker's clock."""
        state.probes_answered += 1
        ctx.send(src, HealthReply(msg.round, ctx.now))

    def summary(self, node_id, state):
        return {"pulses_sent": state.pulses_sent, "probes_answered": state.probes_answered}
