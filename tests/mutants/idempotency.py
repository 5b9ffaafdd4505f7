"""Mutants of the idempotency model: the server's key handling, the key store, the ledger."""

from __future__ import annotations

from playground.models.idempotency.facts import AnsweredInProgress, KeyInserted, RepliedFromStore
from playground.models.idempotency.keystore import KeyStore
from playground.models.idempotency.ledger import Ledger
from playground.models.idempotency.messages import (KEYS, KeyGet, KeyStatus, PaymentInProgress,
                                                    PaymentReceipt)
from playground.models.idempotency.server import FIRST_PHASE, Job, Phase, Server

from . import mutant, replacing


@replacing(Server, "_assign")
def _key_claimed_after_the_charge(self, state, ctx):
    for i, job in enumerate(state.workers):
        if not state.queue:
            return
        if job is None:
            client, req = state.queue.pop(0)
            state.workers[i] = Job(client, req.payment, req.amount, req.idempotency_key,
                                   req.request)
            if FIRST_PHASE[self.model.mode] is Phase.CHECKING:
                self._step(state, i, Phase.CHECKING, KEYS, KeyGet, ctx)
            else:  # the bug: charge first; the key is written only with the receipt
                self._charge(state, i, ctx)


@replacing(Server, "_answer_from_record")
def _stored_reply_for_another_request(self, state, i, status, receipt, fingerprint, ctx,
                                      take_over=True):
    job = state.workers[i]  # the bug: no look at whose request made the row
    if status is KeyStatus.COMPLETED:
        ctx.count("replies_from_store")
        ctx.tell(RepliedFromStore(job.payment, receipt.charge_id))
        self._finish(state, i, PaymentReceipt(job.payment, receipt.charge_id,
                                              receipt.amount, True, job.request), ctx)
    else:
        ctx.count("conflicts")
        ctx.tell(AnsweredInProgress(job.payment))
        self._finish(state, i, PaymentInProgress(job.payment), ctx)


@replacing(Ledger, "charge_with_key")
def _ledger_ignores_the_key(self, state, msg, src, ctx):
    self.charge(state, msg, src, ctx)  # the bug: a keyed charge is charged like any other


@replacing(KeyStore, "insert")
def _insert_without_the_unique_constraint(self, state, msg, src, ctx):
    self._lock(state, msg, src, KeyInserted(msg.idempotency_key), ctx)  # the bug: no lookup


MUTANTS = (
    mutant("idempotency", "key_claimed_after_the_charge", "the server charges first and "
           "writes the key only with the receipt", _key_claimed_after_the_charge),
    mutant("idempotency", "stored_reply_for_another_request", "a stored receipt answers a "
           "request with the same key whatever its client and amount",
           _stored_reply_for_another_request),
    mutant("idempotency", "ledger_ignores_the_key", "the processor charges a keyed charge "
           "again", _ledger_ignores_the_key),
    mutant("idempotency", "insert_without_unique_constraint", "the key table has no unique "
           "constraint: a second insert of a key succeeds", _insert_without_the_unique_constraint),
)
