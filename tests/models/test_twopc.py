"""Two-phase commit: one event per test on one handler, then presets and random faults."""

from __future__ import annotations

import pytest

from playground.engine import trace as T
from playground.engine.faults import random_schedule
from playground.engine.history import History
from playground.models.base import MS
from playground.models.fsm import IllegalTransition
from playground.models.twopc import TwoPhaseCommit
from playground.models.twopc.checker import Ledger
from playground.models.twopc.coordinator import COORDINATOR_MACHINE, CP
from playground.models.twopc.facts import (Decided, LockAcquired, LockReleased,
                                           OutcomeApplied, ResolvedByHand,
                                           TransactionBegan, Voted)
from playground.models.twopc.messages import (
    ABORT, COMMIT, RESEND, WORKLOAD, Abort, Ack, Commit, Decision, End, Prepare,
    PreparedRecord, StatusRequest, VoteAbort, VoteCommit, give_up_timer, lock_wait_timer,
    status_timer, votes_timer)
from playground.models.twopc.participant import PARTICIPANT_MACHINE, PP
from playground.scenarios import build, load, run, validate
from tests.fakes import FakeContext

PARTICIPANTS = ("orders", "inventory", "payments")


def model(nodes=3, broken=False, **params):
    resolved = {p.name: p.default for p in TwoPhaseCommit.params}
    resolved.update(params)
    return TwoPhaseCommit(nodes, resolved, {"participant_unilateral_abort": broken})


def coordinator_ctx(m, **kw):
    return FakeContext("coordinator", peers=m.participant_ids, params=m.p, variant=m.v,
                       ghost=Ledger(), **kw)


def participant_ctx(m, node="orders", **kw):
    return FakeContext(node, peers=m.coordinator_ids, params=m.p, variant=m.v,
                       ghost=Ledger(), **kw)


def begun(m, rows=None):
    """A coordinator that has just sent Prepare for A1."""
    st = m.init_node("coordinator")
    ctx = coordinator_ctx(m)
    m.on_start(st, ctx)
    m.on_command(st, {"type": "transaction", "rows": rows or {p: 0 for p in PARTICIPANTS}},
                 ctx)
    ctx.clear()
    return st, ctx


def prepared(m, node="orders", tx="A1", row=0, now=0):
    """A participant that voted yes on ``tx`` for ``row``."""
    st = m.init_node(node)
    ctx = participant_ctx(m, node, now=now)
    m.on_message(st, Prepare(tx, row), "coordinator", ctx)
    assert st.txs[tx].phase is PP.PREPARED
    ctx.clear()
    return st, ctx


# -- transition tables -------------------------------------------------------------------
def test_transition_tables_allow_the_protocol_and_refuse_the_rest():
    assert COORDINATOR_MACHINE.move(CP.PREPARING, CP.COMMITTING) is CP.COMMITTING
    assert COORDINATOR_MACHINE.move(CP.ABORTING, CP.ENDED) is CP.ENDED
    assert PARTICIPANT_MACHINE.move(PP.WAITING, PP.PREPARED) is PP.PREPARED
    assert PARTICIPANT_MACHINE.move(PP.PREPARED, PP.ABORTED) is PP.ABORTED
    for machine, a, b in ((COORDINATOR_MACHINE, CP.COMMITTING, CP.ABORTING),
                          (COORDINATOR_MACHINE, CP.ENDED, CP.COMMITTING),
                          (COORDINATOR_MACHINE, CP.PREPARING, CP.ENDED),
                          (PARTICIPANT_MACHINE, PP.WAITING, PP.COMMITTED),
                          (PARTICIPANT_MACHINE, PP.COMMITTED, PP.ABORTED),
                          (PARTICIPANT_MACHINE, PP.ABORTED, PP.PREPARED)):
        with pytest.raises(IllegalTransition, match=f"{a.name} -> {b.name}"):
            machine.move(a, b)


