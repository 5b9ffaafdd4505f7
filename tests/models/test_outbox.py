"""Unit tests of the dual-write / transactional-outbox model, and its presets."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from playground.models.base import MS, Timer, UnexpectedEvent
from playground.models.outbox import Outbox
from playground.models.outbox.broker import REDELIVER, BrokerState
from playground.models.outbox.checker import OutboxGhost
from playground.models.outbox.consumer import ConsumerState
from playground.models.outbox.facts import (
    DeliveryAcknowledged, DuplicateEventSkipped, EventApplied, EventDelivered, EventHeld,
    EventPublished, EventStored, OrderCommitted, OutboxRowDeleted, OutboxRowWritten, PublishAcknowledged,
)
from playground.models.outbox.messages import (
    BROKER, CONSUMER, RELAY, SERVICE, DeleteOutboxRow, Deliver, DeliveryAck, OrderCreated,
    OutboxRows, OutboxTimer, PollOutbox, Publish, PublishAck,
)
from playground.models.outbox.relay import POLL, RelayState
from playground.models.outbox.service import WORKLOAD, ServiceState
from playground.scenarios import presets, run
from tests.fakes import FakeContext
from tests.mutants import applied
from tests.mutants.outbox import MUTANTS as OUTBOX_MUTANTS

DEFAULTS = {p.name: p.default for p in Outbox.params}
EVENT = OrderCreated(1, "book")


def model(mode="outbox", idempotent=True, ordered=False, **params):
    return Outbox(4, {**DEFAULTS, **params}, {"mode": mode, "idempotent_consumer": idempotent,
                                              "ordered_consumer": ordered})


def ctx_for(m, node, ghost=None, now=0):
    return FakeContext(node=node, params=m.p, variant=m.v, ghost=ghost or OutboxGhost(),
                       now=now)


def view_of(m, ghost=None, now=0, facts=None, **states):
    nodes = {nid: SimpleNamespace(state=states.get(nid) or m.init_node(nid))
             for nid in m.node_ids()}
    return SimpleNamespace(nodes=nodes, ghost=ghost or OutboxGhost(), now=now, counters={},
                           facts=facts if facts is not None else [])


def check(m, view, node_id):
    """What the checker finds after one event; its facts are then consumed."""
    found = list(m.check(view, node_id))
    view.facts.clear()
    return found


def publish(order):
    return Timer(OutboxTimer.PUBLISH, order)


def commit(order):
    return Timer(OutboxTimer.COMMIT, order)


# -- the order service --------------------------------------------------------------------
def test_outbox_mode_writes_the_order_and_its_event_in_one_transaction():
    m = model()
    st, ctx = ServiceState(), ctx_for(m, SERVICE)
    m.on_command(st, {"type": "place_order"}, ctx)
    assert st.db.orders == {1: "book"} and st.db.outbox == {1: EVENT}
    assert ctx.sent == [] and ctx.timers == {}  # the relay publishes, not the service
    assert ctx.facts == [OrderCommitted(1, "book"), OutboxRowWritten(1)]


def test_dual_write_commits_then_publishes_after_a_gap():
    m = model("dual_write")
    st, ctx = ServiceState(), ctx_for(m, SERVICE)
    m.on_command(st, {"type": "place_order"}, ctx)
    assert st.db.orders == {1: "book"} and st.db.outbox == {}
    assert st.unpublished == {1: EVENT} and ctx.sent == []
    assert ctx.timers == {"publish:1": DEFAULTS["publish_delay_ms"] * MS}
    assert ctx.facts == [OrderCommitted(1, "book")]
    ctx.clear()
    m.on_timer(st, publish(1), ctx)
    assert ctx.sent == [(BROKER, Publish(EVENT))] and ctx.facts == [EventPublished(1)]
    assert ctx.timers == {"publish:1": DEFAULTS["publish_timeout_ms"] * MS}  # resend later
    m.on_message(st, PublishAck(1, 0), BROKER, ctx)
    assert st.unpublished == {} and ctx.timers == {}
    assert ctx.facts == [EventPublished(1), PublishAcknowledged(1, 0)]
    ctx.clear()
    m.on_timer(st, publish(1), ctx)  # a stale resend of an acknowledged event: nothing
    m.on_message(st, PublishAck(1, 1), BROKER, ctx)
    assert ctx.sent == [] and ctx.facts == []


def test_a_crash_in_the_dual_write_gap_forgets_the_event():
    m = model("dual_write")
    st, ctx = ServiceState(), ctx_for(m, SERVICE)
    m.on_command(st, {"type": "place_order"}, ctx)
    fresh = m.init_node(SERVICE)
    for name in m.durable:  # what the engine does on a crash
        setattr(fresh, name, getattr(st, name))
    assert fresh.db.orders == {1: "book"} and fresh.unpublished == {}
    view = view_of(m, **{SERVICE: fresh})
    assert m.metrics(view)["lost_events"] == 1


def test_publish_first_commits_only_after_the_acknowledgement_and_a_gap():
    m = model("publish_first")
    st, ctx = ServiceState(), ctx_for(m, SERVICE)
    m.on_command(st, {"type": "place_order"}, ctx)
    assert st.db.orders == {} and st.uncommitted == {1: EVENT}
    assert ctx.sent == [(BROKER, Publish(EVENT))]
    assert ctx.facts == [EventPublished(1)]  # no commit yet
    m.on_message(st, PublishAck(1, 0), BROKER, ctx)
    assert ctx.timers == {"commit:1": DEFAULTS["publish_delay_ms"] * MS}
    m.on_message(st, PublishAck(1, 1), BROKER, ctx)  # a resend's acknowledgement
    assert ctx.timers == {"commit:1": DEFAULTS["publish_delay_ms"] * MS}
    ctx.clear()
    m.on_timer(st, commit(1), ctx)
    assert st.db.orders == {1: "book"} and st.uncommitted == {}
    assert ctx.facts == [OrderCommitted(1, "book")]


def test_the_service_answers_polls_and_deletes_rows():
    m = model(batch=2)
    st, ctx = ServiceState(), ctx_for(m, SERVICE)
    for _ in range(3):
        m.on_command(st, {"type": "place_order"}, ctx)
    m.on_message(st, PollOutbox(2), RELAY, ctx)
    assert ctx.sent == [(RELAY, OutboxRows((EVENT, OrderCreated(2, "book"))))]
    ctx.clear()
    m.on_message(st, DeleteOutboxRow(1), RELAY, ctx)
    m.on_message(st, DeleteOutboxRow(1), RELAY, ctx)  # idempotent
    assert list(st.db.outbox) == [2, 3]
    assert ctx.facts == [OutboxRowDeleted(1)]


def test_the_workload_places_orders_until_its_count():
    m = model(orders=2)
    st, ctx = ServiceState(), ctx_for(m, SERVICE)
    m.on_start(st, ctx)
    m.on_timer(st, WORKLOAD, ctx)
    assert "workload" in ctx.timers
    del ctx.timers["workload"]
    m.on_timer(st, WORKLOAD, ctx)
    assert len(st.db.orders) == 2 and "workload" not in ctx.timers
    m.on_start(st, ctx)  # a restart does not place more
    assert "workload" not in ctx.timers


# -- the relay ----------------------------------------------------------------------------
def test_the_relay_polls_on_its_timer_only_in_outbox_mode():
    for mode, armed in (("outbox", True), ("dual_write", False)):
        m = model(mode)
        ctx = ctx_for(m, RELAY)
        m.on_start(RelayState(), ctx)
        assert ("poll" in ctx.timers) is armed
    m = model()
    st, ctx = RelayState(), ctx_for(m, RELAY)
    m.on_timer(st, POLL, ctx)
    assert ctx.sent == [(SERVICE, PollOutbox(DEFAULTS["batch"]))] and st.polls == 1


def test_the_relay_publishes_a_row_once_while_it_is_in_flight():
    m = model()
    st, ctx = RelayState(), ctx_for(m, RELAY, now=5 * MS)
    m.on_message(st, OutboxRows((EVENT,)), SERVICE, ctx)
    m.on_message(st, OutboxRows((EVENT,)), SERVICE, ctx)
    assert ctx.sent == [(BROKER, Publish(EVENT))] and ctx.facts == [EventPublished(1)]
    ctx.now += DEFAULTS["publish_timeout_ms"] * MS  # no acknowledgement: publish again
    m.on_message(st, OutboxRows((EVENT,)), SERVICE, ctx)
    assert ctx.sent[-1] == (BROKER, Publish(EVENT)) and ctx.counters == {"relay_retries": 1}
    assert ctx.facts == [EventPublished(1)] * 2


def test_the_relay_deletes_a_row_only_after_the_broker_acknowledges():
    m = model()
    st, ctx = RelayState(), ctx_for(m, RELAY)
    m.on_message(st, OutboxRows((EVENT,)), SERVICE, ctx)
    assert ctx.sent_of(DeleteOutboxRow) == []
    m.on_message(st, PublishAck(1, 0), BROKER, ctx)
    assert ctx.sent_of(DeleteOutboxRow) == [(SERVICE, DeleteOutboxRow(1))]
    assert st.in_flight == {} and st.acked == {1: 0}
    assert ctx.facts == [EventPublished(1), PublishAcknowledged(1, 0)]
    ctx.clear()
    m.on_message(st, OutboxRows((EVENT,)), SERVICE, ctx)  # the delete was lost
    assert ctx.sent == [(SERVICE, DeleteOutboxRow(1))]  # ask again, do not republish
    m.on_message(st, OutboxRows(()), SERVICE, ctx)
    assert st.acked == {}


def test_a_restarted_relay_publishes_an_undeleted_row_again():
    m = model()
    st, ctx = RelayState(), ctx_for(m, RELAY)
    m.on_message(st, OutboxRows((EVENT,)), SERVICE, ctx)
    st = m.init_node(RELAY)  # crashed: nothing durable
    m.on_message(st, OutboxRows((EVENT,)), SERVICE, ctx)
    assert ctx.sent_of(Publish) == [(BROKER, Publish(EVENT))] * 2


# -- the broker ---------------------------------------------------------------------------
def test_the_broker_appends_acknowledges_and_pushes_without_deduplicating():
    m = model()
    st, ctx = BrokerState(), ctx_for(m, BROKER)
    m.on_message(st, Publish(EVENT), RELAY, ctx)
    m.on_message(st, Publish(EVENT), RELAY, ctx)
    assert st.db.entries == [EVENT, EVENT] and list(st.db.unacked) == [0, 1]
    assert ctx.sent == [(RELAY, PublishAck(1, 0)), (CONSUMER, Deliver(0, EVENT)),
                        (RELAY, PublishAck(1, 1)), (CONSUMER, Deliver(1, EVENT))]
    assert ctx.timers == {"redeliver": DEFAULTS["redeliver_ms"] * MS}
    assert ctx.facts == [EventStored(1, 0), EventStored(1, 1)]
    m.on_message(st, DeliveryAck(0), CONSUMER, ctx)
    m.on_message(st, DeliveryAck(0), CONSUMER, ctx)  # a duplicate acknowledgement
    assert list(st.db.unacked) == [1]
    assert ctx.facts[2:] == [DeliveryAcknowledged(0)]


def test_the_broker_redelivers_what_the_consumer_has_not_acknowledged():
    m = model()
    st, ctx = BrokerState(), ctx_for(m, BROKER)
    m.on_message(st, Publish(EVENT), RELAY, ctx)
    ctx.clear()
    ctx.now = DEFAULTS["redeliver_ms"] * MS
    m.on_timer(st, REDELIVER, ctx)
    assert ctx.sent == [(CONSUMER, Deliver(0, EVENT))]
    assert ctx.counters == {"broker_redeliveries": 1}
    m.on_start(m.init_node(BROKER), ctx)  # nothing unacked after a fresh start: no timer
    restarted = BrokerState(db=st.db)
    ctx.timers.clear()
    m.on_start(restarted, ctx)
    assert "redeliver" in ctx.timers


# -- the consumer -------------------------------------------------------------------------
def test_an_idempotent_consumer_applies_an_event_once():
    m = model()
    st, ctx = ConsumerState(), ctx_for(m, CONSUMER)
    st.db.stock = 10
    m.on_message(st, Deliver(0, EVENT), BROKER, ctx)
    m.on_message(st, Deliver(1, EVENT), BROKER, ctx)
    assert st.db.reserved == {1: 1} and st.db.stock == 9
    assert ctx.sent == [(BROKER, DeliveryAck(0)), (BROKER, DeliveryAck(1))]
    assert ctx.facts == [EventDelivered(1, 0), EventApplied(1, 0, 1),
                         EventDelivered(1, 1), DuplicateEventSkipped(1, 1)]
    view = view_of(m, ghost=ctx.ghost, facts=ctx.facts, **{CONSUMER: st})
    assert check(m, view, CONSUMER) == []
    assert m.metrics(view)["duplicate_deliveries"] == 1


def test_a_non_idempotent_consumer_applies_a_duplicate_again():
    m = model(idempotent=False)
    st, ctx = ConsumerState(), ctx_for(m, CONSUMER)
    st.db.stock = 10
    view = view_of(m, ghost=ctx.ghost, facts=ctx.facts, **{CONSUMER: st})
    m.on_message(st, Deliver(0, EVENT), BROKER, ctx)
    assert check(m, view, CONSUMER) == []
    m.on_message(st, Deliver(1, EVENT), BROKER, ctx)
    assert st.db.reserved == {1: 2} and st.db.stock == 8
    assert ctx.facts == [EventDelivered(1, 1), EventApplied(1, 1, 2)]
    assert check(m, view, CONSUMER) == [
        ("exactly_once_effect", "order 1: the consumer applied its event 2 times "
                                "(reserved 2 items)")]
    assert m.metrics(view)["duplicate_deliveries"] == 1


@pytest.mark.parametrize("idempotent", [True, False])
def test_an_ordered_consumer_holds_an_early_event_until_the_gap_is_filled(idempotent):
    m = model(idempotent=idempotent, ordered=True)
    st, ctx = ConsumerState(), ctx_for(m, CONSUMER)
    st.db.stock = 10
    for offset, order in ((1, 2), (2, 3), (3, 2)):
        m.on_message(st, Deliver(offset, OrderCreated(order, "book")), BROKER, ctx)
    assert st.db.reserved == {} and sorted(st.db.held) == [2, 3] and st.db.next_seq == 1
    assert ctx.sent == [(BROKER, DeliveryAck(1)), (BROKER, DeliveryAck(2)),
                        (BROKER, DeliveryAck(3))]  # held is as good as applied: durable
    assert ctx.facts == [EventDelivered(2, 1), EventHeld(2, 1), EventDelivered(3, 2),
                         EventHeld(3, 1), EventDelivered(2, 3), DuplicateEventSkipped(2, 3)]
    ctx.clear()
    m.on_message(st, Deliver(0, EVENT), BROKER, ctx)
    assert ctx.facts == [EventDelivered(1, 0), EventApplied(1, 0, 1), EventApplied(2, 1, 1),
                         EventApplied(3, 2, 1)]
    assert st.db.reserved == {1: 1, 2: 1, 3: 1} and st.db.held == {} and st.db.next_seq == 4
    ctx.clear()
    m.on_message(st, Deliver(4, EVENT), BROKER, ctx)  # behind the sequence: a repeat
    assert ctx.facts == [EventDelivered(1, 4), DuplicateEventSkipped(1, 4)]
    assert ctx.counters["held_events"] == 2


def commits_then_applies(m, *applied):
    view = view_of(m)
    for order in (1, 2, 3):
        view.facts.append(OrderCommitted(order, "book"))
    found = check(m, view, SERVICE)
    for order in applied:
        view.facts.append(EventApplied(order, order, 1))
        found += check(m, view, CONSUMER)
    return found, m.metrics(view)["out_of_order_applies"]


def test_an_apply_after_a_later_commit_is_counted_and_breaks_order_where_it_is_promised():
    assert commits_then_applies(model(), 1, 3) == ([], 0)  # 2 missing: still in order
    assert commits_then_applies(model(), 2, 3, 1) == ([], 1)
    assert commits_then_applies(model(ordered=True), 2, 3, 1) == ([
        ("events_in_commit_order", "order 1's event was applied after order 3's, which was "
                                   "committed after it")], 1)


# -- the checker --------------------------------------------------------------------------
def test_relay_lag_is_commit_to_broker_in_true_time():
    m = model()
    ghost = OutboxGhost()
    view = view_of(m, ghost, now=100 * MS)
    view.facts.append(OrderCommitted(1, "book"))
    check(m, view, SERVICE)
    view.now = 137 * MS
    view.facts.append(EventStored(1, 0))
    view.facts.append(EventStored(1, 1))  # a duplicate publish does not count twice
    check(m, view, BROKER)
    view.now = 150 * MS
    view.facts.append(EventStored(1, 2))
    check(m, view, BROKER)
    assert ghost.relay_lag == [37.0]
    assert m.metrics(view)["relay_lag_max_ms"] == 37.0


def test_check_final_names_lost_and_phantom_orders():
    m = model()
    service = ServiceState()
    service.db.orders = {1: "book", 2: "book", 3: "book"}
    service.db.outbox = {3: OrderCreated(3, "book")}
    consumer = ConsumerState()
    consumer.db.reserved = {1: 1, 9: 1}
    ghost = OutboxGhost(stored_at={1: 0, 9: 0})
    view = view_of(m, ghost, **{SERVICE: service, CONSUMER: consumer})
    assert list(m.check_final(view)) == [
        ("no_lost_event", "order 2 was committed but its OrderCreated event was never "
                          "consumed (it was never published: the service failed between "
                          "commit and publish)"),
        ("no_lost_event", "order 3 was committed but its OrderCreated event was never "
                          "consumed (it is still in the outbox)"),
        ("no_phantom_event", "OrderCreated for order 9 reached the broker and the consumer "
                             "reserved an item for it, but order 9 was never committed"),
    ]
    metrics = m.metrics(view)
    assert (metrics["lost_events"], metrics["phantom_events"]) == (1, 1)  # 3 is not lost


def test_summary_and_panel_are_json_ready():
    m = model()
    view = view_of(m)
    json.dumps(m.panel(view))
    for nid in m.node_ids():
        json.dumps(m.summary(nid, view.nodes[nid].state))
    assert [m.role(view.nodes[n].state) for n in m.node_ids()] == [
        "order service", "relay", "broker", "consumer"]


def test_a_role_refuses_what_it_does_not_handle():
    m = model()
    with pytest.raises(UnexpectedEvent, match="Publish"):
        m.on_message(ServiceState(), Publish(EVENT), RELAY, ctx_for(m, SERVICE))
    with pytest.raises(UnexpectedEvent, match="place_order"):
        m.on_command(ConsumerState(), {"type": "place_order"}, ctx_for(m, CONSUMER))


# -- presets ------------------------------------------------------------------------------
OUTBOX_PRESETS = sorted(n for n in presets() if n.startswith("outbox-"))


def test_the_claims_and_broken_settings_have_presets():
    """Every invariant but events_in_commit_order fires in a preset of a broken setting;
    that one cannot fire in any setting (the ordered consumer is its only promise), and
    fires on a mutant of the consumer."""
    assert {c for n in OUTBOX_PRESETS for c in presets()[n]["claims"]} >= {"C10", "C11"}
    fired = {v for n in OUTBOX_PRESETS for v in presets()[n]["expected"]["violations"]}
    assert fired == {inv.name for inv in Outbox.invariants} - {"events_in_commit_order"}
    (arrival,) = [m for m in OUTBOX_MUTANTS if m.name == "consumer_applies_on_arrival"]
    with applied(arrival):
        _sim, rep = run(presets()["outbox-ordered-consumer"])
    assert {v["invariant"] for v in rep["violations"]} == {"events_in_commit_order"}


def test_out_of_order_applies_are_counted_without_an_ordered_consumer_and_held_with_one():
    free = run(presets()["outbox-out-of-order-apply"])[1]
    ordered = run(presets()["outbox-ordered-consumer"])[1]
    assert free["metrics"]["out_of_order_applies"] == 1 and free["violations"] == []
    assert ordered["metrics"]["out_of_order_applies"] == 0
    assert ordered["metrics"]["held_events"] == 2
    assert free["metrics"]["events_consumed"] == ordered["metrics"]["events_consumed"] == 3


@pytest.mark.parametrize("name", OUTBOX_PRESETS)
def test_preset_matches_its_expectation(name):
    _sim, rep = run(presets()[name])
    assert rep["matches_expected"], rep["mismatches"]


def test_the_same_crash_loses_an_event_under_dual_write_and_none_with_the_outbox():
    _sim, naive = run(presets()["outbox-dual-write-loses-event"])
    _sim, outbox = run(presets()["outbox-service-crash-loses-nothing"])
    assert naive["metrics"]["lost_events"] == 1
    assert outbox["metrics"]["lost_events"] == 0
    assert outbox["metrics"]["events_consumed"] == outbox["metrics"]["orders_committed"] == 3


def test_the_relay_crash_duplicate_is_absorbed_or_double_applied():
    sim, good = run(presets()["outbox-relay-crash-duplicate"])
    assert sim.nodes[CONSUMER].state.db.reserved == {1: 1, 2: 1, 3: 1}
    assert good["metrics"]["duplicate_deliveries"] >= 1
    sim, bad = run(presets()["outbox-non-idempotent-consumer"])
    assert sim.nodes[CONSUMER].state.db.reserved[1] == 2
    assert bad["violations"][0]["detail"].startswith("order 1: the consumer applied")
