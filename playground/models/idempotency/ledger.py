"""The ledger: the card network and its book.

A charge takes ``charge_ms`` to process and is recorded (and confirmed) when done. A
``ChargeWithKey`` (``processor = keyed``, the default) carries the idempotency key, and
the ledger answers a key it has charged, or is charging, with that one charge, like a
payment processor's own API: a charge duplicated on the link, or sent again by a retry
that took a stale key over, is absorbed. A plain ``Charge`` (``processor = plain``, or no
key) is never deduplicated: a duplicate on the link is a second charge. The ledger does
not compare a repeated key's amount; the server's fingerprint check stops a reused key
before it gets here. The book survives a crash; a charge pending in the
ledger when it crashes is never made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import Role, Timer, on, timer

from .facts import Charged, KeyedChargeAbsorbed
from .messages import LEDGER, Charge, ChargeRecorded, ChargeWithKey, PaymentTimer


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    charge_id: str
    payment: str
    amount: int
    customer: str


@dataclass(slots=True)
class LedgerBook:
    entries: list = field(default_factory=list)  # LedgerEntry, in order
    by_key: dict = field(default_factory=dict)  # idempotency key -> charge id (keyed charges)


@dataclass(slots=True)
class LedgerState:
    disk: LedgerBook = field(default_factory=LedgerBook)
    pending: dict = field(default_factory=dict)  # charge number -> (server, Charge)
    next_pending: int = 0
    waiting: dict = field(default_factory=dict)  # key being charged -> [(server, op)] also asking


class Ledger(Role):
    name = LEDGER
    State = LedgerState
    durable = ("disk",)
    helper = True

    @on(Charge)
    def charge(self, state, msg, src, ctx):
        """Start processing a charge; it is recorded ``charge_ms`` later."""
        state.next_pending += 1
        state.pending[state.next_pending] = (src, msg)
        ctx.set_timer(Timer(PaymentTimer.CHARGE, state.next_pending), self.model.charge_time)

    @on(ChargeWithKey)
    def charge_with_key(self, state, msg, src, ctx):
        """A keyed charge: a key already charged gets that charge back at once, a key
        being charged gets it when that charge is done; a new key is charged."""
        key = msg.idempotency_key
        charge_id = state.disk.by_key.get(key)
        if charge_id is not None:
            ctx.count("processor_dedups")
            ctx.tell(KeyedChargeAbsorbed(key, charge_id))
            ctx.send(src, ChargeRecorded(msg.op, charge_id))
        elif key in state.waiting:
            ctx.count("processor_dedups")
            ctx.tell(KeyedChargeAbsorbed(key, None))
            if (src, msg.op) not in state.waiting[key]:  # not a copy of the same request
                state.waiting[key].append((src, msg.op))
        else:
            state.waiting[key] = []
            self.charge(state, msg, src, ctx)

    @timer(PaymentTimer.CHARGE)
    def charge_done(self, state, done, ctx):
        """The charge went through: record it and confirm it (to every asker of its key)."""
        src, msg = state.pending.pop(done.arg)
        charge_id = f"ch_{len(state.disk.entries) + 1}"
        state.disk.entries.append(LedgerEntry(charge_id, msg.payment, msg.amount,
                                              msg.customer))
        keyed = type(msg) is ChargeWithKey
        ctx.count("charges")
        ctx.tell(Charged(charge_id, msg.payment, msg.amount, msg.customer,
                         msg.idempotency_key if keyed else None))
        ctx.send(src, ChargeRecorded(msg.op, charge_id))
        if keyed:
            state.disk.by_key[msg.idempotency_key] = charge_id
            for server, op in state.waiting.pop(msg.idempotency_key, ()):
                ctx.send(server, ChargeRecorded(op, charge_id))

    def label(self, state):
        return "ledger"

    def summary(self, node_id, state):
        return {"charges": len(state.disk.entries), "processing": len(state.pending)}
