"""The event queue: order by (time, sequence), commands after the events of their instant."""

from heapq import heappush

from playground.engine import commands as C
from playground.engine.simulation import TIMER

from .helpers import records, toy_sim


def test_events_run_in_time_order_and_time_never_goes_back():
    sim = toy_sim()
    sim.run_until(2_000_000)
    times = [r[0] for r in sim.trace]
    assert times == sorted(times)
    assert sim.now == 2_000_000


def test_ties_break_by_scheduling_order():
    sim = toy_sim(nodes=2)
    # Two timers due at the same instant: the one armed first fires first.
    sim.contexts["n1"].set_timer("a", 1000)
    sim.contexts["n1"].set_timer("b", 1000)
    fired = []
    sim.model.on_timer = lambda state, name, ctx: fired.append(name)
    sim.run_until(1000)
    assert fired[:2] == ["a", "b"]


def test_command_runs_after_every_event_of_its_instant():
    # n2's first tick is due at exactly 100 ms; a crash scheduled at 100 ms comes after it.
    sim = toy_sim(nodes=2, commands=[{"at_ms": 100, "type": "crash", "node": "n2"}])
    sim.run_until(100_000)
    at_100 = [r for r in sim.trace if r[0] == 100_000]
    kinds = [(r[1], r[2]) for r in at_100]
    assert ("timer", "n2") in kinds
    assert kinds.index(("timer", "n2")) < kinds.index(("command", "n2"))
    assert all(k[0] != "timer" for k in kinds[kinds.index(("command", "n2")):])


def test_live_apply_matches_a_scheduled_command():
    """A command applied live at t and the same command scheduled at t give one trace."""
    live = toy_sim()
    live.run_until(250_000)
    live.apply(C.Crash("n2"))
    live.run_until(1_000_000)
    scheduled = toy_sim(commands=[{"at_ms": 250, "type": "crash", "node": "n2"}])
    scheduled.run_until(1_000_000)
    assert live.trace == scheduled.trace


def test_step_processes_one_event_at_a_time():
    sim = toy_sim()
    before = len(sim.trace)
    assert sim.step()
    assert len(sim.trace) > before
    assert sim.events == 1


def test_cancelled_timer_never_fires():
    sim = toy_sim(nodes=2)
    sim.run_until(50_000)
    sim.nodes["n1"].timers.clear()  # what ctx.cancel_timer does
    sim.run_until(1_000_000)
    assert records(sim, "timer", "n1") == []
    assert records(sim, "timer", "n2")


def test_stale_heap_entries_are_skipped():
    sim = toy_sim(nodes=2)
    sim.seq += 1
    heappush(sim.queue, (10, sim.seq, TIMER, "n1", "tick"))  # not armed with this seq
    sim.run_until(20)
    assert records(sim, "timer") == []


def test_a_timer_re_armed_later_fires_once_at_its_last_due_time():
    sim = toy_sim(nodes=2)
    fired = []
    sim.model.on_timer = lambda state, name, ctx: fired.append((name, sim.now))
    sim.contexts["n1"].set_timer("watch", 1000)
    for at in (200, 400, 600):  # each re-arming pushes the due time 1 ms past "now"
        sim.run_until(at)
        sim.contexts["n1"].set_timer("watch", 1000)
    entries = [e for e in sim.queue if e[2] == TIMER and e[4] == "watch"]
    assert len(entries) == 1  # the first arming's entry carries the last one
    sim.run_until(5000)
    assert [f for f in fired if f[0] == "watch"] == [("watch", 1600)]


def test_a_timer_re_armed_earlier_fires_at_the_earlier_time_only():
    sim = toy_sim(nodes=2)
    fired = []
    sim.model.on_timer = lambda state, name, ctx: fired.append((name, sim.now))
    sim.contexts["n1"].set_timer("watch", 3000)
    sim.contexts["n1"].set_timer("watch", 1000)
    sim.run_until(5000)
    assert [f for f in fired if f[0] == "watch"] == [("watch", 1000)]


def test_a_timer_re_armed_by_a_resumed_nodes_backlog_still_fires():
    """A timer that came due while its node was paused waits in the backlog; if an
    earlier backlog item re-arms it, the new arming must get its own entry."""
    sim = toy_sim(nodes=2, params={"interval_ms": 100})
    sim.run_until(105_000)
    sim.apply(C.Pause("n1"))
    sim.run_until(450_000)  # a ping queued for n1 first, then its tick came due
    backlog = [item[0] for item in sim.nodes["n1"].backlog]
    assert backlog.count(TIMER) == 1 and backlog.index(TIMER) > 0
    rearmed = []

    def on_message(state, msg, src, ctx):
        if ctx.node == "n1":
            ctx.set_timer("tick", 50_000)
            rearmed.append(sim.now)

    sim.model.on_message = on_message
    sim.apply(C.Resume("n1"))
    sim.model.on_message = type(sim.model).on_message.__get__(sim.model)
    assert rearmed, "the backlog held deliveries for n1"
    sim.run_until(1_000_000)
    ticks = [r[0] for r in records(sim, "timer", "n1") if r[0] > 450_000]
    assert ticks and ticks[0] == 500_000  # 50 ms after the resume, from the new arming
