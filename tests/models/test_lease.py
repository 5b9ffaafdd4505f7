"""Unit tests of the lease model, one transition at a time, and its presets."""

from __future__ import annotations

import pytest

from playground.models.base import MS
from playground.models.fsm import IllegalTransition
from playground.models.lease import Leases
from playground.models.lease.messages import (LeaseDenied, LeaseGrant, LeaseRequest, LOCK,
                                              STORE, Write, WriteAck)
from playground.models.lease.facts import SteppedDown, WriteAccepted
from playground.models.lease.candidate import (ACQUIRE, CandidateState, LEASE_EXPIRY,
                                               LeaseRole, ROLE, WRITE)
from playground.models.lease.service import LeaseRecord, LockState
from playground.models.lease.store import StoreState
from playground.models.lease.checker import LeaseGhost, overlap
from playground.scenarios import presets, run
from tests.fakes import FakeContext

DEFAULTS = {p.name: p.default for p in Leases.params}
TTL = DEFAULTS["ttl_ms"] * MS


def model(fencing=True, step_down=True, **params):
    return Leases(5, {**DEFAULTS, **params}, {"fencing": fencing, "step_down": step_down})


def ctx_for(m, node, now=0, ghost=None):
    return FakeContext(node=node, params=m.p, variant=m.v,
                       ghost=ghost if ghost is not None else LeaseGhost(), now=now)


def leader(epoch=1, expiry=TTL):
    return CandidateState(role=LeaseRole.LEADER, epoch=epoch, lease_expiry=expiry)


# -- the lock service -------------------------------------------------------------------------
def test_the_first_request_is_granted_epoch_1_for_one_ttl_on_the_service_clock():
    m = model()
    st, ctx = LockState(), ctx_for(m, LOCK, now=50 * MS)
    m.on_message(st, LeaseRequest(40 * MS), "n1", ctx)
    assert st.record == LeaseRecord("n1", 1, 50 * MS + TTL)
    assert ctx.sent == [("n1", LeaseGrant(1, TTL, 40 * MS))]
    assert ctx.counters == {"grants": 1}


def test_the_holder_renews_before_expiry_and_keeps_its_epoch():
    m = model()
    st = LockState(LeaseRecord("n1", 3, TTL))
    ctx = ctx_for(m, LOCK, now=TTL - 1)
    m.on_message(st, LeaseRequest(TTL - 20 * MS), "n1", ctx)
    assert st.record == LeaseRecord("n1", 3, 2 * TTL - 1)
    assert ctx.sent == [("n1", LeaseGrant(3, TTL, TTL - 20 * MS))]
    assert ctx.counters == {"renewals": 1}


def test_another_node_is_denied_while_the_lease_is_live_on_the_service_clock():
    m = model()
    st = LockState(LeaseRecord("n1", 2, TTL))
    ctx = ctx_for(m, LOCK, now=TTL - 1)
    m.on_message(st, LeaseRequest(0), "n2", ctx)
    assert ctx.sent == [("n2", LeaseDenied("n1", 2))]
    assert st.record.holder == "n1"


def test_after_the_ttl_on_the_service_clock_another_node_gets_a_new_epoch():
    m = model()
    st = LockState(LeaseRecord("n1", 2, TTL))
    ctx = ctx_for(m, LOCK, now=TTL)
    m.on_message(st, LeaseRequest(TTL - 5 * MS), "n2", ctx)
    assert st.record == LeaseRecord("n2", 3, 2 * TTL)
    assert ctx.sent == [("n2", LeaseGrant(3, TTL, TTL - 5 * MS))]
    assert ctx.counters == {"handovers": 1, "grants": 1}


def test_a_late_request_of_the_old_holder_after_expiry_gets_a_new_epoch():
    m = model()
    st = LockState(LeaseRecord("n1", 2, TTL))
    ctx = ctx_for(m, LOCK, now=TTL + 5)
    m.on_message(st, LeaseRequest(TTL - 5 * MS), "n1", ctx)
    assert st.record.epoch == 3 and "handovers" not in ctx.counters


# -- candidates -----------------------------------------------------------------------------------
def test_a_candidate_asks_for_the_lease_after_a_random_delay_and_then_periodically():
    m = model()
    st, ctx = CandidateState(), ctx_for(m, "n1", now=7 * MS)
    m.on_start(st, ctx)
    assert 1 <= ctx.timers["acquire"] <= DEFAULTS["retry_ms"] * MS
    m.on_timer(st, ACQUIRE, ctx)
    assert ctx.sent == [(LOCK, LeaseRequest(7 * MS))]
    assert ctx.timers["acquire"] == DEFAULTS["retry_ms"] * MS


