"""Unit tests of the saga model, one transition at a time, and its presets."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from playground.models.base import MS
from playground.models.fsm import IllegalTransition
from playground.models.saga import Saga
from playground.models.saga.checker import SagaGhost
from playground.models.saga.facts import LocalCommitted, StepUndone
from playground.models.saga.messages import (
    ORCHESTRATOR, PRICE, SERVICES, WORKLOAD, Compensate, Compensated, StepReply, StepRequest,
    reply_timer,
)
from playground.models.saga.orchestrator import (
    SAGA_MOVES, STEP_MOVES, OrchestratorState, SagaPhase, SagaRecord, StepStatus,
)
from playground.models.saga.service import OrderStatus, Outcome
from playground.scenarios import presets, run
from tests.fakes import FakeContext

DEFAULTS = {p.name: p.default for p in Saga.params}
TIMEOUT = DEFAULTS["step_timeout_ms"] * MS


def model(broken=False, **params):
    return Saga(5, {**DEFAULTS, "reject_probability": 0, **params},
                {"no_compensation_retry": broken})


def ctx_for(m, node, ghost=None, now=0):
    return FakeContext(node=node, params=m.p, variant=m.v, ghost=ghost or SagaGhost(), now=now)


def orchestrator_with(rec: SagaRecord) -> OrchestratorState:
    st = OrchestratorState()
    st.db.sagas[rec.saga] = rec
    st.db.started = rec.saga
    return st


def running_at(step: int, saga=1) -> SagaRecord:
    """A saga whose steps before ``step`` are done and ``step`` is in flight."""
    rec = SagaRecord(saga)
    rec.steps = [StepStatus.DONE] * step + [StepStatus.RUNNING] + \
        [StepStatus.PENDING] * (4 - step)
    rec.current, rec.attempts = step, 1
    return rec


def view_of(m, ghost=None, now=0, facts=(), down=(), **states):
    nodes = {nid: SimpleNamespace(state=states.get(nid) or m.init_node(nid))
             for nid in m.node_ids()}
    return SimpleNamespace(nodes=nodes, ghost=ghost or SagaGhost(), now=now, counters={},
                           facts=list(facts), alive=lambda nid: nid not in down)


# -- orchestrator: forward ----------------------------------------------------------------
def test_buy_logs_a_saga_and_sends_its_first_step():
    m = model()
    st, ctx = OrchestratorState(), ctx_for(m, ORCHESTRATOR)
    m.on_command(st, {"type": "buy"}, ctx)
    rec = st.db.sagas[1]
    assert rec.phase is SagaPhase.RUNNING
    assert rec.steps[0] is StepStatus.RUNNING and rec.steps[1] is StepStatus.PENDING
    assert ctx.sent == [("order", StepRequest(1, 0, "create_order", PRICE, False))]
    assert ctx.timers == {"saga:1": TIMEOUT}
    assert ctx.counters == {"sagas_started": 1}


def test_a_doomed_purchase_carries_its_rejection_to_that_step_only():
    m = model()
    st, ctx = OrchestratorState(), ctx_for(m, ORCHESTRATOR)
    m.on_command(st, {"type": "buy", "reject_at": "charge"}, ctx)
    assert ctx.sent[0][1].reject is False
    ctx.clear()
    m.on_message(st, StepReply(1, 0, True, ""), "order", ctx)
    assert ctx.sent == [("payment", StepRequest(1, 1, "charge", PRICE, True))]


def test_a_successful_step_starts_the_next_one():
    m = model()
    st, ctx = orchestrator_with(running_at(1)), ctx_for(m, ORCHESTRATOR)
    m.on_message(st, StepReply(1, 1, True, ""), "payment", ctx)
    rec = st.db.sagas[1]
    assert rec.steps[1] is StepStatus.DONE and rec.steps[2] is StepStatus.RUNNING
    assert (rec.current, rec.attempts) == (2, 1)
    assert ctx.sent == [("inventory", StepRequest(1, 2, "reserve_item", PRICE, False))]


def test_the_last_step_completes_the_saga():
    m = model()
    st, ctx = orchestrator_with(running_at(4)), ctx_for(m, ORCHESTRATOR)
    ctx.timers["saga:1"] = TIMEOUT
    m.on_message(st, StepReply(1, 4, True, ""), "order", ctx)
    assert st.db.sagas[1].phase is SagaPhase.COMPLETED
    assert ctx.sent == [] and ctx.timers == {}
    assert ctx.counters == {"sagas_completed": 1}


def test_a_duplicate_reply_is_ignored():
    m = model()
    st, ctx = orchestrator_with(running_at(2)), ctx_for(m, ORCHESTRATOR)
    m.on_message(st, StepReply(1, 1, True, ""), "payment", ctx)  # step 1 already done
    assert ctx.sent == [] and st.db.sagas[1].current == 2


# -- orchestrator: backward ---------------------------------------------------------------
def test_a_rejected_step_starts_compensating_the_step_before_it():
    m = model()
    st, ctx = orchestrator_with(running_at(3)), ctx_for(m, ORCHESTRATOR)
    m.on_message(st, StepReply(1, 3, False, "address undeliverable"), "shipping", ctx)
    rec = st.db.sagas[1]
    assert rec.phase is SagaPhase.COMPENSATING
    assert rec.steps[3] is StepStatus.REJECTED and rec.steps[2] is StepStatus.COMPENSATING
    assert ctx.sent == [("inventory", Compensate(1, 2, "release_item"))]
    assert ctx.counters == {"steps_rejected": 1}


def test_compensations_run_in_reverse_order_then_the_saga_is_compensated():
    m = model()
    st, ctx = orchestrator_with(running_at(3)), ctx_for(m, ORCHESTRATOR)
    m.on_message(st, StepReply(1, 3, False, "no"), "shipping", ctx)
    for step, service in ((2, "inventory"), (1, "payment"), (0, "order")):
        assert ctx.sent[-1] == (service, Compensate(1, step, ("cancel_order", "refund",
                                                              "release_item")[step]))
        m.on_message(st, Compensated(1, step), service, ctx)
    rec = st.db.sagas[1]
    assert rec.phase is SagaPhase.COMPENSATED
    assert rec.steps[:3] == [StepStatus.COMPENSATED] * 3
    assert ctx.counters["compensations_run"] == 3 and ctx.counters["sagas_compensated"] == 1
    assert len(ctx.sent) == 3


def test_a_step_is_retried_then_counted_failed_and_undone_itself():
    m = model(max_retries=2)
    st, ctx = orchestrator_with(running_at(1)), ctx_for(m, ORCHESTRATOR)
    m.on_timer(st, reply_timer(1), ctx)
    m.on_timer(st, reply_timer(1), ctx)
    assert ctx.sent == [("payment", StepRequest(1, 1, "charge", PRICE, False))] * 2
    assert ctx.counters == {"retries": 2}
    m.on_timer(st, reply_timer(1), ctx)  # the third send timed out too: give up
    rec = st.db.sagas[1]
    assert rec.phase is SagaPhase.COMPENSATING
    assert rec.steps[1] is StepStatus.COMPENSATING  # it may have run: undo it first
    assert ctx.sent[-1] == ("payment", Compensate(1, 1, "refund"))
    assert ctx.counters["steps_timed_out"] == 1


def test_the_step_after_the_last_compensatable_one_is_retried_forever():
    m = model(max_retries=0)
    st, ctx = orchestrator_with(running_at(4)), ctx_for(m, ORCHESTRATOR)
    for _ in range(5):
        m.on_timer(st, reply_timer(1), ctx)
    assert st.db.sagas[1].phase is SagaPhase.RUNNING
    assert ctx.counters == {"retries": 5}


def compensating_at(step: int) -> SagaRecord:
    rec = running_at(3)
    rec.steps[3] = StepStatus.REJECTED
    rec.steps[step] = StepStatus.COMPENSATING
    for i in range(step + 1, 3):
        rec.steps[i] = StepStatus.COMPENSATED
    rec.phase, rec.current = SagaPhase.COMPENSATING, step
    return rec


def test_a_compensation_is_retried_until_acknowledged():
    m = model(max_retries=0)
    st, ctx = orchestrator_with(compensating_at(1)), ctx_for(m, ORCHESTRATOR)
    for _ in range(10):
        m.on_timer(st, reply_timer(1), ctx)
    assert ctx.sent == [("payment", Compensate(1, 1, "refund"))] * 10
    assert st.db.sagas[1].steps[1] is StepStatus.COMPENSATING


def test_broken_variant_writes_an_unacknowledged_compensation_off():
    m = model(broken=True)
    st, ctx = orchestrator_with(compensating_at(1)), ctx_for(m, ORCHESTRATOR)
    m.on_timer(st, reply_timer(1), ctx)
    rec = st.db.sagas[1]
    assert rec.steps[1] is StepStatus.GIVEN_UP
    assert ctx.sent == [("order", Compensate(1, 0, "cancel_order"))]
    assert ctx.counters == {"compensations_given_up": 1}


def test_restart_resumes_unfinished_sagas_from_the_durable_log():
    m = model(sagas=0)
    st = OrchestratorState()
    st.db.sagas = {1: running_at(2, saga=1), 2: compensating_at(0)}
    st.db.sagas[2].saga = 2
    st.db.started = 2
    ctx = ctx_for(m, ORCHESTRATOR)
    m.on_start(st, ctx)
    assert ctx.sent == [("inventory", StepRequest(1, 2, "reserve_item", PRICE, False)),
                        ("order", Compensate(2, 0, "cancel_order"))]
    assert set(ctx.timers) == {"saga:1", "saga:2"}


def test_broken_variant_gives_up_a_compensation_in_flight_at_restart():
    m = model(broken=True, sagas=0)
    st = orchestrator_with(compensating_at(0))
    ctx = ctx_for(m, ORCHESTRATOR)
    m.on_start(st, ctx)
    assert st.db.sagas[1].phase is SagaPhase.COMPENSATED
    assert st.db.sagas[1].steps[0] is StepStatus.GIVEN_UP and ctx.sent == []


def test_the_workload_starts_sagas_until_its_count():
    m = model(sagas=2)
    st, ctx = OrchestratorState(), ctx_for(m, ORCHESTRATOR)
    m.on_start(st, ctx)
    assert "workload" in ctx.timers
    m.on_timer(st, WORKLOAD, ctx)
    assert "workload" in ctx.timers
    del ctx.timers["workload"]
    m.on_timer(st, WORKLOAD, ctx)
    assert st.db.started == 2 and "workload" not in ctx.timers


def test_the_tables_refuse_illegal_moves():
    with pytest.raises(IllegalTransition):
        SAGA_MOVES.move(SagaPhase.COMPLETED, SagaPhase.COMPENSATING)
    with pytest.raises(IllegalTransition):
        STEP_MOVES.move(StepStatus.PENDING, StepStatus.COMPENSATING)  # never ran, never sent
    with pytest.raises(IllegalTransition):
        STEP_MOVES.move(StepStatus.REJECTED, StepStatus.COMPENSATING)


# -- services -----------------------------------------------------------------------------
def test_a_step_runs_once_per_idempotency_key():
    m = model()
    st, ctx = m.init_node("payment"), ctx_for(m, "payment")
    req = StepRequest(4, 1, "charge", PRICE, False)
    m.on_message(st, req, ORCHESTRATOR, ctx)
    m.on_message(st, req, ORCHESTRATOR, ctx)
    assert st.db.charged == {4: PRICE}
    assert st.db.processed == {"4:1": Outcome.APPLIED}
    assert ctx.sent == [(ORCHESTRATOR, StepReply(4, 1, True, ""))] * 2
    assert ctx.counters == {"duplicate_requests": 1}
    assert ctx.facts == [LocalCommitted(4, "charge")]


def test_business_rules_reject_and_the_rejection_is_remembered():
    m = model()
    st, ctx = m.init_node("payment"), ctx_for(m, "payment")
    m.on_message(st, StepRequest(1, 1, "charge", PRICE, True), ORCHESTRATOR, ctx)
    m.on_message(st, StepRequest(1, 1, "charge", PRICE, False), ORCHESTRATOR, ctx)
    assert st.db.charged == {}
    assert ctx.sent == [(ORCHESTRATOR, StepReply(1, 1, False, "card declined"))] * 2


def test_inventory_rejects_when_out_of_stock():
    m = model(stock=1)
    st, ctx = m.init_node("inventory"), ctx_for(m, "inventory")
    m.on_message(st, StepRequest(1, 2, "reserve_item", PRICE, False), ORCHESTRATOR, ctx)
    m.on_message(st, StepRequest(2, 2, "reserve_item", PRICE, False), ORCHESTRATOR, ctx)
    assert st.db.stock == 0 and st.db.reserved == {1: 1}
    assert ctx.sent[1] == (ORCHESTRATOR, StepReply(2, 2, False, "out of stock"))


def test_a_compensation_undoes_once_and_is_acknowledged_every_time():
    m = model()
    st, ctx = m.init_node("payment"), ctx_for(m, "payment")
    m.on_message(st, StepRequest(1, 1, "charge", PRICE, False), ORCHESTRATOR, ctx)
    ctx.clear()
    m.on_message(st, Compensate(1, 1, "refund"), ORCHESTRATOR, ctx)
    m.on_message(st, Compensate(1, 1, "refund"), ORCHESTRATOR, ctx)
    assert st.db.refunded == {1: PRICE}
    assert st.db.processed["1:1"] is Outcome.COMPENSATED
    assert ctx.sent == [(ORCHESTRATOR, Compensated(1, 1))] * 2
    assert ctx.facts == [LocalCommitted(1, "refund"), StepUndone(1, 1, True)]


def test_a_compensation_before_its_step_leaves_a_tombstone_that_refuses_the_step():
    m = model()
    st, ctx = m.init_node("payment"), ctx_for(m, "payment")
    m.on_message(st, Compensate(1, 1, "refund"), ORCHESTRATOR, ctx)
    m.on_message(st, StepRequest(1, 1, "charge", PRICE, False), ORCHESTRATOR, ctx)
    assert st.db.charged == {} and st.db.refunded == {}
    assert ctx.sent[1] == (ORCHESTRATOR, StepReply(1, 1, False, "already compensated"))
    assert ctx.facts == [StepUndone(1, 1, False)]


def test_an_approved_order_cannot_be_cancelled():
    m = model()
    st, ctx = m.init_node("order"), ctx_for(m, "order")
    m.on_message(st, StepRequest(1, 0, "create_order", PRICE, False), ORCHESTRATOR, ctx)
    m.on_message(st, StepRequest(1, 4, "approve_order", PRICE, False), ORCHESTRATOR, ctx)
    assert st.db.orders == {1: OrderStatus.APPROVED}
    with pytest.raises(IllegalTransition):
        m.on_message(st, Compensate(1, 0, "cancel_order"), ORCHESTRATOR, ctx)


# -- the checker --------------------------------------------------------------------------
def test_the_observer_measures_the_window_between_charge_and_approval():
    m = model()
    pay, order = m.init_node("payment"), m.init_node("order")
    ghost = SagaGhost()
    view = view_of(m, ghost, now=10 * MS, payment=pay, order=order)
    order.db.orders[1] = OrderStatus.PENDING
    pay.db.charged[1] = PRICE
    view.facts = [LocalCommitted(1, "charge")]
    assert m.check(view, "payment") == []
    assert ghost.window_open == {1: 10 * MS}
    view.now = 95 * MS
    order.db.orders[1] = OrderStatus.APPROVED
    view.facts = [LocalCommitted(1, "approve_order")]
    m.check(view, "order")
    assert ghost.windows == [85.0] and ghost.window_open == {}
    assert m.metrics(view)["inconsistency_window_max_ms"] == 85.0


def test_a_double_charge_breaks_money_conservation_at_once():
    m = model()
    pay = m.init_node("payment")
    pay.db.charged[3] = 2 * PRICE
    view = view_of(m, payment=pay)
    view.facts = [LocalCommitted(3, "charge")]
    assert m.check(view, "payment") == [
        ("money_conserved", f"saga 3 was charged ${2 * PRICE} for a ${PRICE} purchase")]


def test_a_compensation_out_of_order_is_reported():
    m = model()
    view = view_of(m)
    view.facts = [StepUndone(1, 0, True), StepUndone(1, 2, True)]
    assert m.check(view, "inventory") == [
        ("reverse_order", "saga 1: release_item ran after cancel_order")]


def test_check_final_reads_the_databases_not_the_log():
    m = model()
    rec = compensating_at(0)
    rec.phase = SagaPhase.COMPENSATED
    orch = orchestrator_with(rec)
    order, pay = m.init_node("order"), m.init_node("payment")
    order.db.orders[1] = OrderStatus.CANCELLED
    pay.db.charged[1] = PRICE
    view = view_of(m, **{ORCHESTRATOR: orch, "order": order, "payment": pay})
    assert sorted(m.check_final(view)) == [
        ("money_conserved", "saga 1: $100 charged and never refunded, but the order is "
                            "cancelled"),
        ("saga_atomicity", "saga 1 is half-undone: payment still holds the $100 charge "
                           "(the orchestrator's log says compensated)"),
    ]
    pay.db.refunded[1] = PRICE
    assert list(m.check_final(view)) == []


def test_a_saga_still_making_progress_at_the_end_is_in_flight_not_half_undone():
    m = model()
    orch = orchestrator_with(running_at(2))
    pay = m.init_node("payment")
    pay.db.charged[1] = PRICE
    budget = (m.p["max_retries"] + 2) * m.p["step_timeout_ms"] * MS
    ghost = SagaGhost(last_progress={1: 10 * MS})
    recent = view_of(m, ghost, now=10 * MS + budget - 1, **{ORCHESTRATOR: orch, "payment": pay})
    assert list(m.check_final(recent)) == []
    stale = view_of(m, ghost, now=10 * MS + budget, **{ORCHESTRATOR: orch, "payment": pay})
    assert {inv for inv, _ in m.check_final(stale)} == {"saga_atomicity", "money_conserved"}
    down = view_of(m, ghost, now=10 * MS + budget - 1, down=(ORCHESTRATOR,),
                   **{ORCHESTRATOR: orch, "payment": pay})
    assert {inv for inv, _ in m.check_final(down)} == {"saga_atomicity", "money_conserved"}


def test_summary_and_panel_are_json_ready():
    import json
    m = model()
    orch = orchestrator_with(running_at(2))
    view = view_of(m, **{ORCHESTRATOR: orch})
    json.dumps(m.panel(view))
    for nid in m.node_ids():
        json.dumps(m.summary(nid, view.nodes[nid].state))
    assert m.panel(view)["sagas"][0]["steps"] == ["done", "done", "running", "pending",
                                                  "pending"]
    assert [m.role(view.nodes[n].state) for n in m.node_ids()] == [ORCHESTRATOR, *SERVICES]


# -- presets ------------------------------------------------------------------------------
SAGA_PRESETS = sorted(n for n in presets() if n.startswith("saga-"))


def test_every_claim_has_a_preset():
    claims = {c for n in SAGA_PRESETS for c in presets()[n]["claims"]}
    assert {"C08", "C09"} <= claims
    assert len(SAGA_PRESETS) >= 4


@pytest.mark.parametrize("name", SAGA_PRESETS)
def test_preset_matches_its_expectation(name):
    _sim, rep = run(presets()[name])
    assert rep["matches_expected"], rep["mismatches"]


def test_reverse_order_preset_shows_the_three_compensations_newest_first():
    sim, rep = run(presets()["saga-compensation-reverse-order"])
    undo = [r[4][0] for r in sim.trace
            if r[1] == "note" and r[2] in SERVICES and "saga 2" in r[4][0]
            and r[4][0].split(": ")[1].split()[0] in ("release_item", "refund",
                                                      "cancel_order")]
    assert undo == ["saga 2: release_item committed", "saga 2: refund committed",
                    "saga 2: cancel_order committed"]
    assert rep["metrics"]["compensations_run"] == 3


def test_a_timed_out_step_is_compensated_before_the_steps_under_it():
    sim, rep = run(presets()["saga-step-timeout"])
    done = [r[4][0] for r in sim.trace if r[1] == "note" and r[2] in SERVICES
            and r[4][0].endswith("committed")]
    assert done[3:] == ["saga 1: schedule_shipping committed",
                        "saga 1: cancel_shipping committed", "saga 1: release_item committed",
                        "saga 1: refund committed", "saga 1: cancel_order committed"]
    assert sim.nodes["shipping"].state.db.shipments == {1: "cancelled"}


def test_window_preset_measures_a_window_per_charged_saga():
    sim, rep = run(presets()["saga-inconsistency-window"])
    charged = len(sim.nodes["payment"].state.db.charged)
    windows = rep["metrics"]["inconsistency_window_ms"]
    assert windows["count"] == charged > 0
    assert windows["p50"] < windows["max"]


def test_broken_preset_names_the_saga_and_the_money():
    _sim, rep = run(presets()["saga-no-compensation-retry"])
    details = {v["invariant"]: v["detail"] for v in rep["violations"]}
    assert "saga 1 is half-undone" in details["saga_atomicity"]
    assert "$100 charged and never refunded" in details["money_conserved"]
