"""A client: pays, waits ``client_timeout_ms`` for an answer, and resends the same request.

Each payment has a reference (``c1-3``, or a key the user chose); in the modes with keys
it travels as the ``idempotency_key``. A receipt settles the payment; "in progress" or
"failed" resends it after ``retry_backoff_ms``; silence resends it after the timeout, up
to ``max_retries`` times, then the client gives up. A rejection (the key was first used
for another request) ends the payment. Requests are numbered, and an answer to a request
sent before the outstanding payment began (a late copy of an earlier payment's receipt
under the same reference) is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import MS, SECOND, Role, Timer, command, on, timer

from .facts import GaveUp, Paid, Rejected
from .messages import (SERVER, Mode, PaymentFailed, PaymentInProgress, PaymentReceipt,
                       PaymentRejected, PaymentRequest, PaymentTimer)

WORKLOAD = Timer(PaymentTimer.WORKLOAD)


def retry_timer(payment: str) -> Timer:
    return Timer(PaymentTimer.RETRY, payment)


@dataclass(slots=True)
class Outstanding:
    """A client payment awaiting its receipt."""

    amount: int
    started_at: int  # client clock, µs
    first_request: int  # the number of its first request: answers to earlier ones are stale
    attempts: int = 0  # requests sent so far (the first one and double submits included)
    retries: int = 0  # resends after a timeout, an answer to retry, or a user's resubmit


@dataclass(slots=True)
class ClientDisk:
    next_payment: int = 0
    next_request: int = 0


@dataclass(slots=True)
class ClientState:
    disk: ClientDisk = field(default_factory=ClientDisk)
    outstanding: dict = field(default_factory=dict)  # payment -> Outstanding
    paid: int = 0
    gave_up: int = 0
    rejected: int = 0


def outstanding_rows(state: ClientState) -> list:
    """A client's outstanding payments, JSON-ready (its summary and the panel)."""
    return [{"payment": p, "amount": o.amount, "attempts": o.attempts,
             "retries": o.retries} for p, o in state.outstanding.items()]


class Client(Role):
    name = "client"
    State = ClientState
    durable = ("disk",)
    helper = True

    def start(self, state, ctx):
        """Clients with a workload start their payment timer."""
        if self.model.p["payments_per_second"] > 0:
            self._arm_workload(ctx)

    @command("pay", "double_submit")
    def pay_command(self, state, command, ctx):
        """A user's ``pay`` or ``double_submit``."""
        amount = int(command.get("amount", self.model.p["amount"]))
        copies = 2 if command["type"] == "double_submit" else 1
        self._pay(state, ctx, amount, copies, command.get("key"))

    @timer(PaymentTimer.WORKLOAD)
    def workload(self, state, _timer, ctx):
        """Start the next workload payment."""
        double = ctx.rng.random() < self.model.p["double_submit_fraction"]
        self._pay(state, ctx, int(self.model.p["amount"]), 2 if double else 1, None)
        self._arm_workload(ctx)

    def _arm_workload(self, ctx):
        period = SECOND / self.model.p["payments_per_second"]
        ctx.set_timer(WORKLOAD, max(1, int(period * (0.5 + ctx.rng.random()))))

    def _pay(self, state, ctx, amount, copies, payment):
        """Send ``copies`` requests for a payment; a known outstanding reference is resent."""
        if payment is None:
            state.disk.next_payment += 1
            payment = f"{ctx.node}-{state.disk.next_payment}"
        pending = state.outstanding.get(payment)
        if pending is None:
            pending = state.outstanding[payment] = Outstanding(
                amount, ctx.now, state.disk.next_request + 1)
            ctx.count("payments")
        else:
            pending.retries += 1  # the user resubmits a payment still waiting
            ctx.count("retries")
        if copies > 1:
            ctx.count("double_submits")
        for _ in range(copies):
            self._send_request(state, pending, payment, ctx)
        ctx.note(f"pay {payment}", amount=pending.amount, copies=copies)

    def _send_request(self, state, pending, payment, ctx):
        pending.attempts += 1
        state.disk.next_request += 1
        key = None if self.model.mode is Mode.NONE else payment
        ctx.send(SERVER, PaymentRequest(payment, pending.amount, key, state.disk.next_request))
        ctx.set_timer(retry_timer(payment), self.model.client_timeout)

    @timer(PaymentTimer.RETRY)
    def timeout(self, state, retry, ctx):
        """No answer in time: resend the same request, or give up."""
        payment = retry.arg
        pending = state.outstanding.get(payment)
        if pending is None:
            return
        if pending.retries >= self.model.p["max_retries"]:
            del state.outstanding[payment]
            state.gave_up += 1
            ctx.count("gave_up")
            ctx.tell(GaveUp(payment, pending.attempts))
            return
        pending.retries += 1
        ctx.count("retries")
        ctx.note(f"retry {payment}", retry=pending.retries)
        self._send_request(state, pending, payment, ctx)

    @on(PaymentReceipt)
    def receipt(self, state, msg, src, ctx):
        """The payment is done; later answers for it are ignored."""
        pending = self._settle(state, msg, ctx)
        if pending is not None:
            state.paid += 1
            ctx.count("paid")
            ctx.observe("payment_latency_ms", (ctx.now - pending.started_at) / MS)
            ctx.tell(Paid(msg.payment, msg.charge_id, pending.amount, msg.from_store))

    @on(PaymentRejected)
    def rejected(self, state, msg, src, ctx):
        """The key belongs to another request: this payment cannot go through under it."""
        if self._settle(state, msg, ctx) is not None:
            state.rejected += 1
            ctx.count("rejected")
            ctx.tell(Rejected(msg.payment, msg.reason))

    def _settle(self, state, answer, ctx) -> Outstanding | None:
        """End the outstanding payment ``answer`` is for, unless it answers a request sent
        before that payment began (or none is outstanding)."""
        pending = state.outstanding.get(answer.payment)
        if pending is None or answer.request < pending.first_request:
            return None
        del state.outstanding[answer.payment]
        ctx.cancel_timer(retry_timer(answer.payment))
        return pending

    @on(PaymentInProgress, PaymentFailed)
    def retry_later(self, state, msg, src, ctx):
        """'In progress' or 'failed': resend after the backoff (unless already paid)."""
        if msg.payment in state.outstanding:
            ctx.set_timer(retry_timer(msg.payment), self.model.retry_backoff)

    def label(self, state):
        return "client"

    def summary(self, node_id, state):
        return {"outstanding": outstanding_rows(state), "paid": state.paid,
                "gave_up": state.gave_up, "rejected": state.rejected}