# -- coordinator ---------------------------------------------------------------------------
def test_transaction_sends_prepare_to_every_participant_and_arms_the_vote_timeout():
    m = model()
    st = m.init_node("coordinator")
    ctx = coordinator_ctx(m)
    m.on_command(st, {"type": "transaction", "rows": {"orders": 2}}, ctx)
    sent = ctx.sent_of(Prepare)
    assert [to for to, _ in sent] == list(PARTICIPANTS)
    assert {m.tx for _, m in sent} == {"A1"}
    assert sent[0][1].row == 2
    assert all(0 <= msg.row < 3 for _, msg in sent)
    assert st.active["A1"].phase is CP.PREPARING
    assert st.disk.next_tx == 1
    assert ctx.timers["votes:A1"] == 1000 * MS


def test_workload_timer_starts_a_transaction_and_rearms():
    m = model(tps=10)
    st = m.init_node("coordinator")
    ctx = coordinator_ctx(m)
    m.on_start(st, ctx)
    assert "workload" in ctx.timers
    m.on_timer(st, WORKLOAD, ctx)
    assert len(ctx.sent_of(Prepare)) == 3 and "workload" in ctx.timers


def test_all_votes_yes_logs_commit_then_sends_it():
    m = model()
    st, ctx = begun(m)
    for p in PARTICIPANTS[:-1]:
        m.on_message(st, VoteCommit("A1"), p, ctx)
        assert st.active["A1"].phase is CP.PREPARING and not ctx.sent
    m.on_message(st, VoteCommit("A1"), "payments", ctx)
    assert st.disk.log == [Decision("A1", COMMIT, PARTICIPANTS)]
    assert st.disk.decisions == {"A1": COMMIT}
    assert st.active["A1"].phase is CP.COMMITTING
    assert [(to, msg) for to, msg in ctx.sent] == [(p, Commit("A1")) for p in PARTICIPANTS]
    assert "votes:A1" not in ctx.timers and "resend" in ctx.timers
    assert ctx.counters["decided_commit"] == 1


def test_one_vote_abort_aborts_everyone():
    m = model()
    st, ctx = begun(m)
    m.on_message(st, VoteCommit("A1"), "orders", ctx)
    m.on_message(st, VoteAbort("A1", "row 0 out of stock"), "inventory", ctx)
    assert st.disk.log == [Decision("A1", ABORT, PARTICIPANTS)]
    assert st.active["A1"].phase is CP.ABORTING
    assert ctx.sent == [(p, Abort("A1")) for p in PARTICIPANTS]


def test_vote_timeout_aborts():
    m = model()
    st, ctx = begun(m)
    m.on_message(st, VoteCommit("A1"), "orders", ctx)
    m.on_timer(st, votes_timer("A1"), ctx)
    assert st.disk.decisions == {"A1": ABORT}
    assert ctx.counters["vote_timeouts"] == 1
    assert len(ctx.sent_of(Abort)) == 3


def test_late_vote_after_the_decision_changes_nothing():
    m = model()
    st, ctx = begun(m)
    m.on_timer(st, votes_timer("A1"), ctx)
    ctx.clear()
    m.on_message(st, VoteCommit("A1"), "orders", ctx)
    assert st.active["A1"].phase is CP.ABORTING and not ctx.sent


def test_every_ack_ends_the_transaction_in_the_log():
    m = model()
    st, ctx = begun(m)
    for p in PARTICIPANTS:
        m.on_message(st, VoteCommit("A1"), p, ctx)
    m.on_message(st, Ack("A1"), "orders", ctx)
    m.on_message(st, Ack("A1"), "orders", ctx)  # a duplicate counts once
    m.on_message(st, Ack("A1"), "inventory", ctx)
    assert st.active["A1"].acks == ["orders", "inventory"]
    m.on_message(st, Ack("A1"), "payments", ctx)
    assert "A1" not in st.active
    assert st.disk.log[-1] == End("A1")


def test_resend_goes_only_to_participants_that_have_not_acknowledged():
    m = model()
    st, ctx = begun(m)
    for p in PARTICIPANTS:
        m.on_message(st, VoteCommit("A1"), p, ctx)
    m.on_message(st, Ack("A1"), "orders", ctx)
    ctx.clear()
    m.on_timer(st, RESEND, ctx)
    assert ctx.sent == [("inventory", Commit("A1")), ("payments", Commit("A1"))]
    assert "resend" in ctx.timers


