"""Mutants of the lease model: the lock service, the store and the holder."""

from __future__ import annotations

from playground.models.base import MS
from playground.models.lease.messages import (LeaseDenied, LeaseGrant, LeaseRequest, STORE,
                                              Write, WriteAck)
from playground.models.lease.facts import (BecameLeader, LeaseGranted, LeaseRenewed,
                                           WriteAccepted)
from playground.models.lease.candidate import (Candidate, CandidateState, LEASE_EXPIRY,
                                               LeaseRole, RENEW, ROLE, WRITE)
from playground.models.lease.service import LockService
from playground.models.lease.store import Store

from . import mutant, replacing


@replacing(LockService, "request")
def _handover_at_half_ttl(self, lock, msg: LeaseRequest, src, ctx):
    state = lock.record
    now = ctx.now
    ttl = self.model.ttl
    live = state.holder is not None and now < state.lease_expiry - ttl // 2  # the bug
    if live and state.holder == src:
        state.lease_expiry = now + ttl
        ctx.count("renewals")
        ctx.tell(LeaseRenewed(src, state.epoch))
    elif not live:
        previous = state.holder if state.holder not in (None, src) else None
        if previous is not None:
            ctx.count("handovers")
        state.epoch += 1
        state.holder = src
        state.lease_expiry = now + ttl
        ctx.count("grants")
        ctx.tell(LeaseGranted(src, state.epoch, state.lease_expiry, previous))
    else:
        ctx.send(src, LeaseDenied(state.holder, state.epoch))
        return
    ctx.send(src, LeaseGrant(state.epoch, ttl, msg.sent_at))


@replacing(Store, "write")
def _store_accepts_every_epoch(self, state, msg: Write, src, ctx):
    state.accepted += 1  # the bug: no fencing check, whatever the variant says
    state.max_epoch = max(state.max_epoch, msg.epoch)
    state.last_writer, state.last_seq = src, msg.seq
    ctx.tell(WriteAccepted(src, msg.epoch, msg.seq))
    ctx.send(src, WriteAck(True, state.max_epoch))


@replacing(Candidate, "write")
def _holder_never_checks_its_clock(self, state: CandidateState, _timer, ctx):
    if state.role is not LeaseRole.LEADER:
        return
    state.writes_sent += 1  # the bug: no look at the clock before writing
    ctx.send(STORE, Write(state.epoch, state.writes_sent))
    ctx.set_timer(WRITE, int(self.model.p["write_ms"] * MS))


@replacing(Candidate, "lease_expiry")
def _expiry_ignored(self, state, _timer, ctx):
    pass  # the bug: the expiry timer does nothing


@replacing(Candidate, "grant")
def _lease_counted_from_receipt(self, state: CandidateState, msg: LeaseGrant, src, ctx):
    expiry = ctx.now + msg.ttl - self.model.margin  # the bug: from receipt, not sent_at
    if state.role is LeaseRole.LEADER and msg.epoch == state.epoch:
        state.lease_expiry = max(state.lease_expiry, expiry)
    else:
        if msg.epoch < state.epoch:
            return
        if state.role is not LeaseRole.LEADER:
            state.role = ROLE.move(state.role, LeaseRole.LEADER)
        state.epoch = msg.epoch
        state.lease_expiry = expiry
        ctx.tell(BecameLeader(msg.epoch, expiry))
        ctx.set_timer(RENEW, self.model.renew_every)
        ctx.set_timer(WRITE, 1)
    if self.model.v["step_down"]:
        ctx.set_timer(LEASE_EXPIRY, state.lease_expiry - ctx.now)


MUTANTS = (
    mutant("lease", "handover_at_half_ttl", "the lock service hands the lease over after "
           "half the TTL", _handover_at_half_ttl),
    mutant("lease", "store_accepts_every_epoch", "the store ignores the fencing token",
           _store_accepts_every_epoch),
    mutant("lease", "holder_never_checks_its_clock", "the holder writes without looking at "
           "its clock and ignores its expiry timer", _holder_never_checks_its_clock,
           _expiry_ignored),
    mutant("lease", "lease_counted_from_receipt", "the holder counts its lease from when "
           "the grant arrived, not from when it asked", _lease_counted_from_receipt),
)
