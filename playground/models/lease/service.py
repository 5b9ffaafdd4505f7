"""The lock service: the truth about who holds the lease, on its own clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import MS, Role, on

from .messages import LOCK, LeaseDenied, LeaseGrant, LeaseRequest
from .facts import LeaseGranted, LeaseRenewed


@dataclass(slots=True)
class LeaseRecord:
    """The lock service's truth about the lease."""

    holder: str | None = None
    epoch: int = 0
    lease_expiry: int = 0  # the service's clock, µs


@dataclass(slots=True)
class LockState:
    record: LeaseRecord = field(default_factory=LeaseRecord)


class LockService(Role):
    """The lock service: the truth about who holds the lease, on its own clock."""

    name = LOCK
    State = LockState
    durable = ("record",)
    helper = True

    @on(LeaseRequest)
    def request(self, lock: LockState, msg: LeaseRequest, src: str, ctx) -> None:
        """Renew for the holder, grant if free or expired on this clock, else deny."""
        state = lock.record
        now = ctx.now
        ttl = self.model.ttl
        live = state.holder is not None and now < state.lease_expiry
        if live and state.holder == src:
            state.lease_expiry = now + ttl
            ctx.count("renewals")
            ctx.tell(LeaseRenewed(src, state.epoch))
        elif not live:
            previous = None
            if state.holder is not None and state.holder != src:
                previous = state.holder
                ctx.count("handovers")
                ctx.note(f"lease of {state.holder} (epoch {state.epoch}) expired on the lock "
                         f"service's clock; granting to {src}", previous=state.holder)
            state.epoch += 1
            state.holder = src
            state.lease_expiry = now + ttl
            ctx.count("grants")
            ctx.tell(LeaseGranted(src, state.epoch, state.lease_expiry, previous))
        else:
            ctx.send(src, LeaseDenied(state.holder, state.epoch))
            return
        ctx.send(src, LeaseGrant(state.epoch, ttl, msg.sent_at))

    def label(self, state):
        return "lock service"

    def summary(self, node_id, state):
        rec = state.record
        return {"holder": rec.holder, "epoch": rec.epoch,
                "lease_expiry_ms": rec.lease_expiry / MS}
