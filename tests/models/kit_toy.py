"""Ping-pong on the model kit: the smallest model written the way the playground's are,
and the proof that one joins from outside the package (``PLAYGROUND_EXTRA_MODELS``).

Theory of operation
-------------------
Node ``ponger`` answers; nodes ``p1`` … ``pK`` (``nodes`` = K + 1) each send a ``Ping``
every ``interval_ms`` of their own clock (timer ``ping``) and count the ``Pong``s that
come back. Client command ``burst`` makes one pinger send ``count`` pings at once. The
ponger tells ``PingAnswered`` for each ping it answers; a pinger tells ``PongReceived``
for each pong.

Invariant ``pong_answers_ping``: every pong a pinger receives answers a ping the ponger
answered, judged from the two facts alone. The broken variant ``pong_ahead`` answers
ping ``seq`` with pong ``seq + 1``, which no one asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from playground.models import register
from playground.models.base import (MS, Checker, Display, Fact, Invariant, Model, Param, Role,
                                    Timer, Variant, command, on, timer)

PONGER = "ponger"


@dataclass(frozen=True, slots=True)
class Ping:
    seq: int


@dataclass(frozen=True, slots=True)
class Pong:
    seq: int


@dataclass(frozen=True, slots=True)
class PingAnswered(Fact):
    text = "answered ping {seq} of {pinger}"
    pinger: str
    seq: int


@dataclass(frozen=True, slots=True)
class PongReceived(Fact):
    text = "received pong {seq}"
    seq: int


class ToyTimer(Enum):
    PING = "ping"


PING = Timer(ToyTimer.PING)


@dataclass(slots=True)
class PingerState:
    seq: int = 0
    pongs: int = 0


@dataclass(slots=True)
class PongerState:
    answered: int = 0


class Pinger(Role):
    name = "pinger"
    State = PingerState

    def start(self, state, ctx):
        ctx.set_timer(PING, self.model.interval)

    @timer(ToyTimer.PING)
    def ping(self, state, _timer, ctx):
        self._send(state, ctx)
        ctx.set_timer(PING, self.model.interval)

    @command("burst")
    def burst(self, state, cmd, ctx):
        for _ in range(cmd["count"]):
            self._send(state, ctx)

    @on(Pong)
    def pong(self, state, msg: Pong, src, ctx):
        state.pongs += 1
        ctx.tell(PongReceived(msg.seq))

    def _send(self, state, ctx):
        state.seq += 1
        ctx.send(PONGER, Ping(state.seq))

    def summary(self, node_id, state):
        return {"pings": state.seq, "pongs": state.pongs}


class Ponger(Role):
    name = PONGER
    State = PongerState
    durable = ("answered",)

    @on(Ping)
    def ping(self, state, msg: Ping, src, ctx):
        state.answered += 1
        ctx.tell(PingAnswered(src, msg.seq))
        ctx.send(src, Pong(msg.seq + 1 if self.model.v["pong_ahead"] else msg.seq))


@dataclass(slots=True)
class ToyGhost:
    answered: dict = field(default_factory=dict)  # pinger -> [seq answered]


class ToyChecker(Checker):
    def check(self, view, node_id):
        found = []
        for fact in view.facts:
            if type(fact) is PingAnswered:
                view.ghost.answered.setdefault(fact.pinger, []).append(fact.seq)
            elif type(fact) is PongReceived and \
                    fact.seq not in view.ghost.answered.get(node_id, []):
                found.append(("pong_answers_ping", f"{node_id} received pong {fact.seq}, "
                                                   f"which answers no ping of its"))
        return found

    def metrics(self, view):
        return {"answered": view.nodes[PONGER].state.answered,
                "pongs": sum(view.nodes[n].state.pongs for n in view.node_ids[1:])}


class ToyDisplay(Display):
    def panel(self, view):
        return {"answered": {p: len(s) for p, s in view.ghost.answered.items()}}


@register
class KitPingPong(Model):
    name = "kit_ping_pong"
    title = "Ping-pong on the model kit"
    invariants = (Invariant("pong_answers_ping", "Every pong answers a ping the ponger "
                                                 "answered."),)
    variants = (Variant("pong_ahead", False, "Answer ping seq with pong seq + 1.",
                        broken=(True,)),)
    params = (Param("interval_ms", 100, "Ping period on each pinger's clock.",
                    {"type": "number", "minimum": 1, "maximum": 60000}),)
    commands = {"burst": {"properties": {"count": {"type": "integer", "minimum": 1,
                                                   "maximum": 100}},
                          "required": ["count"]}}
    roles = (Ponger, Pinger)
    Checker = ToyChecker
    Display = ToyDisplay
    default_nodes = 3
    min_nodes = 2

    def setup(self):
        self.interval = int(self.p["interval_ms"] * MS)

    def node_ids(self):
        return [PONGER] + [f"p{i}" for i in range(1, self.n)]

    def role_of(self, node_id):
        return PONGER if node_id == PONGER else Pinger.name

    def init_ghost(self):
        return ToyGhost()

    def command_target(self, command, view):
        return command.get("node", "p1")