def test_status_request_is_answered_from_the_log_or_presumed_abort():
    m = model()
    st, ctx = begun(m)
    m.on_message(st, StatusRequest("A1"), "orders", ctx)
    assert ctx.sent == []  # still collecting votes: ask again later
    m.on_message(st, StatusRequest("A7"), "orders", ctx)
    assert ctx.sent == [("orders", Abort("A7"))]
    assert ctx.counters["presumed_aborts"] == 1
    for p in PARTICIPANTS:
        m.on_message(st, VoteCommit("A1"), p, ctx)
    ctx.clear()
    m.on_message(st, StatusRequest("A1"), "payments", ctx)
    assert ctx.sent == [("payments", Commit("A1"))]


def test_vote_for_a_transaction_the_coordinator_lost_is_answered_abort():
    m = model()
    st = m.init_node("coordinator")
    ctx = coordinator_ctx(m)
    m.on_message(st, VoteCommit("A3"), "inventory", ctx)
    assert ctx.sent == [("inventory", Abort("A3"))]


def test_restart_finishes_logged_decisions_and_forgets_undecided_ones():
    m = model()
    st, ctx = begun(m)  # A1: undecided
    m.on_command(st, {"type": "transaction"}, ctx)  # A2: will commit
    for p in PARTICIPANTS:
        m.on_message(st, VoteCommit("A2"), p, ctx)
    m.on_command(st, {"type": "transaction"}, ctx)  # A3: commits and ends
    for p in PARTICIPANTS:
        m.on_message(st, VoteCommit("A3"), p, ctx)
    for p in PARTICIPANTS:
        m.on_message(st, Ack("A3"), p, ctx)
    fresh = m.init_node("coordinator")  # what a crash leaves: only the disk
    fresh.disk = st.disk
    ctx = coordinator_ctx(m)
    m.on_start(fresh, ctx)
    assert list(fresh.active) == ["A2"]
    assert fresh.active["A2"].phase is CP.COMMITTING
    assert ctx.sent == [(p, Commit("A2")) for p in PARTICIPANTS]
    assert fresh.disk.next_tx == 3  # transaction ids are never reused
    ctx.clear()
    m.on_message(fresh, StatusRequest("A1"), "orders", ctx)
    assert ctx.sent == [("orders", Abort("A1"))]


# -- participant ---------------------------------------------------------------------------
def test_prepare_on_a_free_row_locks_it_and_votes_commit():
    m = model(abort_probability=0)
    st = m.init_node("orders")
    ctx = participant_ctx(m, now=5 * MS)
    m.on_message(st, Prepare("A1", 1), "coordinator", ctx)
    assert st.locks == {1: "A1"}
    assert st.disk.prepared == {"A1": PreparedRecord("A1", 1, "coordinator", 5 * MS)}
    assert st.txs["A1"].phase is PP.PREPARED and st.txs["A1"].vote == "yes"
    assert ctx.sent == [("coordinator", VoteCommit("A1"))]
    assert ctx.timers == {"status:A1": 500 * MS}  # no give-up timer when correct


def test_prepare_on_a_locked_row_queues_without_voting():
    m = model(abort_probability=0)
    st, ctx = prepared(m)
    m.on_message(st, Prepare("B1", 0), "coordinator2", ctx)
    assert st.queues == {0: ["B1"]} and st.txs["B1"].phase is PP.WAITING
    assert ctx.sent == [] and ctx.counters["blocked"] == 1


def test_out_of_stock_votes_abort_and_keeps_no_lock():
    m = model()
    st = m.init_node("inventory")
    ctx = participant_ctx(m, "inventory")
    m.on_command(st, {"type": "out_of_stock", "node": "inventory", "row": 2}, ctx)
    assert st.disk.stock == [1000, 1000, 0]
    m.on_message(st, Prepare("A1", 2), "coordinator", ctx)
    assert ctx.sent == [("coordinator", VoteAbort("A1", "row 2 out of stock"))]
    assert st.locks == {} and st.disk.outcomes == {"A1": ABORT}
    assert st.txs["A1"].phase is PP.ABORTED
    m.on_command(st, {"type": "restock", "node": "inventory", "row": 2, "quantity": 4}, ctx)
    assert st.disk.stock[2] == 4


