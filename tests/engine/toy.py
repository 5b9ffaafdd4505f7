"""A small model for the engine's own tests: nodes ping their peers on a timer.

Each node sends ``Ping(seq)`` to every peer every ``interval_ms`` of its own clock and
answers each ping with ``Pong(seq)``. ``pings_sent`` is durable, the rest volatile. The
invariant ``pong_after_ping`` (a node never receives more pongs than it sent pings to
live peers) holds for the correct model; variant ``extra_pong`` answers twice, which the
checker must catch whenever a ping is answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models import register
from playground.models.base import MS, Invariant, Model, Param, Variant


@dataclass(frozen=True, slots=True)
class Ping:
    seq: int


@dataclass(frozen=True, slots=True)
class Pong:
    seq: int


@dataclass(slots=True)
class ToyState:
    pings_sent: int = 0
    pongs: int = 0
    timer_fires: list = field(default_factory=list)  # local times of timer firings
    starts: int = 0


@register
class Toy(Model):
    name = "toy"
    title = "Ping-pong (engine test model)"
    invariants = (Invariant("pong_after_ping", "A node never gets more pongs than it sent pings."),)
    variants = (Variant("extra_pong", False, "Answer every ping twice.", broken=(True,)),)
    params = (Param("interval_ms", 100, "Ping period on the node's own clock.",
                    {"type": "number", "minimum": 1}),)
    commands = {"poke": {"properties": {"times": {"type": "integer", "minimum": 1}}}}
    durable = ("pings_sent",)

    def init_node(self, node_id):
        return ToyState()

    def on_start(self, state, ctx):
        state.starts += 1
        ctx.set_timer("tick", int(self.p["interval_ms"] * MS))

    def on_timer(self, state, name, ctx):
        state.timer_fires.append(ctx.now)
        for peer in ctx.peers:
            state.pings_sent += 1
            ctx.send(peer, Ping(state.pings_sent))
        ctx.set_timer("tick", int(self.p["interval_ms"] * MS))

    def on_message(self, state, msg, src, ctx):
        if type(msg) is Ping:
            ctx.send(src, Pong(msg.seq))
            if self.v["extra_pong"]:
                ctx.send(src, Pong(msg.seq))
        elif type(msg) is Pong:
            state.pongs += 1
            ctx.count("pongs")

    def on_command(self, state, command, ctx):
        ctx.note("poked", times=command.get("times", 1))
        ctx.count("pokes")

    def check(self, view, node_id):
        if node_id is None:
            return ()
        st = view.nodes[node_id].state
        if st.pongs > st.pings_sent:
            return [("pong_after_ping", f"{node_id} got {st.pongs} pongs for "
                                        f"{st.pings_sent} pings")]
        return ()

    def role(self, state):
        return "pinger"

    def summary(self, node_id, state):
        return {"pings_sent": state.pings_sent, "pongs": state.pongs}
