"""Time travel: seek anywhere by checkpoint + replay, and fork a new future."""

from dataclasses import dataclass, field

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from playground.engine import commands as C
from playground.engine import trace as T
from playground.engine.errors import ScenarioError
from playground.engine.history import BYTES_PER_EVENT, RECENT, History, kept
from playground.engine.rng import Stream

from .helpers import toy_scenario, toy_sim


def fresh_hash_at(t, **kw):
    sim = toy_sim(**kw)
    sim.run_until(t)
    return T.sha256(sim.trace), sim.nodes["n1"].state.pings_sent


@given(every=st.sampled_from([50, 500]),
       targets=st.lists(st.integers(0, 5_000_000), min_size=1, max_size=6))
@settings(max_examples=20)
def test_seek_reproduces_the_state_of_a_fresh_run(every, targets):
    """Any sequence of seeks, back and forth, lands where a fresh run to that time is."""
    kw = {"nodes": 4, "duration_ms": 60_000,
          "commands": [{"at_ms": 700, "type": "crash", "node": "n3"},
                       {"at_ms": 2500, "type": "restart", "node": "n3"},
                       {"at_ms": 1200, "type": "drift", "node": "n2", "rate": 1.3}]}
    sim = toy_sim(**kw)
    history = History(sim, every_events=every)
    history.advance(5_000_000)
    for t in targets:
        history.seek(t)
        assert sim.now == t
        assert (T.sha256(sim.trace), sim.nodes["n1"].state.pings_sent) == fresh_hash_at(t, **kw)
    history.seek(5_000_000)
    assert T.sha256(sim.trace) == fresh_hash_at(5_000_000, **kw)[0]


def test_seek_beyond_the_frontier_runs_forward():
    sim = toy_sim()
    history = History(sim)
    history.seek(2_000_000)
    assert sim.now == 2_000_000 and history.frontier == 2_000_000


def test_seek_before_zero_is_refused():
    history = History(toy_sim())
    with pytest.raises(ScenarioError):
        history.seek(-1)


def test_fork_keeps_the_past_and_drops_the_future():
    kw = {"commands": [{"at_ms": 3000, "type": "crash", "node": "n1"}]}
    sim = toy_sim(**kw)
    history = History(sim, every_events=100)
    history.advance(4_000_000)
    history.seek(1_000_000)
    past = list(sim.trace)
    history.fork()
    assert sim.commands == []  # the crash at 3 s was in the dropped future
    sim.apply(C.Crash("n2"))
    history.advance(4_000_000)
    assert sim.trace[:len(past)] == past
    assert sim.nodes["n1"].status == "alive" and sim.nodes["n2"].status == "crashed"
    history.seek(500_000)  # checkpoints after the fork point were dropped, earlier ones kept
    assert T.sha256(sim.trace) == fresh_hash_at(500_000, **kw)[0]


def test_live_actions_survive_seeking_back_and_forth():
    sim = toy_sim()
    history = History(sim, every_events=100)
    history.advance(1_000_000)
    sim.apply(C.Crash("n3"))
    history.advance(3_000_000)
    final = T.sha256(sim.trace)
    history.seek(200_000)
    history.seek(3_000_000)
    assert T.sha256(sim.trace) == final
    assert sim.nodes["n3"].status == "crashed"


def test_checkpoints_are_compact():
    sim = toy_sim(nodes=5)
    history = History(sim, every_events=1000)
    history.advance(20_000_000)
    assert len(history.blobs) > 5
    assert history.bytes_held < 2_000_000
    assert toy_scenario()  # the helper still validates


def test_seek_to_an_instant_with_a_checkpoint_runs_the_commands_recorded_there():
    sim = toy_sim()
    history = History(sim, every_events=50)
    history.advance(900_000)
    assert history.times[-1] == 900_000  # a checkpoint of the instant, before the action
    sim.apply(C.Crash("n2"))
    history.advance(2_000_000)
    history.seek(500_000)
    history.seek(900_000)
    assert sim.nodes["n2"].status == "crashed"


def test_thinning_is_monotone_and_keeps_checkpoint_zero():
    for number in range(0, 3000, 7):
        verdicts = [kept(number, age) for age in range(0, 4000, 5)]
        first_drop = verdicts.index(False) if False in verdicts else len(verdicts)
        assert not any(verdicts[first_drop:]), number  # once dropped, never back
    assert all(kept(0, age) for age in range(100_000))