def test_business_rule_refuses_with_its_probability():
    m = model(abort_probability=1.0)
    st = m.init_node("payments")
    ctx = participant_ctx(m, "payments")
    m.on_message(st, Prepare("A1", 0), "coordinator", ctx)
    assert ctx.sent == [("coordinator", VoteAbort("A1", "refused by a business rule"))]


def test_commit_applies_releases_the_lock_and_grants_the_next_in_queue():
    m = model(abort_probability=0)
    st, ctx = prepared(m)
    m.on_message(st, Prepare("B1", 0), "coordinator2", ctx)
    ctx.now = 40 * MS
    m.on_message(st, Commit("A1"), "coordinator", ctx)
    assert st.txs["A1"].phase is PP.COMMITTED
    assert st.disk.stock[0] == 999 and st.disk.outcomes["A1"] == COMMIT
    assert "A1" not in st.disk.prepared
    assert st.locks == {0: "B1"} and st.queues == {}
    assert ctx.sent == [("coordinator2", VoteCommit("B1")), ("coordinator", Ack("A1"))]
    assert ctx.samples["lock_held_ms.orders"] == [40.0]
    assert ctx.samples["lock_wait_ms"] == [40.0]
    assert "status:A1" not in ctx.timers and "status:B1" in ctx.timers


def test_abort_of_a_prepared_transaction_releases_without_applying():
    m = model(abort_probability=0)
    st, ctx = prepared(m)
    m.on_message(st, Abort("A1"), "coordinator", ctx)
    assert st.txs["A1"].phase is PP.ABORTED
    assert st.disk.stock[0] == 1000 and st.locks == {}
    assert ctx.sent == [("coordinator", Ack("A1"))]


def test_abort_of_a_waiting_transaction_leaves_the_queue():
    m = model(abort_probability=0)
    st, ctx = prepared(m)
    m.on_message(st, Prepare("B1", 0), "coordinator2", ctx)
    m.on_message(st, Abort("B1"), "coordinator2", ctx)
    assert st.queues == {} and st.locks == {0: "A1"}
    assert st.txs["B1"].phase is PP.ABORTED
    assert ctx.sent == [("coordinator2", Ack("B1"))]


def test_abort_before_prepare_is_remembered():
    m = model(abort_probability=0)
    st = m.init_node("orders")
    ctx = participant_ctx(m)
    m.on_message(st, Abort("A1"), "coordinator", ctx)
    assert st.disk.outcomes == {"A1": ABORT} and ctx.sent == [("coordinator", Ack("A1"))]
    ctx.clear()
    m.on_message(st, Prepare("A1", 0), "coordinator", ctx)
    assert ctx.sent == [("coordinator", VoteAbort("A1", "already aborted"))]
    assert st.locks == {}


def test_duplicate_prepare_repeats_the_vote():
    m = model(abort_probability=0)
    st, ctx = prepared(m)
    m.on_message(st, Prepare("A1", 0), "coordinator", ctx)
    assert ctx.sent == [("coordinator", VoteCommit("A1"))] and st.locks == {0: "A1"}


def test_in_doubt_participant_asks_the_coordinator_again_and_again():
    m = model(abort_probability=0)
    st, ctx = prepared(m)
    m.on_timer(st, status_timer("A1"), ctx)
    assert ctx.sent == [("coordinator", StatusRequest("A1"))]
    assert ctx.timers["status:A1"] == 500 * MS
    assert st.txs["A1"].phase is PP.PREPARED  # it never decides alone


def test_restarted_participant_retakes_its_locks_and_asks():
    m = model(abort_probability=0)
    st, _ = prepared(m, now=10 * MS)
    fresh = m.init_node("orders")
    fresh.disk = st.disk
    ctx = participant_ctx(m, now=900 * MS)
    m.on_start(fresh, ctx)
    assert fresh.locks == {0: "A1"} and fresh.txs["A1"].phase is PP.PREPARED
    assert fresh.txs["A1"].locked_at == 10 * MS
    assert "status:A1" in ctx.timers


