"""The network: latency, loss, duplication, cuts, partitions, heals, dropping in flight."""

import pytest

from playground.engine import commands as C
from playground.engine.errors import ScenarioError
from playground.engine.rng import Stream

from .helpers import records, toy_sim


def sends_and_delivers(sim, src, dst):
    sends = [r for r in sim.trace if r[1] == "send" and r[2] == src and r[4][0] == dst]
    delivers = [r for r in sim.trace if r[1] == "deliver" and r[2] == dst and r[4][0] == src]
    return sends, delivers


def test_latency_stays_in_the_configured_range():
    sim = toy_sim(network={"latency_ms": [20, 30]})
    sim.run_until(2_000_000)
    by_index = {i: r for i, r in enumerate(sim.trace)}
    delays = [r[0] - by_index[r[3]][0] for r in records(sim, "deliver")]
    assert delays and min(delays) >= 20_000 and max(delays) <= 30_000
    assert len(set(delays)) > 5  # drawn, not constant


@pytest.mark.parametrize("latency_ms", [[20, 30], [10, 10]])
def test_each_latency_is_the_links_own_stream_drawing_in_the_range(latency_ms):
    """A send draws its latency as Stream.randint over the link's stream would (a fixed
    latency draws nothing), so a link's delays do not depend on other links' traffic."""
    sim = toy_sim(network={"latency_ms": latency_ms})
    sim.run_until(1_000_000)
    stream = Stream.for_purpose(sim.seed, "net:n1>n2")
    sends, delivers = sends_and_delivers(sim, "n1", "n2")
    delays = [d[0] - sim.trace[d[3]][0] for d in delivers]
    lo, hi = (ms * 1000 for ms in latency_ms)
    drawn = [stream.randint(lo, hi) for _ in sends]  # one draw per send, in order
    assert len(delays) > 10 and delays == drawn[:len(delays)]
    assert sim.link_rngs[("n1", "n2")].state == stream.state


def test_every_message_is_delivered_on_a_clean_network():
    sim = toy_sim()
    sim.run_until(1_000_000)
    assert sim.dropped == 0
    assert sim.delivered + len(sim.in_flight) == sim.sent


def test_loss_drops_about_the_configured_fraction():
    sim = toy_sim(network={"loss": 0.3})
    sim.run_until(5_000_000)
    lost = [r for r in records(sim, "drop") if r[4][2] == "lost"]
    assert 0.2 < len(lost) / sim.sent < 0.4


def test_duplication_delivers_a_second_copy_caused_by_the_first_send():
    sim = toy_sim(network={"duplicate": 0.5})
    sim.run_until(1_000_000)
    dups = [r for r in records(sim, "send") if sim.trace[r[3]][1] == "send"]
    assert dups, "some sends are duplicates whose cause is the original send"
    assert sim.delivered > sim.sent * 0.6


def test_one_way_cut_drops_one_direction_only():
    sim = toy_sim(nodes=2, commands=[{"at_ms": 0, "type": "cut", "from": "n1", "to": "n2",
                                      "oneway": True}])
    sim.run_until(1_000_000)
    _, forward = sends_and_delivers(sim, "n1", "n2")
    _, backward = sends_and_delivers(sim, "n2", "n1")
    pings_from_n1_delivered = [r for r in forward if r[4][1] == "Ping"]
    assert pings_from_n1_delivered == []
    assert [r for r in backward if r[4][1] == "Ping"]
    assert sim.is_cut("n1", "n2") and not sim.is_cut("n2", "n1")


def test_cut_loses_messages_already_on_the_wire():
    sim = toy_sim(nodes=2)
    sim.run_until(100_000)  # first pings are in flight now
    assert sim.in_flight
    sim.apply(C.Cut("n1", "n2"))
    sim.run_until(200_000)
    reasons = {r[4][2] for r in records(sim, "drop")}
    assert "link cut while in flight" in reasons


def test_heal_one_link_and_heal_all():
    sim = toy_sim(nodes=3)
    sim.apply(C.Cut("n1", "n2"))
    sim.apply(C.Cut("n1", "n3"))
    sim.apply(C.Heal("n2", "n1"))
    assert not sim.is_cut("n1", "n2") and sim.is_cut("n1", "n3")
    sim.apply(C.Partition((("n1",),)))
    sim.apply(C.Heal())
    assert not any(sim.is_cut(a, b) for a in sim.node_ids for b in sim.node_ids if a != b)


def test_partition_isolates_groups_and_unlisted_nodes_stay_together():
    sim = toy_sim(nodes=5, commands=[{"at_ms": 0, "type": "partition",
                                      "groups": [["n1", "n2"]]}])
    sim.run_until(1_000_000)
    assert sim.is_cut("n1", "n3") and sim.is_cut("n4", "n2")
    assert not sim.is_cut("n1", "n2") and not sim.is_cut("n3", "n5")
    for r in records(sim, "deliver"):
        assert {r[2], r[4][0]} <= {"n1", "n2"} or {r[2], r[4][0]} <= {"n3", "n4", "n5"}


def test_drop_one_chosen_message_in_flight():
    sim = toy_sim(nodes=2)
    sim.run_until(100_000)
    mid = next(iter(sim.in_flight))
    sim.apply(C.DropMessage(mid))
    assert mid not in sim.in_flight
    sim.run_until(500_000)
    assert not [r for r in records(sim, "deliver") if r[3] == mid]
    assert [r for r in records(sim, "drop") if r[3] == mid and r[4][2] == "dropped by user"]


def test_in_flight_messages_are_inspectable():
    sim = toy_sim(nodes=2)
    sim.run_until(100_000)
    for mid, (src, dst, msg, sent_at, due_at) in sim.in_flight.items():
        assert sim.trace[mid][1] == "send" and sim.trace[mid][2] == src
        assert sent_at <= sim.now < due_at
        assert type(msg).__name__ in ("Ping", "Pong")


def test_set_link_latency_and_loss_on_one_link():
    sim = toy_sim(nodes=2, commands=[{"at_ms": 0, "type": "link", "from": "n1", "to": "n2",
                                      "latency_ms": [100, 100], "oneway": True}])
    sim.run_until(1_000_000)
    by_index = dict(enumerate(sim.trace))
    n1_to_n2 = [r[0] - by_index[r[3]][0] for r in records(sim, "deliver", "n2")]
    n2_to_n1 = [r[0] - by_index[r[3]][0] for r in records(sim, "deliver", "n1")]
    assert set(n1_to_n2) == {100_000}
    assert max(n2_to_n1) <= 15_000


def test_a_fault_on_one_link_does_not_reshuffle_another_links_draws():
    base = toy_sim(nodes=3)
    faulted = toy_sim(nodes=3, commands=[{"at_ms": 150, "type": "cut", "from": "n1",
                                          "to": "n2"}])
    base.run_until(1_000_000)
    faulted.run_until(1_000_000)

    def latencies(sim, src, dst):
        idx = dict(enumerate(sim.trace))
        return [r[0] - idx[r[3]][0] for r in records(sim, "deliver", dst) if r[4][0] == src]

    assert latencies(base, "n3", "n1") == latencies(faulted, "n3", "n1")


def test_cut_needs_two_different_nodes():
    with pytest.raises(ScenarioError, match="two different nodes"):
        toy_sim(commands=[{"type": "cut", "from": "n1", "to": "n1"}])