def test_old_checkpoints_thin_out_and_seeks_stay_exact():
    kw = {"nodes": 3, "duration_ms": 90_000,
          "commands": [{"at_ms": 9000, "type": "crash", "node": "n2"}]}
    sim = toy_sim(**kw)
    history = History(sim, every_events=10)  # a checkpoint every slice or two
    history.advance(90_000_000)
    saves = history.numbers[-1] + 1
    assert saves > 8 * RECENT
    # the newest RECENT all kept; then about RECENT / 2 per doubling of age
    assert len(history.blobs) <= RECENT + RECENT // 2 * (saves // RECENT).bit_length() + 1
    assert history.numbers[0] == 0 and history.times == sorted(history.times)
    newest = history.numbers[-1]
    for older, newer in zip(history.numbers, history.numbers[1:]):
        age = newest - newer
        assert newer - older <= max(1, 2 * age // RECENT + 1), (older, newer)
    rng = Stream(5)
    for _ in range(12):
        t = rng.randint(0, 90_000_000)
        history.seek(t)
        assert (T.sha256(sim.trace), sim.nodes["n1"].state.pings_sent) == fresh_hash_at(t, **kw)


@dataclass(frozen=True, slots=True)
class _Entry:
    term: int
    key: str
    note: str = "-"


@dataclass(frozen=True)
class _Derived:
    a: int
    doubled: int = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "doubled", 2 * self.a)


def test_checkpoints_keep_frozen_values_and_their_sharing():
    sim = toy_sim()
    shared = _Entry(3, "x")
    sim.ghost = {"log": [shared, _Entry(4, "y", "z")], "applied": [shared],
                 "derived": _Derived(21), "nested": (_Entry(5, "w"), [shared])}
    blob = sim.save()
    sim.ghost = None
    sim.load(blob)
    ghost = sim.ghost
    assert ghost["log"] == [_Entry(3, "x"), _Entry(4, "y", "z")]
    assert ghost["log"][0] is ghost["applied"][0] is ghost["nested"][1][0]
    assert ghost["derived"] == _Derived(21) and ghost["derived"].doubled == 42
    assert ghost["nested"][0] == _Entry(5, "w")


@dataclass(frozen=True)
class _Keyword:
    a: int
    b: int = field(default=0, kw_only=True)


def test_checkpoints_keep_frozen_values_with_keyword_only_fields():
    sim = toy_sim()
    sim.ghost = [_Keyword(1, b=2), _Keyword(3)]
    blob = sim.save()
    sim.load(blob)
    assert sim.ghost == [_Keyword(1, b=2), _Keyword(3)]


def test_the_checkpoint_interval_grows_with_the_checkpoints_size_and_seeks_stay_exact():
    kw = {"nodes": 3, "duration_ms": 30_000}
    sim = toy_sim(**kw)
    history = History(sim, every_events=10)
    assert history.interval == 10  # a small state: the configured interval
    history.advance(2_000_000)
    assert history.times[-1] - history.times[-2] == 100_000  # one per 100 ms slice
    sim.ghost = list(range(20_000))  # a large state (it does not change the run)
    history.advance(6_000_000)
    assert history.interval == len(history.blobs[-1]) // BYTES_PER_EVENT > 100
    assert history.times[-1] - history.times[-2] >= 1_000_000  # now seconds apart
    for t in (5_900_000, 3_900_000, 1_500_000):
        history.seek(t)
        assert T.sha256(sim.trace) == fresh_hash_at(t, **kw)[0]


def test_advance_in_slices_reaches_the_same_state_as_one_call():
    kw = {"nodes": 5, "duration_ms": 60_000,
          "commands": [{"at_ms": 900, "type": "crash", "node": "n2"},
                       {"at_ms": 1900, "type": "restart", "node": "n2"}]}
    whole = History(toy_sim(**kw), every_events=40)
    whole.advance(3_000_000)
    sim = toy_sim(**kw)
    sliced = History(sim, every_events=40)
    calls = 0
    while not sliced.advance(3_000_000, limit=7):
        calls += 1
        assert sim.now <= 3_000_000
    assert calls > 10  # it did stop on the way
    assert sim.now == whole.sim.now == 3_000_000
    assert T.sha256(sim.trace) == T.sha256(whole.sim.trace)
    assert sliced.frontier == 3_000_000
    # A seek far back, in slices too, lands on the state of a fresh run.
    while not sliced.seek(1_234_567, limit=5):
        pass
    assert (T.sha256(sim.trace), sim.nodes["n1"].state.pings_sent) == \
        fresh_hash_at(1_234_567, **kw)


def test_act_forks_when_behind_and_records_the_command():
    sim = toy_sim(nodes=3, commands=[{"at_ms": 2000, "type": "crash", "node": "n3"}])
    history = History(sim)
    history.advance(3_000_000)
    assert history.act(C.Pause("n1")) is False  # at the frontier: no fork
    assert [at for at, _ in sim.timeline()] == [2_000_000, 3_000_000]
    history.seek(1_000_000)
    assert history.behind()
    assert [at for at, _ in history.kept_commands()] == []
    assert history.act(C.Crash("n2")) is True
    assert sim.timeline() == [(1_000_000, C.Crash("n2"))]  # the later future is gone
    assert sim.commands_applied() == 1
    assert history.frontier == 1_000_000 and not history.behind()
    assert sim.nodes["n2"].status.name == "CRASHED"