def test_commit_for_a_transaction_that_never_voted_yes_is_refused_and_aborted():
    m = model(abort_probability=0)
    st, ctx = prepared(m)
    m.on_message(st, Prepare("B1", 0), "coordinator2", ctx)
    ctx.clear()
    m.on_message(st, Commit("B1"), "coordinator2", ctx)  # it is still waiting for row 0
    assert st.txs["B1"].phase is PP.ABORTED and st.queues == {}
    assert st.disk.outcomes["B1"] == ABORT and st.locks == {0: "A1"}
    m.on_message(st, Commit("C1"), "coordinator3", ctx)  # never heard of it
    assert st.disk.outcomes["C1"] == ABORT
    assert ctx.facts == [OutcomeApplied("B1", ABORT), OutcomeApplied("C1", ABORT)]
    assert ctx.sent == [("coordinator2", Ack("B1")), ("coordinator3", Ack("C1"))]
    with pytest.raises(IllegalTransition, match="WAITING -> COMMITTED"):
        PARTICIPANT_MACHINE.move(PP.WAITING, PP.COMMITTED)


def test_broken_variant_gives_up_after_the_in_doubt_timeout():
    m = model(broken=True, abort_probability=0)
    st, ctx = prepared(m)
    assert ctx.timers["give_up:A1"] == 1000 * MS
    m.on_timer(st, give_up_timer("A1"), ctx)
    assert st.txs["A1"].phase is PP.ABORTED and st.locks == {}
    assert ctx.counters["unilateral_aborts"] == 1
    ctx.clear()
    m.on_message(st, Commit("A1"), "coordinator", ctx)  # too late
    assert ctx.sent == [("coordinator", Ack("A1"))]
    assert st.disk.outcomes["A1"] == ABORT


def test_commands_for_the_wrong_kind_of_node_are_refused():
    m = model()
    st = m.init_node("orders")
    ctx = participant_ctx(m)
    m.on_command(st, {"type": "transaction"}, ctx)
    cst = m.init_node("coordinator")
    cctx = coordinator_ctx(m)
    m.on_command(cst, {"type": "out_of_stock", "node": "coordinator", "row": 0}, cctx)
    m.on_command(cst, {"type": "transaction", "rows": {"orders": 7}}, cctx)
    assert not ctx.sent and not cctx.sent and not cst.active
    assert "refused" in ctx.notes[0][0] and len(cctx.notes) == 2


# -- the checker ----------------------------------------------------------------------------
class View:
    """What the checker reads: the ghost, true time, and the facts of one event."""

    def __init__(self, ledger, now, facts):
        self.ghost, self.now, self.facts = ledger, now, list(facts)


def told(m, ledger, node, now, ctx):
    """Check the facts ``ctx`` was told by ``node`` at ``now``, then forget them."""
    found = list(m.check(View(ledger, now, ctx.facts), node))
    ctx.facts.clear()
    return found


def test_handlers_tell_the_facts_the_checker_judges():
    m = model(abort_probability=0)
    st, ctx = begun(m)
    ctx.facts.clear()
    for p in PARTICIPANTS:
        m.on_message(st, VoteCommit("A1"), p, ctx)
    assert ctx.facts == [Decided("A1", COMMIT, PARTICIPANTS)]
    pst = m.init_node("orders")
    pctx = participant_ctx(m)
    m.on_message(pst, Prepare("A1", 2), "coordinator", pctx)
    assert pctx.facts == [LockAcquired("A1", 2), Voted("A1", 2, "yes")]