def test_a_leader_does_not_ask_to_acquire():
    m = model()
    st, ctx = leader(), ctx_for(m, "n1")
    m.on_timer(st, ACQUIRE, ctx)
    assert ctx.sent == []


def test_a_grant_is_counted_from_when_the_request_was_sent_minus_the_margin():
    m = model(drift_margin_ms=200)
    st, ctx = CandidateState(), ctx_for(m, "n1", now=30 * MS)
    m.on_message(st, LeaseGrant(1, TTL, 10 * MS), LOCK, ctx)
    expiry = 10 * MS + TTL - 200 * MS
    assert st.role is LeaseRole.LEADER and st.epoch == 1 and st.lease_expiry == expiry
    assert ctx.timers["lease_expiry"] == expiry - 30 * MS
    assert ctx.timers["renew"] == (TTL - 200 * MS) // 3
    assert ctx.timers["write"] == 1


def test_a_renewal_extends_the_belief_and_rearms_the_expiry():
    m = model()
    st, ctx = leader(epoch=4, expiry=TTL), ctx_for(m, "n1", now=500 * MS)
    m.on_message(st, LeaseGrant(4, TTL, 480 * MS), LOCK, ctx)
    assert st.lease_expiry == 480 * MS + TTL
    assert ctx.timers == {"lease_expiry": 480 * MS + TTL - 500 * MS}


def test_a_grant_that_arrives_already_expired_is_ignored():
    m = model()
    st, ctx = CandidateState(), ctx_for(m, "n1", now=2 * TTL)
    m.on_message(st, LeaseGrant(1, TTL, 0), LOCK, ctx)
    assert st.role is LeaseRole.FOLLOWER and ctx.timers == {}


def test_without_step_down_no_expiry_timer_is_armed():
    m = model(step_down=False)
    st, ctx = CandidateState(), ctx_for(m, "n1")
    m.on_message(st, LeaseGrant(1, TTL, 0), LOCK, ctx)
    assert st.role is LeaseRole.LEADER and "lease_expiry" not in ctx.timers


def test_the_leader_writes_with_its_epoch_as_the_fencing_token():
    m = model()
    st, ctx = leader(epoch=2), ctx_for(m, "n1", now=10 * MS)
    m.on_timer(st, WRITE, ctx)
    assert ctx.sent == [(STORE, Write(2, 1))]
    assert ctx.timers == {"write": DEFAULTS["write_ms"] * MS}


def test_the_leader_checks_its_clock_before_writing():
    m = model()
    st, ctx = leader(epoch=2, expiry=TTL), ctx_for(m, "n1", now=TTL)
    ctx.timers.update({"renew": 1, "lease_expiry": 1})
    m.on_timer(st, WRITE, ctx)
    assert ctx.sent == [] and st.role is LeaseRole.FOLLOWER and ctx.timers == {}


def test_the_expiry_timer_makes_the_leader_step_down():
    m = model()
    st, ctx = leader(), ctx_for(m, "n1", now=TTL)
    m.on_timer(st, LEASE_EXPIRY, ctx)
    assert st.role is LeaseRole.FOLLOWER and st.steps_down == 1
    assert ctx.facts == [SteppedDown(1, "my clock says the lease expired")]


def test_a_fenced_write_makes_the_leader_step_down():
    m = model()
    st, ctx = leader(epoch=1), ctx_for(m, "n1")
    m.on_message(st, WriteAck(False, 2), STORE, ctx)
    assert st.role is LeaseRole.FOLLOWER


def test_a_denial_naming_a_newer_epoch_makes_the_leader_step_down():
    m = model()
    st, ctx = leader(epoch=1), ctx_for(m, "n1")
    m.on_message(st, LeaseDenied("n2", 2), LOCK, ctx)
    assert st.role is LeaseRole.FOLLOWER


def test_a_follower_cannot_step_down_again():
    with pytest.raises(IllegalTransition):
        ROLE.move(LeaseRole.FOLLOWER, LeaseRole.FOLLOWER)


# -- the store ----------------------------------------------------------------------------------
def test_with_fencing_the_store_refuses_an_older_epoch():
    m = model(fencing=True)
    st, ctx = StoreState(max_epoch=3), ctx_for(m, STORE)
    m.on_message(st, Write(2, 9), "n1", ctx)
    assert ctx.sent == [("n1", WriteAck(False, 3))]
    assert st.rejected == 1 and st.accepted == 0 and ctx.facts == []
    assert ctx.counters == {"stale_writes_rejected": 1}


