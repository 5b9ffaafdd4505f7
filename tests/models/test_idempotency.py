"""Unit tests of the idempotency model, one transition at a time, and its presets."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from playground.engine import commands as C
from playground.models.base import MS
from playground.models.fsm import IllegalTransition
from playground.models.base import Timer, UnexpectedEvent
from playground.models.idempotency import Idempotency
from playground.models.idempotency.checker import Observer
from playground.models.idempotency.client import WORKLOAD, ClientState
from playground.models.idempotency.facts import (
    AnsweredInProgress, Charged, GaveUp, KeyClaimed, KeyedChargeAbsorbed, KeyInserted,
    KeyReuseRejected, KeySaved, KeyTakenOver, LateChargeConfirmed, Paid, Rejected,
    RepliedFromStore, StepTimedOut,
)
from playground.models.idempotency.keystore import KeyRecord, KeyStoreState
from playground.models.idempotency.ledger import LedgerState
from playground.models.idempotency.messages import (
    KEYS, LEDGER, SERVER, Charge, ChargeRecorded, ChargeWithKey, ConditionFailed, DuplicateKey,
    Fingerprint, KeyGet, KeyInsert, KeyItem, KeyPut, KeyPutIfAbsent, KeyStatus, KeyTakeOver,
    KeyWritten, PaymentFailed, PaymentInProgress, PaymentReceipt, PaymentRejected,
    PaymentRequest, PaymentTimer, Receipt,
)
from playground.models.idempotency.server import WORKER, Phase
from playground.scenarios import build, presets, run
from playground.scenarios.schema import validate
from tests.fakes import FakeContext
from tests.mutants import applied
from tests.mutants.idempotency import MUTANTS as IDEMPOTENCY_MUTANTS

DEFAULTS = {p.name: p.default for p in Idempotency.params}


def model(mode="unique_insert", recovery="none", processor="keyed", **params):
    return Idempotency(5, {**DEFAULTS, **params},
                       {"mode": mode, "recovery": recovery, "processor": processor})


def ctx_for(m, node, now=0, ghost=None):
    return FakeContext(node=node, params=m.p, variant=m.v, ghost=ghost or Observer(), now=now)


def retry(payment):
    return Timer(PaymentTimer.RETRY, payment)


def worker(i):
    return Timer(PaymentTimer.WORKER, i)


def charge_timer(n):
    return Timer(PaymentTimer.CHARGE, n)


def view_of(m, ctx, **states):
    """A view of a whole model whose facts are those ``ctx`` has been told so far."""
    nodes = {nid: SimpleNamespace(state=states.get(nid) or m.init_node(nid))
             for nid in m.node_ids()}
    return SimpleNamespace(nodes=nodes, node_ids=tuple(m.node_ids()), ghost=ctx.ghost,
                           counters=ctx.counters, facts=ctx.facts)


def check(m, view, node_id):
    """What the checker finds after one event; its facts are then consumed."""
    found = list(m.check(view, node_id))
    view.facts.clear()
    return found


# -- clients -----------------------------------------------------------------------------
def test_pay_sends_the_payment_with_its_key_and_arms_the_client_timeout():
    m = model()
    st, ctx = ClientState(), ctx_for(m, "c1")
    m.on_command(st, {"type": "pay", "amount": 30}, ctx)
    assert ctx.sent == [(SERVER, PaymentRequest("c1-1", 30, "c1-1", 1))]
    assert ctx.timers == {"retry:c1-1": DEFAULTS["client_timeout_ms"] * MS}
    assert st.outstanding["c1-1"].attempts == 1
    assert st.disk.next_payment == 1
    assert ctx.counters == {"payments": 1}


def test_without_keys_the_request_carries_no_idempotency_key():
    m = model("none")
    st, ctx = ClientState(), ctx_for(m, "c2")
    m.on_command(st, {"type": "pay"}, ctx)
    assert ctx.sent == [(SERVER, PaymentRequest("c2-1", DEFAULTS["amount"], None, 1))]


def test_double_submit_sends_two_identical_requests():
    m = model()
    st, ctx = ClientState(), ctx_for(m, "c1")
    m.on_command(st, {"type": "double_submit", "amount": 40, "key": "order-7"}, ctx)
    assert ctx.sent == [(SERVER, PaymentRequest("order-7", 40, "order-7", 1)),
                        (SERVER, PaymentRequest("order-7", 40, "order-7", 2))]
    assert st.outstanding["order-7"].attempts == 2
    assert ctx.counters == {"payments": 1, "double_submits": 1}


def test_paying_an_outstanding_key_again_is_a_retry_of_it():
    m = model()
    st, ctx = ClientState(), ctx_for(m, "c1")
    m.on_command(st, {"type": "pay", "key": "k", "amount": 5}, ctx)
    m.on_command(st, {"type": "pay", "key": "k", "amount": 99}, ctx)
    assert [msg for _, msg in ctx.sent] == [PaymentRequest("k", 5, "k", n) for n in (1, 2)]
    assert st.outstanding["k"].retries == 1
    assert ctx.counters["retries"] == 1


def test_client_timeout_resends_the_same_key_then_gives_up():
    m = model(max_retries=2)
    st, ctx = ClientState(), ctx_for(m, "c1")
    m.on_command(st, {"type": "pay", "amount": 10}, ctx)
    for _ in range(2):
        m.on_timer(st, retry("c1-1"), ctx)
    assert [msg for _, msg in ctx.sent] == [PaymentRequest("c1-1", 10, "c1-1", n)
                                            for n in (1, 2, 3)]
    assert ctx.counters["retries"] == 2
    assert ctx.facts == []
    m.on_timer(st, retry("c1-1"), ctx)
    assert len(ctx.sent) == 3
    assert st.outstanding == {} and st.gave_up == 1
    assert ctx.counters["gave_up"] == 1
    assert ctx.facts == [GaveUp("c1-1", 3)]
    m.on_timer(st, retry("c1-1"), ctx)  # a stale timer of a payment given up: nothing
    assert len(ctx.sent) == 3 and st.gave_up == 1


def test_receipt_completes_the_payment_and_later_answers_are_ignored():
    m = model()
    st, ctx = ClientState(), ctx_for(m, "c1")
    m.on_command(st, {"type": "pay", "amount": 10}, ctx)
    ctx.now = 250 * MS
    m.on_message(st, PaymentReceipt("c1-1", "ch_1", 10, False, 1), SERVER, ctx)
    assert st.outstanding == {} and st.paid == 1
    assert "retry:c1-1" not in ctx.timers
    assert ctx.samples["payment_latency_ms"] == [250.0]
    assert ctx.facts == [Paid("c1-1", "ch_1", 10, False)]
    m.on_message(st, PaymentReceipt("c1-1", "ch_1", 10, True, 1), SERVER, ctx)
    assert st.paid == 1 and ctx.facts == [Paid("c1-1", "ch_1", 10, False)]


def test_an_answer_to_an_earlier_payment_under_the_same_reference_is_ignored():
    m = model()
    st, ctx = ClientState(), ctx_for(m, "c1")
    m.on_command(st, {"type": "pay", "key": "k", "amount": 10}, ctx)
    m.on_message(st, PaymentReceipt("k", "ch_1", 10, False, 1), SERVER, ctx)
    m.on_command(st, {"type": "pay", "key": "k", "amount": 40}, ctx)  # request 2
    m.on_message(st, PaymentReceipt("k", "ch_1", 10, False, 1), SERVER, ctx)  # a late copy
    m.on_message(st, PaymentRejected("k", "x", 1), SERVER, ctx)
    assert st.paid == 1 and st.outstanding["k"].amount == 40
    m.on_message(st, PaymentRejected("k", "key used for another request", 2), SERVER, ctx)
    assert st.outstanding == {} and st.rejected == 1 and "retry:k" not in ctx.timers
    assert ctx.facts[-1] == Rejected("k", "key used for another request")
    assert ctx.counters["rejected"] == 1


@pytest.mark.parametrize("answer", [PaymentInProgress("c1-1"), PaymentFailed("c1-1", "x")])
def test_in_progress_or_failed_answer_resends_after_the_backoff(answer):
    m = model()
    st, ctx = ClientState(), ctx_for(m, "c1")
    m.on_command(st, {"type": "pay"}, ctx)
    m.on_message(st, answer, SERVER, ctx)
    assert ctx.timers["retry:c1-1"] == DEFAULTS["retry_backoff_ms"] * MS
    assert "c1-1" in st.outstanding


def test_workload_starts_payments_on_the_clients_clock():
    m = model(payments_per_second=10)
    st, ctx = ClientState(), ctx_for(m, "c1")
    m.on_start(st, ctx)
    assert 50 * MS <= ctx.timers["workload"] < 150 * MS
    m.on_timer(st, WORKLOAD, ctx)
    assert ctx.sent_of(PaymentRequest) == [(SERVER, PaymentRequest("c1-1", 25, "c1-1", 1))]
    assert "workload" in ctx.timers


# -- server ------------------------------------------------------------------------------
def server_with(m, *requests):
    st, ctx = m.init_node(SERVER), ctx_for(m, SERVER)
    for n, (client, payment) in enumerate(requests, 1):
        key = None if m.mode.value == "none" else payment
        m.on_message(st, PaymentRequest(payment, 20, key, n), client, ctx)
    return st, ctx


def fp(client="c1", amount=20):
    return Fingerprint(client, amount)


def test_no_key_mode_charges_then_replies():
    m = model("none")
    st, ctx = server_with(m, ("c1", "p"))
    assert ctx.sent == [(LEDGER, Charge(1, "p", 20, "c1"))]
    assert st.workers[0].phase is Phase.CHARGING
    ctx.clear()
    m.on_message(st, ChargeRecorded(1, "ch_1"), LEDGER, ctx)
    assert ctx.sent == [("c1", PaymentReceipt("p", "ch_1", 20, False, 1))]
    assert st.workers == [None] * DEFAULTS["workers"]
    assert "worker:0" not in ctx.timers


def test_naive_checks_charges_saves_then_replies():
    m = model("naive", processor="plain")
    st, ctx = server_with(m, ("c1", "p"))
    assert ctx.sent == [(KEYS, KeyGet(1, "p"))]
    assert st.workers[0].phase is Phase.CHECKING
    ctx.clear()
    m.on_message(st, KeyItem(1, "p", None, None, None), KEYS, ctx)
    assert ctx.sent == [(LEDGER, Charge(2, "p", 20, "c1"))]
    ctx.clear()
    m.on_message(st, ChargeRecorded(2, "ch_4"), LEDGER, ctx)
    assert ctx.sent == [(KEYS, KeyPut(3, "p", KeyStatus.COMPLETED, Receipt("ch_4", 20), fp()))]
    assert st.workers[0].phase is Phase.SAVING
    ctx.clear()
    m.on_message(st, KeyWritten(3, "p"), KEYS, ctx)
    assert ctx.sent == [("c1", PaymentReceipt("p", "ch_4", 20, False, 1))]
    assert st.workers[0] is None and st.ops == {}


def test_naive_check_that_finds_the_key_replies_from_the_store():
    m = model("naive")
    st, ctx = server_with(m, ("c1", "p"))
    ctx.clear()
    m.on_message(st, KeyItem(1, "p", KeyStatus.COMPLETED, Receipt("ch_1", 20), fp()), KEYS,
                 ctx)
    assert ctx.sent == [("c1", PaymentReceipt("p", "ch_1", 20, True, 1))]
    assert ctx.counters["replies_from_store"] == 1
    assert ctx.facts == [RepliedFromStore("p", "ch_1")]


@pytest.mark.parametrize("processor", ["plain", "keyed"])
def test_naive_workers_with_the_same_key_both_pass_the_check(processor):
    m = model("naive", processor=processor)
    st, ctx = server_with(m, ("c1", "p"), ("c1", "p"))
    assert ctx.sent == [(KEYS, KeyGet(1, "p")), (KEYS, KeyGet(2, "p"))]
    ctx.clear()
    m.on_message(st, KeyItem(1, "p", None, None, None), KEYS, ctx)
    m.on_message(st, KeyItem(2, "p", None, None, None), KEYS, ctx)
    if processor == "plain":
        assert ctx.sent == [(LEDGER, Charge(3, "p", 20, "c1")), (LEDGER, Charge(4, "p", 20, "c1"))]
    else:  # both pass the check, and the key travels on to the ledger with both charges
        assert ctx.sent == [(LEDGER, ChargeWithKey(3, "p", 20, "c1", "p")),
                            (LEDGER, ChargeWithKey(4, "p", 20, "c1", "p"))]


def test_unique_insert_claims_the_key_before_charging():
    m = model("unique_insert")
    st, ctx = server_with(m, ("c1", "p"))
    assert ctx.sent == [(KEYS, KeyInsert(1, "p", fp()))]
    assert st.workers[0].phase is Phase.CLAIMING
    ctx.clear()
    m.on_message(st, KeyWritten(1, "p"), KEYS, ctx)
    assert ctx.sent == [(LEDGER, ChargeWithKey(2, "p", 20, "c1", "p"))]


def test_unique_insert_duplicate_reads_the_row_and_stops_if_started():
    m = model("unique_insert")
    st, ctx = server_with(m, ("c2", "p"))
    ctx.clear()
    m.on_message(st, DuplicateKey(1, "p"), KEYS, ctx)
    assert ctx.sent == [(KEYS, KeyGet(2, "p"))]
    assert st.workers[0].phase is Phase.READING
    ctx.clear()
    m.on_message(st, KeyItem(2, "p", KeyStatus.STARTED, None, fp("c2")), KEYS, ctx)
    assert ctx.sent == [("c2", PaymentInProgress("p"))]
    assert ctx.counters["conflicts"] == 1
    assert ctx.facts == [AnsweredInProgress("p")]
    assert st.workers[0] is None


def test_unique_insert_duplicate_of_a_completed_row_gets_the_stored_receipt():
    m = model("unique_insert")
    st, ctx = server_with(m, ("c2", "p"))
    m.on_message(st, DuplicateKey(1, "p"), KEYS, ctx)
    ctx.clear()
    m.on_message(st, KeyItem(2, "p", KeyStatus.COMPLETED, Receipt("ch_9", 20), fp("c2")), KEYS,
                 ctx)
    assert ctx.sent == [("c2", PaymentReceipt("p", "ch_9", 20, True, 1))]


@pytest.mark.parametrize("row", [fp("c1", 20), fp("c2", 99)])
def test_a_row_made_by_another_request_rejects_the_reuse_of_its_key(row):
    m = model("unique_insert")
    st, ctx = server_with(m, ("c2", "p"))
    m.on_message(st, DuplicateKey(1, "p"), KEYS, ctx)
    ctx.clear()
    m.on_message(st, KeyItem(2, "p", KeyStatus.COMPLETED, Receipt("ch_9", row.amount), row),
                 KEYS, ctx)
    ((dst, answer),) = ctx.sent
    assert dst == "c2" and type(answer) is PaymentRejected and answer.request == 1
    assert ctx.facts == [KeyReuseRejected("p", "c2", 20)]
    assert ctx.counters["rejected_reuses"] == 1 and st.workers[0] is None


def test_conditional_put_refusal_answers_from_the_returned_item():
    m = model("conditional_put")
    st, ctx = server_with(m, ("c1", "p"), ("c2", "p"))
    assert ctx.sent == [(KEYS, KeyPutIfAbsent(1, "p", fp("c1"))),
                        (KEYS, KeyPutIfAbsent(2, "p", fp("c2")))]
    ctx.clear()
    m.on_message(st, ConditionFailed(2, "p", KeyStatus.STARTED, None, fp("c2")), KEYS, ctx)
    assert ctx.sent == [("c2", PaymentInProgress("p"))]
    m.on_message(st, ConditionFailed(1, "p", KeyStatus.COMPLETED, Receipt("ch_1", 20), fp()),
                 KEYS, ctx)
    assert ctx.sent[-1] == ("c1", PaymentReceipt("p", "ch_1", 20, True, 1))


def test_requests_wait_for_a_free_worker():
    m = model("none", workers=1)
    st, ctx = server_with(m, ("c1", "a"), ("c2", "b"))
    assert ctx.sent == [(LEDGER, Charge(1, "a", 20, "c1"))]
    assert [req.payment for _, req in st.queue] == ["b"]
    ctx.clear()
    m.on_message(st, ChargeRecorded(1, "ch_1"), LEDGER, ctx)
    assert ctx.sent == [("c1", PaymentReceipt("a", "ch_1", 20, False, 1)),
                        (LEDGER, Charge(2, "b", 20, "c2"))]
    assert st.queue == []


def test_worker_timeout_fails_the_request_and_a_late_confirmation_is_only_counted():
    m = model("naive")
    st, ctx = server_with(m, ("c1", "p"))
    m.on_message(st, KeyItem(1, "p", None, None, None), KEYS, ctx)
    assert ctx.timers[worker(0)] == DEFAULTS["server_timeout_ms"] * MS
    ctx.clear()
    m.on_timer(st, worker(0), ctx)
    assert ctx.sent == [("c1", PaymentFailed("p", "charging timed out"))]
    assert st.workers[0] is None and st.ops == {}
    assert ctx.facts == [StepTimedOut("p", "charging")]
    ctx.clear()
    m.on_message(st, ChargeRecorded(2, "ch_1"), LEDGER, ctx)
    assert ctx.sent == []
    assert ctx.counters["late_charges"] == 1
    assert ctx.facts == [LateChargeConfirmed("ch_1")]
    ctx.clear()
    m.on_timer(st, worker(0), ctx)  # a worker with no job: nothing to give up
    assert ctx.sent == [] and ctx.facts == []


def test_a_reply_to_an_old_operation_is_ignored():
    m = model("unique_insert")
    st, ctx = server_with(m, ("c1", "p"))
    m.on_message(st, KeyWritten(1, "p"), KEYS, ctx)
    ctx.clear()
    m.on_message(st, KeyWritten(1, "p"), KEYS, ctx)  # a copy of the claim's answer
    assert ctx.sent == []
    assert st.workers[0].phase is Phase.CHARGING


def test_worker_transition_table_refuses_illegal_moves():
    assert WORKER.move(Phase.CLAIMING, Phase.READING) is Phase.READING
    with pytest.raises(IllegalTransition):
        WORKER.move(Phase.READING, Phase.CHARGING)
    with pytest.raises(IllegalTransition):
        WORKER.move(Phase.IDLE, Phase.SAVING)


def test_server_op_counter_survives_a_crash():
    m = model()
    assert "disk" in m.durable
    st, _ = server_with(m, ("c1", "p"))
    fresh = m.init_node(SERVER)
    fresh.disk = st.disk
    assert fresh.disk.next_op == 1 and fresh.workers == [None] * DEFAULTS["workers"]


# -- key store ---------------------------------------------------------------------------
def test_insert_is_atomic_and_unique():
    m = model()
    st, ctx = KeyStoreState(), ctx_for(m, KEYS)
    m.on_message(st, KeyInsert(1, "k", fp()), SERVER, ctx)
    m.on_message(st, KeyInsert(2, "k", fp()), SERVER, ctx)
    assert ctx.sent == [(SERVER, KeyWritten(1, "k")), (SERVER, DuplicateKey(2, "k"))]
    assert st.disk.items == {"k": KeyRecord(KeyStatus.STARTED, None, fp())}
    assert ctx.facts == [KeyInserted("k")]


def test_put_if_absent_returns_the_existing_item_when_refused():
    m = model()
    st, ctx = KeyStoreState(), ctx_for(m, KEYS)
    st.disk.items["k"] = KeyRecord(KeyStatus.COMPLETED, Receipt("ch_1", 5), fp("c1", 5))
    m.on_message(st, KeyPutIfAbsent(3, "k", fp("c2", 5)), SERVER, ctx)
    m.on_message(st, KeyPutIfAbsent(4, "j", fp()), SERVER, ctx)
    assert ctx.sent == [(SERVER, ConditionFailed(3, "k", KeyStatus.COMPLETED, Receipt("ch_1", 5),
                                                 fp("c1", 5))),
                        (SERVER, KeyWritten(4, "j"))]
    assert st.disk.items["j"] == KeyRecord(KeyStatus.STARTED, None, fp())
    assert ctx.facts == [KeyClaimed("j")]


def test_get_and_put():
    m = model()
    st, ctx = KeyStoreState(), ctx_for(m, KEYS)
    m.on_message(st, KeyGet(1, "k"), SERVER, ctx)
    m.on_message(st, KeyPut(2, "k", KeyStatus.COMPLETED, Receipt("ch_2", 7), fp()), SERVER, ctx)
    m.on_message(st, KeyGet(3, "k"), SERVER, ctx)
    assert ctx.sent == [(SERVER, KeyItem(1, "k", None, None, None)), (SERVER, KeyWritten(2, "k")),
                        (SERVER, KeyItem(3, "k", KeyStatus.COMPLETED, Receipt("ch_2", 7), fp()))]
    assert ctx.facts == [KeySaved("k", "COMPLETED", "ch_2")]


# -- stuck keys: recovery -------------------------------------------------------------------
LOCK = DEFAULTS["lock_timeout_ms"] * MS


@pytest.mark.parametrize("processor", ["keyed", "plain"])
def test_a_started_row_is_taken_over_instead_of_answered_in_progress(processor):
    m = model("unique_insert", "expire", processor)
    st, ctx = server_with(m, ("c2", "p"))
    m.on_message(st, DuplicateKey(1, "p"), KEYS, ctx)
    ctx.clear()
    m.on_message(st, KeyItem(2, "p", KeyStatus.STARTED, None, fp("c2")), KEYS, ctx)
    assert ctx.sent == [(KEYS, KeyTakeOver(3, "p", fp("c2"), LOCK))]
    assert st.workers[0].phase is Phase.CLAIMING and st.workers[0].took_over
    ctx.clear()
    m.on_message(st, KeyWritten(3, "p"), KEYS, ctx)
    charge = (ChargeWithKey(4, "p", 20, "c2", "p") if processor == "keyed" else
              Charge(4, "p", 20, "c2"))
    assert ctx.sent == [(LEDGER, charge)] and ctx.counters["takeovers"] == 1


def test_a_refused_takeover_answers_in_progress_without_asking_again():
    m = model("conditional_put", "expire")
    st, ctx = server_with(m, ("c2", "p"))
    m.on_message(st, ConditionFailed(1, "p", KeyStatus.STARTED, None, fp("c2")), KEYS, ctx)
    ctx.clear()
    m.on_message(st, KeyItem(2, "p", KeyStatus.STARTED, None, fp("c2")), KEYS, ctx)  # fresh
    assert ctx.sent == [("c2", PaymentInProgress("p"))] and st.workers[0] is None


def test_the_key_store_grants_a_takeover_only_of_a_stale_started_lock():
    m = model()
    st = KeyStoreState()
    m.on_message(st, KeyInsert(1, "k", fp()), SERVER, ctx_for(m, KEYS, now=100))
    early, late = ctx_for(m, KEYS, now=100 + LOCK - 1), ctx_for(m, KEYS, now=100 + LOCK)
    m.on_message(st, KeyTakeOver(2, "k", fp(), LOCK), SERVER, early)
    assert early.sent == [(SERVER, KeyItem(2, "k", KeyStatus.STARTED, None, fp()))]
    m.on_message(st, KeyTakeOver(6, "k", fp("c2"), LOCK), SERVER, late)  # another request's
    assert late.sent == [(SERVER, KeyItem(6, "k", KeyStatus.STARTED, None, fp()))]
    late.clear()
    m.on_message(st, KeyTakeOver(3, "k", fp(), LOCK), SERVER, late)
    assert late.sent == [(SERVER, KeyWritten(3, "k"))]
    assert early.facts == [] and late.facts == [KeyTakenOver("k", LOCK)]
    assert st.disk.locked_at["k"] == 100 + LOCK  # locked anew: the next takeover waits again
    done = ctx_for(m, KEYS, now=10 * LOCK)
    m.on_message(st, KeyPut(4, "k", KeyStatus.COMPLETED, Receipt("ch_1", 5), fp()), SERVER, done)
    m.on_message(st, KeyTakeOver(5, "k", fp(), LOCK), SERVER, done)
    assert done.sent[-1] == (SERVER, KeyItem(5, "k", KeyStatus.COMPLETED, Receipt("ch_1", 5),
                                             fp()))
    assert "k" not in st.disk.locked_at


def test_the_ledger_answers_a_key_it_has_seen_with_the_charge_it_made():
    m = model()
    ghost = Observer()
    st, ctx = LedgerState(), ctx_for(m, LEDGER, ghost=ghost)
    m.on_message(st, ChargeWithKey(1, "p", 20, "c1", "p"), SERVER, ctx)
    m.on_message(st, ChargeWithKey(2, "p", 20, "c1", "p"), SERVER, ctx)  # while being charged
    m.on_message(st, ChargeWithKey(2, "p", 20, "c1", "p"), SERVER, ctx)  # a copy of that one
    assert list(ctx.timers) == ["charge:1"] and ctx.sent == []
    m.on_timer(st, charge_timer(1), ctx)
    assert ctx.sent == [(SERVER, ChargeRecorded(1, "ch_1")), (SERVER, ChargeRecorded(2, "ch_1"))]
    m.on_message(st, ChargeWithKey(3, "p", 20, "c1", "p"), SERVER, ctx)  # after
    assert ctx.sent[-1] == (SERVER, ChargeRecorded(3, "ch_1"))
    assert ctx.facts == [KeyedChargeAbsorbed("p", None), KeyedChargeAbsorbed("p", None),
                         Charged("ch_1", "p", 20, "c1", "p"), KeyedChargeAbsorbed("p", "ch_1")]
    assert check(m, view_of(m, ctx, ledger=st), LEDGER) == []
    assert ghost.charges == {"p": ["ch_1"]} and ctx.counters["processor_dedups"] == 3
    assert st.disk.by_key == {"p": "ch_1"}


# -- ledger ------------------------------------------------------------------------------
def test_ledger_records_a_charge_after_the_processing_time():
    m = model()
    ghost = Observer()
    st, ctx = LedgerState(), ctx_for(m, LEDGER, ghost=ghost)
    m.on_message(st, Charge(5, "p", 20, "c1"), SERVER, ctx)
    assert ctx.timers == {"charge:1": DEFAULTS["charge_ms"] * MS}
    assert st.disk.entries == [] and ctx.sent == [] and ctx.facts == []
    m.on_timer(st, charge_timer(1), ctx)
    assert ctx.sent == [(SERVER, ChargeRecorded(5, "ch_1"))]
    assert [(e.charge_id, e.payment, e.amount, e.customer) for e in st.disk.entries] == [
        ("ch_1", "p", 20, "c1")]
    assert ctx.facts == [Charged("ch_1", "p", 20, "c1", None)]
    assert check(m, view_of(m, ctx, ledger=st), LEDGER) == []
    assert ghost.charges == {"p": ["ch_1"]}
    assert ctx.counters == {"charges": 1}


def test_a_receipt_is_judged_against_the_charge_it_names():
    m = model()
    ghost = Observer()
    ctx = ctx_for(m, LEDGER, ghost=ghost)
    view = view_of(m, ctx)
    ctx.tell(Charged("ch_1", "p", 20, "c1", "p"))
    assert check(m, view, LEDGER) == []
    for paid in (Paid("p", "ch_1", 20, True), Paid("p", "ch_1", 40, True),
                 Paid("p", "ch_7", 20, False)):
        ctx.tell(paid)
    assert check(m, view, "c1") == [
        ("paid_means_charged", "c1 was told p is paid 40 by ch_1, but ch_1 charged c1 20 "
                               "for p"),
        ("paid_means_charged", "c1 was told p is paid 20 by ch_7, but no such charge")]
    ctx.tell(Paid("p", "ch_1", 20, True))
    assert check(m, view, "c2") == [
        ("paid_means_charged", "c2 was told p is paid 20 by ch_1, but ch_1 charged c1 20 "
                               "for p")]


def test_a_second_charge_for_a_payment_is_a_duplicate_and_violates():
    m = model()
    ghost = Observer()
    st, ctx = LedgerState(), ctx_for(m, LEDGER, ghost=ghost)
    for op in (1, 2):
        m.on_message(st, Charge(op, "p", 20, "c1"), SERVER, ctx)
    view = view_of(m, ctx, ledger=st)
    m.on_timer(st, charge_timer(1), ctx)
    assert check(m, view, LEDGER) == []
    assert m.metrics(view)["duplicate_charges"] == 0
    m.on_timer(st, charge_timer(2), ctx)
    assert check(m, view, LEDGER) == [
        ("at_most_one_charge", "payment p charged 2 times (ch_1, ch_2)")]
    assert check(m, view, SERVER) == []  # no new charge since: nothing new to judge
    metrics = m.metrics(view)
    assert (metrics["duplicate_charges"], metrics["payments_double_charged"]) == (1, 1)


# -- whole runs ----------------------------------------------------------------------------
def scenario(mode, commands, **params):
    return validate({"model": "idempotency", "seed": 3, "nodes": 5, "duration_ms": 2000,
                     "variant": {"mode": mode}, "params": params, "commands": commands})


def test_key_store_and_ledger_survive_a_crash():
    sc = scenario("unique_insert", [
        {"at_ms": 10, "type": "pay", "node": "c1", "amount": 3},
        {"at_ms": 500, "type": "crash", "node": "keys"},
        {"at_ms": 500, "type": "crash", "node": "ledger"},
        {"at_ms": 600, "type": "restart", "node": "keys"},
        {"at_ms": 600, "type": "restart", "node": "ledger"},
        {"at_ms": 700, "type": "pay", "node": "c1", "key": "c1-1", "amount": 3}])
    sim, rep = run(sc)
    assert sim.nodes[KEYS].state.disk.items["c1-1"].status is KeyStatus.COMPLETED
    assert len(sim.nodes[LEDGER].state.disk.entries) == 1
    assert rep["metrics"]["replies_from_store"] == 1 and rep["violations"] == []


def test_dropping_the_receipt_in_flight_makes_the_client_retry_and_a_key_answers_it():
    sim = build(scenario("conditional_put", [{"at_ms": 10, "type": "pay", "node": "c1"}]))
    while not any(type(f[2]) is PaymentReceipt for f in sim.in_flight.values()):
        assert sim.step()
    (mid,) = [m for m, f in sim.in_flight.items() if type(f[2]) is PaymentReceipt]
    sim.apply(C.DropMessage(mid))
    sim.run_until(2000 * MS)
    metrics = sim.metrics()
    assert (metrics["retries"], metrics["charges"], metrics["replies_from_store"],
            metrics["paid"]) == (1, 1, 1, 1)


def test_panel_and_summaries_describe_stores_ledger_and_clients():
    sim = build(presets()["idempotency-naive-race"])
    sim.run_until(1100 * MS)
    m = sim.model
    panel = m.panel(sim)
    assert panel["mode"] == "naive"
    assert {"key": "c1-1", "status": "COMPLETED", "charge_id": "ch_1", "amount": 25,
            "locked_ms": None} in panel["key_store"]
    assert [w["phase"] for w in panel["workers"] if w] == ["charging", "charging"]
    assert panel["clients"][1]["outstanding"] == [
        {"payment": "c2-1", "amount": 40, "attempts": 2, "retries": 0}]
    sim.run_until(2500 * MS)
    panel = m.panel(sim)
    assert [e["duplicate"] for e in panel["ledger"]] == [False, False, True]
    assert panel["double_charged"] == ["c2-1"]
    assert m.summary("c1", sim.nodes["c1"].state) == {"outstanding": [], "paid": 1,
                                                      "gave_up": 0, "rejected": 0}
    assert m.summary(SERVER, sim.nodes[SERVER].state)["busy"] == 0
    assert m.role(sim.nodes[KEYS].state) == "key store"


def test_commands_are_addressed_to_clients_only():
    with pytest.raises(Exception, match="node"):
        scenario("naive", [{"at_ms": 1, "type": "pay", "node": "server"}])
    m = model()
    with pytest.raises(UnexpectedEvent, match="pay"):  # nor does a server take one
        m.on_command(m.init_node(SERVER), {"type": "pay"}, ctx_for(m, SERVER))


def test_a_message_a_role_does_not_expect_raises():
    m = model()
    with pytest.raises(UnexpectedEvent, match="Charge"):
        m.on_message(ClientState(), Charge(1, "p", 20, "c1"), SERVER, ctx_for(m, "c1"))


# -- presets -------------------------------------------------------------------------------
PRESET_NUMBERS = {
    "idempotency-no-key-double-charge": {"charges": 4, "duplicate_charges": 2,
                                         "replies_from_store": 0, "conflicts": 0},
    "idempotency-naive-race": {"charges": 3, "duplicate_charges": 1,
                               "replies_from_store": 1, "conflicts": 0},
    "idempotency-unique-insert": {"charges": 2, "duplicate_charges": 0,
                                  "replies_from_store": 1, "conflicts": 1},
    "idempotency-conditional-put": {"charges": 2, "duplicate_charges": 0,
                                    "replies_from_store": 1, "conflicts": 1},
}


@pytest.mark.parametrize("name", sorted(PRESET_NUMBERS))
def test_preset_matches_its_expectation(name):
    sim, rep = run(presets()[name])
    assert rep["matches_expected"], rep["mismatches"]
    got = {k: rep["metrics"][k] for k in PRESET_NUMBERS[name]}
    assert got == PRESET_NUMBERS[name]
    assert rep["metrics"]["retries"] >= 1  # the lost receipt was retried
    assert rep["metrics"]["paid"] == 2


def test_the_stored_reply_preset_answers_concurrent_retries_from_the_store():
    """C13 with four workers and a mode that claims the key first: both clients' retries,
    served at once, get their stored receipts."""
    scenario = presets()["idempotency-key-stored-reply"]
    assert scenario["params"]["workers"] >= 2
    assert scenario["variant"]["mode"] == "unique_insert"
    rep = run(scenario)[1]["metrics"]
    assert (rep["charges"], rep["paid"], rep["replies_from_store"], rep["retries"]) == (2, 2,
                                                                                       2, 2)


def test_mode_presets_share_seed_and_workload():
    chosen = [presets()[n] for n in sorted(PRESET_NUMBERS)]
    assert len({(s["seed"], repr(s["commands"]), repr(s["network"])) for s in chosen}) == 1
    assert {s["variant"]["mode"] for s in chosen} == {"none", "naive", "unique_insert",
                                                      "conditional_put"}
    for s in chosen:
        assert s["narrative"] and s["claims"]


def test_race_violation_names_the_payment():
    _, rep = run(presets()["idempotency-naive-race"])
    assert [v["detail"] for v in rep["violations"]] == [
        "payment c2-1 charged 2 times (ch_2, ch_3)"]


def test_a_stuck_key_needs_a_takeover_and_the_takeover_needs_the_processor_key():
    reports = {name: run(presets()[name])[1]["metrics"] for name in
               ("idempotency-stuck-key", "idempotency-lock-expiry", "idempotency-processor-key")}
    stuck, expire, keyed = reports.values()
    assert (stuck["charges"], stuck["paid"], stuck["gave_up"]) == (1, 0, 1)
    assert expire["charges"] > 1 and expire["takeovers"] >= 2
    assert (keyed["charges"], keyed["paid"]) == (1, 1) and keyed["processor_dedups"] >= 2


def test_a_duplicated_keyed_charge_is_absorbed_by_the_ledger():
    commands = [{"at_ms": 0, "type": "link", "from": "server", "to": "ledger", "duplicate": 1.0},
                {"at_ms": 100, "type": "pay", "node": "c1", "amount": 25}]
    plain = run(validate({"model": "idempotency", "seed": 3, "nodes": 4, "duration_ms": 1500,
                          "variant": {"processor": "plain"}, "commands": commands}))[1]
    keyed = run(validate({"model": "idempotency", "seed": 3, "nodes": 4, "duration_ms": 1500,
                          "commands": commands}))[1]
    assert plain["metrics"]["charges"] == 2 and plain["violations"]
    assert keyed["metrics"]["charges"] == 1 and keyed["violations"] == []


def test_the_panel_shows_how_long_a_started_key_has_been_locked():
    sim = build(presets()["idempotency-stuck-key"])
    sim.run_until(700 * MS)
    panel = sim.model.panel(sim)
    (row,) = panel["key_store"]
    assert row["status"] == "STARTED" and 550 <= row["locked_ms"] <= 600
    assert panel["recovery"] == "none"


@pytest.mark.parametrize("mutant_name, preset, invariant", [
    ("stored_reply_for_another_request", "idempotency-key-reuse", "paid_means_charged"),
    ("ledger_ignores_the_key", "compare-processor-key", "at_most_one_charge"),
])
def test_each_invariant_fires_on_a_mutant_of_what_it_guards(mutant_name, preset, invariant):
    """The presets of correct settings expect no violation; a mutant of the mechanism
    makes the invariant fire there."""
    (m,) = [m for m in IDEMPOTENCY_MUTANTS if m.name == mutant_name]
    assert run(presets()[preset])[1]["violations"] == []
    with applied(m):
        _sim, rep = run(presets()[preset])
    assert {v["invariant"] for v in rep["violations"]} == {invariant}