def test_atomicity_fires_once_when_outcomes_differ():
    m = model(broken=True, abort_probability=0)
    ledger = Ledger()
    cst = m.init_node("coordinator")
    cctx = coordinator_ctx(m)
    m.on_command(cst, {"type": "transaction", "rows": {p: 0 for p in PARTICIPANTS}}, cctx)
    assert not told(m, ledger, "coordinator", 0, cctx)
    states = {}
    for p in PARTICIPANTS:
        states[p] = m.init_node(p)
        ctx = participant_ctx(m, p)
        m.on_message(states[p], Prepare("A1", 0), "coordinator", ctx)
        assert not told(m, ledger, p, 0, ctx)
    assert ledger.locks == {p: {0: ("A1", 0)} for p in PARTICIPANTS}
    for p in PARTICIPANTS:
        m.on_message(cst, VoteCommit("A1"), p, cctx)
    assert not told(m, ledger, "coordinator", 20 * MS, cctx)
    for p in PARTICIPANTS[:2]:
        ctx = participant_ctx(m, p)
        m.on_message(states[p], Commit("A1"), "coordinator", ctx)
        assert not told(m, ledger, p, 50 * MS, ctx)
    ctx = participant_ctx(m, "payments")
    m.on_timer(states["payments"], give_up_timer("A1"), ctx)
    again = list(ctx.facts)
    found = told(m, ledger, "payments", 1000 * MS, ctx)
    assert found == [("atomicity", "transaction A1 committed at orders, inventory but "
                                   "aborted at payments")]
    assert ledger.committed == 1 and ledger.aborted == 0
    assert ledger.longest_hold == 1000 * MS and ledger.longest_in_doubt == 1000 * MS
    ctx.facts.extend(again)  # the same conflict again
    assert not told(m, ledger, "payments", 1001 * MS, ctx)


def test_unanimous_commit_judges_the_decision_by_the_participants_votes():
    m = model()
    ledger = Ledger()
    ctx = coordinator_ctx(m)
    ctx.facts += [TransactionBegan("A1", tuple((p, 0) for p in PARTICIPANTS))]
    assert not told(m, ledger, "coordinator", 0, ctx)
    for p, vote in (("orders", "yes"), ("inventory", "no")):
        ctx.facts.append(Voted("A1", 0, vote))
        assert not told(m, ledger, p, 0, ctx)
    ctx.facts.append(Decided("A1", COMMIT, PARTICIPANTS))
    assert told(m, ledger, "coordinator", 0, ctx) == [
        ("unanimous_commit", "coordinator decided commit for A1, but inventory voted no, "
                             "payments had not voted")]
    ctx.facts.append(Decided("A2", ABORT, PARTICIPANTS))  # aborting needs no vote at all
    assert not told(m, ledger, "coordinator", 0, ctx)
    ctx.facts += [OutcomeApplied("A2", ABORT), OutcomeApplied("A1", COMMIT)]
    assert not told(m, ledger, "orders", 0, ctx)  # A1 was decided commit, wrongly
    ctx.facts.append(OutcomeApplied("A2", COMMIT))
    assert told(m, ledger, "payments", 0, ctx) == [
        ("unanimous_commit", "payments committed A2, which no coordinator decided to "
                             "commit")]


def test_isolation_fires_when_a_row_is_voted_on_twice_before_a_decision():
    m = model()
    ledger = Ledger()
    ctx = participant_ctx(m)
    ctx.facts += [Voted("A1", 0, "yes"), Voted("B1", 1, "yes"), OutcomeApplied("B1", ABORT),
                  Voted("B2", 1, "yes")]  # row 1 was free again
    assert not told(m, ledger, "orders", 0, ctx)
    ctx.facts.append(Voted("A1", 0, "yes"))  # the same transaction again: no conflict
    assert not told(m, ledger, "inventory", 0, ctx)  # another participant's row 0
    ctx.facts.append(Voted("B3", 0, "yes"))
    assert told(m, ledger, "orders", 0, ctx) == [
        ("isolation", "orders let B3 vote yes on row 0 while A1, which voted yes on it "
                      "first, was still undecided there")]


# -- presets ---------------------------------------------------------------------------------
def test_preset_commit_and_abort():
    sim, rep = run(load("twopc-commit-and-abort"))
    assert rep["matches_expected"], rep["mismatches"]
    m = rep["metrics"]
    assert (m["committed"], m["aborted"], m["vote_timeouts"]) == (1, 2, 1)
    outcomes = {p: sim.nodes[p].state.disk.outcomes for p in PARTICIPANTS}
    assert all(o == {"A1": COMMIT, "A2": ABORT, "A3": ABORT} for o in outcomes.values())
    assert sim.nodes["inventory"].state.disk.stock == [999, 0, 1000]


