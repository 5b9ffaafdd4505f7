"""Node clocks: offset + rate × true time; timers measured on the node's own clock."""

from playground.engine import commands as C

from .helpers import records, toy_sim


def tick_times(sim, node):
    return [r[0] for r in records(sim, "timer", node)]


def test_clock_reads_true_time_by_default():
    sim = toy_sim()
    sim.run_until(123_456)
    assert sim.local_time("n1") == 123_456


def test_skew_sets_the_offset_without_changing_the_rate():
    sim = toy_sim()
    sim.run_until(1_000_000)
    sim.apply(C.SkewClock("n2", 300_000))
    assert sim.local_time("n2") == 1_300_000
    sim.run_until(2_000_000)
    assert sim.local_time("n2") == 2_300_000


def test_a_fast_clock_times_out_early_in_true_time():
    sim = toy_sim(nodes=2, commands=[{"at_ms": 0, "type": "drift", "node": "n1", "rate": 2.0}])
    sim.run_until(1_000_000)
    fast, normal = tick_times(sim, "n1"), tick_times(sim, "n2")
    assert len(fast) >= 2 * len(normal) - 1
    assert fast[1] - fast[0] == 50_000  # 100 ms of local time in 50 ms of true time


def test_a_slow_clock_times_out_late():
    sim = toy_sim(nodes=2, commands=[{"at_ms": 0, "type": "drift", "node": "n1", "rate": 0.5}])
    sim.run_until(1_000_000)
    ticks = tick_times(sim, "n1")
    assert ticks[1] - ticks[0] == 200_000


def test_drift_keeps_the_clock_continuous():
    sim = toy_sim()
    sim.run_until(1_000_000)
    sim.apply(C.DriftClock("n1", 0.9))
    assert sim.local_time("n1") == 1_000_000
    sim.run_until(2_000_000)
    assert sim.local_time("n1") == 1_900_000


def test_jump_moves_the_clock_and_rearms_timers():
    sim = toy_sim(nodes=2)
    sim.run_until(10_000)
    sim.apply(C.JumpClock("n1", 60_000))  # tick due at local 100 ms now comes 60 ms sooner
    sim.run_until(100_000)
    assert tick_times(sim, "n1")[0] == 40_000
    assert tick_times(sim, "n2")[0] == 100_000


def test_handlers_read_their_own_clock():
    sim = toy_sim(nodes=2, commands=[{"at_ms": 0, "type": "skew", "node": "n2",
                                      "offset_ms": 5000}])
    sim.run_until(350_000)
    assert sim.nodes["n1"].state.timer_fires[:2] == [100_000, 200_000]
    # The skew moves n2's clock past its first deadline (local 100 ms): it fires at once,
    # reading 5 s; the next deadline is 100 ms later on its own clock.
    assert sim.nodes["n2"].state.timer_fires[:2] == [5_000_000, 5_100_000]