def test_without_fencing_the_store_accepts_an_older_epoch():
    m = model(fencing=False)
    st, ctx = StoreState(max_epoch=3), ctx_for(m, STORE)
    m.on_message(st, Write(2, 9), "n1", ctx)
    assert ctx.sent == [("n1", WriteAck(True, 3))]
    assert st.accepted == 1 and st.last_writer == "n1"
    assert ctx.facts == [WriteAccepted("n1", 2, 9)]


def test_the_overlap_of_belief_intervals():
    assert overlap([(0, 10), (5, 20), (30, 40)]) == 5
    assert overlap([(0, 10), (10, 20)]) == 0
    assert overlap([(0, 10), (2, 8), (4, 6)]) == 6


# -- presets ------------------------------------------------------------------------------------
def run_preset(name, until_ms=None):
    sim, report = run(presets()[name], until_ms)
    if until_ms is None:
        assert report["matches_expected"], report["mismatches"]
    return sim, report["metrics"]


def notes(sim, text):
    """The notes and facts whose text holds ``text``: (time, node, data)."""
    return [(t, node, data) for t, kind, node, _c, data in sim.trace
            if kind == "note" and text in data[0]
            or kind == "fact" and text in data.describe()]


def test_the_lease_is_handed_over_only_a_ttl_after_the_last_renewal():
    sim, m = run_preset("lease-handover-after-crash")
    crash = 2000 * MS
    renewals = [t for t, kind, node, _c, data in sim.trace
                if kind == "deliver" and node == LOCK and data[0] == "n1" and t < crash]
    granted = [t for t, node, data in notes(sim, "granted epoch 2")]
    assert len(granted) == 1
    assert granted[0] - renewals[-1] >= TTL  # not a moment earlier, on the service's clock
    assert m["double_leadership_ms"] == 0 and m["renewals"] >= 4


def test_a_slow_clock_makes_two_leaders_and_the_stale_write_lands():
    sim, m = run_preset("lease-drift-two-leaders")
    became = notes(sim, "became leader, epoch 2")[0][0]
    stepped = [t for t, node, _ in notes(sim, "stepped down from epoch 1") if node == "n1"][0]
    assert stepped - became == pytest.approx(m["double_leadership_ms"] * MS, abs=1)
    assert m["stale_writes_accepted"] >= 2


def test_the_panel_shows_each_belief_beside_the_service_record():
    sim, _ = run_preset("lease-drift-two-leaders", until_ms=3200)
    panel = sim.model.panel(sim)
    assert panel["truth"]["holder"] == "n2" and panel["truth"]["epoch"] == 2
    believers = {b["node"]: b for b in panel["beliefs"] if b["believes_leader"]}
    assert sorted(believers) == ["n1", "n2"]
    assert believers["n1"]["epoch"] == 1 and believers["n1"]["clock_rate"] == 0.5
    assert sim.model.summary("n1", sim.nodes["n1"].state)["leader"] is True


def test_the_margin_makes_the_old_leader_step_down_before_the_handover():
    sim, m = run_preset("lease-drift-margin")
    became = notes(sim, "became leader, epoch 2")[0][0]
    stepped = [t for t, node, _ in notes(sim, "stepped down from epoch 1") if node == "n1"][0]
    assert stepped < became
    assert m["double_leadership_ms"] == 0


def test_fencing_refuses_the_stale_write_though_two_nodes_believe():
    sim, m = run_preset("lease-drift-fencing")
    assert [v.invariant for v in sim.violations] == ["single_holder"]
    assert m["stale_writes_rejected"] >= 1 and m["stale_writes_accepted"] == 0
    assert notes(sim, "the store is fenced at epoch 2")


def test_a_holder_that_ignores_its_clock_leads_for_as_long_as_it_is_cut_off():
    sim, m = run_preset("lease-no-step-down")
    assert m["double_leadership_ms"] >= 900
    assert "single_holder" in {v.invariant for v in sim.violations}


def test_every_lease_preset_names_its_claims_and_narrates():
    names = [n for n in presets() if n.startswith("lease-")]
    claims = set()
    for name in names:
        claims.update(presets()[name]["claims"])
        assert presets()[name]["narrative"]
    assert {"C21", "C22"} <= claims