def test_preset_coordinator_crash_blocks_until_recovery():
    sim, rep = run(load("twopc-coordinator-crash"))
    assert rep["matches_expected"], rep["mismatches"]
    m = rep["metrics"]
    assert 4900 <= m["longest_lock_hold_ms"] <= 5200  # crash at 3 s, restart at 8 s
    per_second = m["commits_per_second"]
    assert sum(per_second[:3]) >= 12  # before the crash
    assert sum(per_second[3:8]) <= 3  # while row 0 is locked everywhere
    assert sum(per_second[8:]) >= 12  # after the coordinator recovered
    assert m["blocked"] >= 10 and m["locks_held_now"] <= 3


def test_preset_unilateral_abort_is_caught_and_the_correct_protocol_waits():
    sim, rep = run(load("twopc-unilateral-abort"))
    assert rep["matches_expected"], rep["mismatches"]
    assert [v["detail"] for v in rep["violations"]] == [
        "transaction A1 committed at inventory, orders but aborted at payments"]
    scenario = dict(load("twopc-unilateral-abort"))
    scenario["variant"] = {"participant_unilateral_abort": False}
    del scenario["expected"]
    sim, rep = run(validate(scenario))
    assert rep["violations"] == []
    assert sim.nodes["payments"].state.disk.outcomes == {"A1": COMMIT}
    assert rep["metrics"]["longest_in_doubt_ms"] >= 2400  # blocked until the restart


# -- random faults -----------------------------------------------------------------------------
FAULT_PARAMS = {"tps": 10, "vote_timeout_ms": 400, "status_interval_ms": 200,
                "decision_retry_ms": 150, "in_doubt_timeout_ms": 400}


def fault_run(seed, broken):
    coordinators = 1 + seed % 2
    m = model(coordinators=coordinators)
    nodes = m.node_ids()
    scenario = validate({
        "model": "twopc", "seed": seed, "duration_ms": 4000,
        "params": {**FAULT_PARAMS, "coordinators": coordinators,
                   "lock_wait_timeout_ms": 150 if seed % 3 == 0 else 0},
        "variant": {"participant_unilateral_abort": broken},
        "commands": random_schedule(seed, nodes, 4000, faults=5, settle_ms=2000,
                                    max_down=2)})
    return run(scenario)


def test_random_fault_schedules_never_break_atomicity_and_always_unblock():
    for seed in range(500):
        sim, rep = fault_run(seed, broken=False)
        assert rep["violations"] == [], (seed, rep["violations"])
        # faults end 2 s before the run does: every transaction in doubt before then has
        # been resolved (votes time out, restarted coordinators answer status requests)
        stuck = {k: v for k, v in sim.ghost.in_doubt.items() if sim.now - v > 1600 * MS}
        assert not stuck, (seed, stuck)
        assert rep["metrics"]["committed"] > 0, seed


def test_random_search_catches_the_unilateral_abort():
    for seed in range(100):
        sim, rep = fault_run(seed, broken=True)
        if rep["violations"]:
            assert {v["invariant"] for v in rep["violations"]} == {"atomicity"}
            assert rep["metrics"]["unilateral_aborts"] >= 1
            return
    pytest.fail("100 random fault schedules did not break atomicity")


def test_seeking_back_replays_the_same_run():
    scenario = load("twopc-coordinator-crash")
    straight, _ = run(scenario)
    sim = build(scenario)
    history = History(sim, every_events=200)
    history.advance(12_000 * MS)
    history.seek(5_000 * MS)  # mid-outage: locks held, ledger mid-way
    assert sim.ghost.locks["orders"][0][0] == "A10"
    history.advance(12_000 * MS)
    assert T.sha256(sim.trace) == T.sha256(straight.trace)
    assert sim.metrics()["commits_per_second"] == straight.metrics()["commits_per_second"]


def test_lock_wait_timeout_votes_no_and_leaves_the_queue():
    m = model(abort_probability=0, lock_wait_timeout_ms=200)
    st, ctx = prepared(m)
    m.on_message(st, Prepare("B1", 0), "coordinator2", ctx)
    assert ctx.timers["lock_wait:B1"] == 200 * MS
    m.on_timer(st, lock_wait_timer("B1"), ctx)
    assert ctx.sent == [("coordinator2", VoteAbort("B1", "waited 200 ms for row 0"))]
    assert st.queues == {} and st.txs["B1"].phase is PP.ABORTED
    assert st.disk.outcomes["B1"] == ABORT and ctx.counters["lock_wait_timeouts"] == 1


