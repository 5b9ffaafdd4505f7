"""A candidate: asks for the lease, believes it holds it until its own clock says the
lease has ended, renews, writes with its epoch, and steps down."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from playground.models.base import MS, Role, Timer, Transitions, on, timer

from .messages import LOCK, LeaseDenied, LeaseGrant, LeaseRequest, STORE, Write, WriteAck
from .facts import BecameLeader, SteppedDown


class LeaseRole(Enum):
    FOLLOWER = "follower"
    LEADER = "leader"


ROLE = Transitions("lease candidate", {LeaseRole.FOLLOWER: (LeaseRole.LEADER,),
                                       LeaseRole.LEADER: (LeaseRole.FOLLOWER,)})


class LeaseTimer(Enum):
    ACQUIRE = "acquire"
    RENEW = "renew"
    WRITE = "write"
    LEASE_EXPIRY = "lease_expiry"
    SEND_WRITE = "send_write"


ACQUIRE, RENEW, WRITE, LEASE_EXPIRY, SEND_WRITE = (Timer(kind) for kind in LeaseTimer)


@dataclass(slots=True)
class CandidateState:
    role: LeaseRole = LeaseRole.FOLLOWER
    epoch: int = 0
    lease_expiry: int = 0  # own clock, µs
    writes_sent: int = 0
    steps_down: int = 0
    pending_write: int | None = None  # the epoch of a write checked and not yet sent


class Candidate(Role):
    """A node that wants the lease, and acts as leader while its own clock says it holds it."""

    name = "candidate"
    State = CandidateState

    def start(self, state, ctx):
        """Start asking for the lease after a random delay."""
        ctx.set_timer(ACQUIRE, ctx.rng.randint(1, int(self.model.p["retry_ms"] * MS)))

    @timer(LeaseTimer.ACQUIRE)
    def acquire(self, state, _timer, ctx):
        if state.role is LeaseRole.FOLLOWER:
            ctx.send(LOCK, LeaseRequest(ctx.now))
        ctx.set_timer(ACQUIRE, int(self.model.p["retry_ms"] * MS))

    @timer(LeaseTimer.RENEW)
    def renew(self, state, _timer, ctx):
        if state.role is LeaseRole.LEADER:
            ctx.send(LOCK, LeaseRequest(ctx.now))
            ctx.set_timer(RENEW, self.model.renew_every)

    @timer(LeaseTimer.WRITE)
    def write(self, state, _timer, ctx):
        """Check the clock, then write with the epoch as the fencing token."""
        if state.role is not LeaseRole.LEADER:
            return
        if self.model.v["step_down"] and ctx.now >= state.lease_expiry:
            self._step_down(state, "my clock says the lease expired", ctx)
            return
        if self.model.work:
            state.pending_write = state.epoch
            ctx.set_timer(SEND_WRITE, self.model.work)
        else:
            state.writes_sent += 1
            ctx.send(STORE, Write(state.epoch, state.writes_sent))
        ctx.set_timer(WRITE, int(self.model.p["write_ms"] * MS))

    @timer(LeaseTimer.SEND_WRITE)
    def send_write(self, state, _timer, ctx):
        """The work is done: send what was checked, without looking at the clock again."""
        if state.pending_write is None:
            return
        state.writes_sent += 1
        ctx.send(STORE, Write(state.pending_write, state.writes_sent))
        state.pending_write = None

    @timer(LeaseTimer.LEASE_EXPIRY)
    def lease_expiry(self, state, _timer, ctx):
        if state.role is LeaseRole.LEADER and self.model.v["step_down"]:
            self._step_down(state, "my clock says the lease expired", ctx)

    @on(LeaseGrant)
    def grant(self, state: CandidateState, msg: LeaseGrant, src: str, ctx) -> None:
        """Hold the lease until ``sent_at + ttl − margin`` on this node's clock."""
        expiry = msg.sent_at + msg.ttl - self.model.margin
        if expiry <= ctx.now:
            ctx.note(f"grant of epoch {msg.epoch} arrived already expired on my clock")
            return
        if state.role is LeaseRole.LEADER and msg.epoch == state.epoch:
            state.lease_expiry = max(state.lease_expiry, expiry)
        else:
            if msg.epoch < state.epoch:
                return  # a late grant of an epoch this node has already moved past
            if state.role is LeaseRole.LEADER:  # an older epoch's lease: this one replaces it
                ctx.note(f"epoch {msg.epoch} replaces epoch {state.epoch}")
            else:
                state.role = ROLE.move(state.role, LeaseRole.LEADER)
            state.epoch = msg.epoch
            state.lease_expiry = expiry
            ctx.tell(BecameLeader(msg.epoch, expiry))
            ctx.set_timer(RENEW, self.model.renew_every)
            ctx.set_timer(WRITE, 1)
        if self.model.v["step_down"]:
            ctx.set_timer(LEASE_EXPIRY, state.lease_expiry - ctx.now)

    @on(LeaseDenied)
    def denied(self, state, msg: LeaseDenied, src, ctx):
        if state.role is LeaseRole.LEADER and msg.epoch > state.epoch:
            self._step_down(state, f"the lock service says {msg.holder} holds epoch "
                                   f"{msg.epoch}", ctx)

    @on(WriteAck)
    def write_ack(self, state, msg: WriteAck, src, ctx):
        if not msg.accepted and state.role is LeaseRole.LEADER:
            self._step_down(state, f"the store is fenced at epoch {msg.epoch}", ctx)

    def _step_down(self, state: CandidateState, why: str, ctx) -> None:
        state.role = ROLE.move(state.role, LeaseRole.FOLLOWER)
        state.steps_down += 1
        ctx.cancel_timer(RENEW)
        ctx.cancel_timer(WRITE)
        ctx.cancel_timer(LEASE_EXPIRY)
        ctx.tell(SteppedDown(state.epoch, why))

    def label(self, state):
        return state.role.value

    def summary(self, node_id, state):
        return {"leader": state.role is LeaseRole.LEADER, "epoch": state.epoch,
                "lease_expiry_ms": state.lease_expiry / MS}