def test_lock_wait_timer_is_cancelled_when_the_lock_is_granted():
    m = model(abort_probability=0, lock_wait_timeout_ms=200)
    st, ctx = prepared(m)
    m.on_message(st, Prepare("B1", 0), "coordinator2", ctx)
    m.on_message(st, Abort("A1"), "coordinator", ctx)
    assert st.locks == {0: "B1"} and "lock_wait:B1" not in ctx.timers


def test_lock_wait_timeout_fails_fast_while_the_coordinator_is_down():
    scenario = dict(load("twopc-coordinator-crash"))
    scenario["params"] = {**scenario["params"], "lock_wait_timeout_ms": 200}
    del scenario["expected"]
    sim, rep = run(validate(scenario))
    m = rep["metrics"]
    assert rep["violations"] == [] and m["lock_wait_timeouts"] >= 5
    assert m["lock_wait_ms"]["max"] <= 200 and m["longest_lock_hold_ms"] >= 4900


def test_a_fault_aimed_at_the_coordinator_hits_the_one_holding_participants_in_doubt():
    scenario = validate({
        "model": "twopc", "seed": 3, "duration_ms": 2000,
        "params": {"coordinators": 2, "tps": 0, "abort_probability": 0},
        "commands": [
            {"at_ms": 100, "type": "crash", "node": {"role": "coordinator"}},  # nothing yet
            {"at_ms": 500, "type": "transaction", "node": "coordinator2"},
            {"at_ms": 505, "type": "crash", "node": {"role": "coordinator"}}]})
    sim, rep = run(scenario)
    assert [n for n in sim.nodes if sim.nodes[n].status == "crashed"] == ["coordinator2"]
    hits = [r[4][0] for r in sim.trace if r[1] == "command" and r[4][0]["type"] == "crash"]
    assert [h["roles"] for h in hits] == [{"coordinator": None},
                                          {"coordinator": "coordinator2"}]
    assert rep["metrics"]["in_doubt_now"] == 3 and rep["violations"] == []


def test_resolve_by_hand_decides_every_transaction_in_doubt_here():
    m = model(abort_probability=0)
    st, ctx = prepared(m)
    m.on_message(st, Prepare("B1", 1), "coordinator2", ctx)
    ctx.clear()
    m.on_command(st, {"type": "resolve", "node": "orders", "outcome": "abort"}, ctx)
    assert st.disk.outcomes == {"A1": ABORT, "B1": ABORT} and st.locks == {}
    assert ctx.counters["heuristic_decisions"] == 2 and ctx.sent == []
    assert ctx.facts[:3] == [ResolvedByHand("A1", ABORT), OutcomeApplied("A1", ABORT),
                             LockReleased("A1", 0)]
    ctx.clear()
    m.on_command(st, {"type": "resolve", "node": "orders", "outcome": "commit"}, ctx)
    assert ctx.facts == [] and "nothing is in doubt" in ctx.notes[0][0]


def test_incident_in_doubt_resolved_from_the_log_and_a_wrong_guess_is_caught():
    sim, rep = run(load("incident-2pc-in-doubt"))
    assert rep["matches_expected"], rep["mismatches"]
    per_second = rep["metrics"]["commits_per_second"]
    assert sum(per_second[2:5]) == 0 and sum(per_second[6:]) == 2  # stalled, then resumed
    for node, outcome, fired in (("payments", "abort", ["atomicity"]),
                                 ("orders", "commit", ["unanimous_commit", "atomicity"])):
        scenario = dict(load("incident-2pc-in-doubt"))
        scenario["commands"] = [{**c, "outcome": outcome}
                                if c["type"] == "resolve" and c["node"] == node else c
                                for c in scenario["commands"]]
        del scenario["expected"]
        _sim, rep = run(validate(scenario))
        assert [v["invariant"] for v in rep["violations"]] == fired
