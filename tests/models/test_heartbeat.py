"""Unit tests of the heartbeat model, one transition at a time, and its presets."""

from __future__ import annotations

import pytest

from playground.models.base import MS, IllegalTransition
from playground.models.heartbeat import Heartbeats
from playground.models.heartbeat.checker import HeartbeatGhost
from playground.models.heartbeat.detector import HEALTH, WorkerView, phi
from playground.models.heartbeat.facts import StatusPublished, WorkerHeard
from playground.models.heartbeat.messages import (PULSE, REGISTRY, ROUND, ROUND_DEADLINE, SERVE,
                                                  SWEEP, Health, HealthProbe, HealthReply,
                                                  Heartbeat)
from playground.models.heartbeat.registry import Job, JobKind, RegistryState
from playground.models.heartbeat.worker import WorkerState
from playground.scenarios import presets, run
from tests.fakes import FakeContext

DEFAULTS = {p.name: p.default for p in Heartbeats.params}
WORKERS = ("w1", "w2", "w3")


def model(mode="push", detector="timeout", no_hysteresis=False, sender_clock=False, **params):
    return Heartbeats(4, {**DEFAULTS, **params},
                      {"mode": mode, "detector": detector, "no_hysteresis": no_hysteresis,
                       "sender_clock": sender_clock})


def ctx_for(m, node, now=0, ghost=None):
    peers = WORKERS if node == REGISTRY else (REGISTRY,)
    return FakeContext(node=node, peers=peers, params=m.p, variant=m.v,
                       ghost=ghost if ghost is not None else HeartbeatGhost(), now=now)


def started_registry(m, now=0):
    st, ctx = RegistryState(), ctx_for(m, REGISTRY, now)
    m.on_start(st, ctx)
    ctx.clear()
    ctx.timers.clear()
    return st, ctx


def sweep_at(m, st, ctx, now):
    ctx.now = now
    m.on_timer(st, SWEEP, ctx)


# -- the transition table ------------------------------------------------------------------
@pytest.mark.parametrize("health,new", [
    (Health.UP, Health.SUSPECT), (Health.UP, Health.DOWN), (Health.SUSPECT, Health.UP),
    (Health.SUSPECT, Health.DOWN), (Health.DOWN, Health.UP),
])
def test_the_detector_may_move(health, new):
    assert HEALTH.move(health, new) is new


def test_a_down_worker_cannot_become_merely_suspect():
    with pytest.raises(IllegalTransition):
        HEALTH.move(Health.DOWN, Health.SUSPECT)


# -- workers ---------------------------------------------------------------------------------
def test_a_push_worker_arms_its_pulse_within_one_interval():
    m = model()
    st, ctx = WorkerState(), ctx_for(m, "w1")
    m.on_start(st, ctx)
    assert 1 <= ctx.timers[PULSE] <= DEFAULTS["interval_ms"] * MS


def test_a_pull_worker_sends_nothing_of_its_own():
    m = model("pull")
    st, ctx = WorkerState(), ctx_for(m, "w1")
    m.on_start(st, ctx)
    assert ctx.timers == {} and ctx.sent == []


def test_the_pulse_timer_sends_a_heartbeat_and_rearms():
    m = model()
    st, ctx = WorkerState(seq=4), ctx_for(m, "w2", now=70 * MS)
    m.on_timer(st, PULSE, ctx)
    assert ctx.sent == [(REGISTRY, Heartbeat(5, 70 * MS))]
    assert ctx.timers == {PULSE: DEFAULTS["interval_ms"] * MS}
    assert st.pulses_sent == 1


def test_a_worker_answers_a_probe_with_the_same_round():
    m = model("pull")
    st, ctx = WorkerState(), ctx_for(m, "w3", now=9 * MS)
    m.on_message(st, HealthProbe(7), REGISTRY, ctx)
    assert ctx.sent == [(REGISTRY, HealthReply(7, 9 * MS))]
    assert st.probes_answered == 1


# -- the registry's queue --------------------------------------------------------------------
def test_the_registry_trusts_every_worker_at_start_and_arms_its_sweep():
    m = model()
    st, ctx = RegistryState(), ctx_for(m, REGISTRY, now=5 * MS)
    m.on_start(st, ctx)
    assert list(st.views) == list(WORKERS)
    assert all(v.health is Health.UP and v.last_heard == 5 * MS for v in st.views.values())
    assert ctx.timers == {SWEEP: DEFAULTS["interval_ms"] * MS}


def test_pull_mode_also_starts_a_probe_round():
    m = model("pull")
    st, ctx = RegistryState(), ctx_for(m, REGISTRY)
    m.on_start(st, ctx)
    assert ROUND in ctx.timers


def test_a_pulse_is_queued_and_served_after_the_service_time():
    m = model(service_ms=3)
    st, ctx = started_registry(m)
    m.on_message(st, Heartbeat(1, 0), "w1", ctx)
    m.on_message(st, Heartbeat(1, 0), "w2", ctx)
    assert [j.worker for j in st.queue] == ["w1", "w2"]
    assert ctx.timers == {SERVE: 3 * MS}  # armed once, for the head of the queue
    assert st.views["w1"].last_heard == 0  # not heard until served
    ctx.now = 3 * MS
    m.on_timer(st, SERVE, ctx)
    assert st.views["w1"].last_heard == 3 * MS and st.views["w1"].successes == 1
    assert [j.worker for j in st.queue] == ["w2"]
    assert ctx.timers == {SERVE: 3 * MS}
    assert ctx.samples["pulse_wait_ms"] == [3.0]
    assert st.queue_max == 2


def test_other_work_from_the_load_command_delays_the_pulses_behind_it():
    m = model()
    st, ctx = started_registry(m)
    m.on_command(st, {"type": "load", "jobs": 3, "job_ms": 10}, ctx)
    m.on_message(st, Heartbeat(1, 0), "w1", ctx)
    assert [j.kind for j in st.queue] == [JobKind.WORK] * 3 + [JobKind.PULSE]
    for t in (10, 20, 30):
        ctx.now = t * MS
        m.on_timer(st, SERVE, ctx)
    assert st.views["w1"].successes == 0
    ctx.now = 32 * MS
    m.on_timer(st, SERVE, ctx)
    assert st.views["w1"].last_heard == 32 * MS
    assert ctx.samples["pulse_wait_ms"] == [32.0]


def test_a_full_queue_drops_the_job():
    m = model(queue_limit=1)
    st, ctx = started_registry(m)
    m.on_message(st, Heartbeat(1, 0), "w1", ctx)
    m.on_message(st, Heartbeat(1, 0), "w2", ctx)
    assert len(st.queue) == 1 and st.dropped_jobs == 1
    assert ctx.counters["registry_jobs_dropped"] == 1


def test_the_time_weighted_queue_length_accrues_between_changes():
    m = model(service_ms=10)
    st, ctx = started_registry(m)
    m.on_message(st, Heartbeat(1, 0), "w1", ctx)
    m.on_message(st, Heartbeat(1, 0), "w2", ctx)
    ctx.now = 10 * MS
    m.on_timer(st, SERVE, ctx)
    assert st.queue_area == 2 * 10 * MS


# -- the detector ------------------------------------------------------------------------------
def test_silence_beyond_the_timeout_is_a_miss_and_makes_the_worker_suspect():
    m = model()
    st, ctx = started_registry(m)
    sweep_at(m, st, ctx, 300 * MS)  # exactly the timeout: not yet a miss
    assert st.views["w1"].misses == 0
    sweep_at(m, st, ctx, 301 * MS)
    view = st.views["w1"]
    assert view.misses == 1 and view.health is Health.SUSPECT
    assert ctx.counters["suspicions"] == 3
    assert ctx.timers[SWEEP] == DEFAULTS["interval_ms"] * MS


def test_k_consecutive_misses_mark_a_worker_down():
    m = model(k=3)
    st, ctx = started_registry(m)
    for t in (301, 401):
        sweep_at(m, st, ctx, t * MS)
    assert st.views["w1"].health is Health.SUSPECT
    sweep_at(m, st, ctx, 501 * MS)
    assert st.views["w1"].health is Health.DOWN
    assert ctx.counters["marked_down"] == 3
    assert StatusPublished("w1", Health.DOWN, Health.SUSPECT) in ctx.facts
    assert any("marks w1 DOWN after 3" in text for text, _ in ctx.notes)


def test_one_success_clears_a_suspicion():
    m = model()
    st, ctx = started_registry(m)
    sweep_at(m, st, ctx, 301 * MS)
    st.queue.append(Job(JobKind.PULSE, "w1", 0, 2 * MS, 301 * MS))
    ctx.now = 303 * MS
    m.on_timer(st, SERVE, ctx)
    assert st.views["w1"].health is Health.UP and st.views["w1"].misses == 0


def test_a_down_worker_needs_m_consecutive_successes_to_come_back():
    m = model(m=3)
    st, ctx = started_registry(m)
    st.views["w1"] = WorkerView(health=Health.DOWN, misses=5)
    for i in range(1, 4):
        st.queue.append(Job(JobKind.PULSE, "w1", 0, 2 * MS, 0))
        ctx.now = i * 2 * MS
        m.on_timer(st, SERVE, ctx)
        assert st.views["w1"].health is (Health.UP if i == 3 else Health.DOWN)
    assert ctx.counters["flaps"] == 1


def test_without_hysteresis_one_miss_marks_down_and_one_success_marks_up():
    m = model(no_hysteresis=True, k=3, m=3)
    st, ctx = started_registry(m)
    sweep_at(m, st, ctx, 301 * MS)
    assert st.views["w1"].health is Health.DOWN
    st.queue.append(Job(JobKind.PULSE, "w1", 0, 2 * MS, 301 * MS))
    ctx.now = 303 * MS
    m.on_timer(st, SERVE, ctx)
    assert st.views["w1"].health is Health.UP
    assert ctx.counters["flaps"] == 1


def test_the_registry_judges_silence_by_its_own_clock():
    m = model()
    st, ctx = started_registry(m)
    st.queue.append(Job(JobKind.PULSE, "w1", 0, 2 * MS, 0, sent_at=-900 * MS))
    ctx.now = 2 * MS
    m.on_timer(st, SERVE, ctx)
    assert st.views["w1"].last_heard == 2 * MS and ctx.facts == [WorkerHeard("w1")]


def test_with_sender_clock_a_pulse_stamped_too_long_ago_is_discarded():
    m = model(sender_clock=True)
    st, ctx = started_registry(m)
    st.queue.append(Job(JobKind.PULSE, "w1", 0, 2 * MS, 0, sent_at=-900 * MS))
    st.queue.append(Job(JobKind.PULSE, "w2", 0, 2 * MS, 0, sent_at=3 * MS))
    for t in (2, 4):
        ctx.now = t * MS
        m.on_timer(st, SERVE, ctx)
    assert st.views["w1"].successes == 0 and ctx.counters["stale_pulses"] == 1
    assert WorkerHeard("w1") in ctx.facts  # heard, though the detector threw it away
    assert st.views["w2"].last_heard == 3 * MS  # the worker's stamp, not the serving time


def test_phi_is_low_for_an_irregular_worker_and_high_for_a_regular_one():
    m = model(detector="phi")
    regular = WorkerView(last_heard=0, intervals=[100 * MS] * 16)
    irregular = WorkerView(last_heard=0, intervals=[100 * MS] * 12 + [450 * MS] * 4)
    def suspicion(view, now):
        return phi(view, now, DEFAULTS["interval_ms"] * MS, DEFAULTS["phi_min_std_ms"] * MS)
    assert suspicion(regular, 350 * MS) > DEFAULTS["phi_threshold"]
    assert suspicion(irregular, 350 * MS) < DEFAULTS["phi_threshold"]
    assert suspicion(regular, 50 * MS) < 1


def test_the_phi_sweep_counts_a_miss_only_above_the_threshold():
    m = model(detector="phi")
    st, ctx = started_registry(m)
    for v in st.views.values():
        v.intervals = [100 * MS] * 16
    sweep_at(m, st, ctx, 150 * MS)
    assert st.views["w1"].misses == 0
    sweep_at(m, st, ctx, 400 * MS)
    assert st.views["w1"].misses == 1 and st.views["w1"].phi > DEFAULTS["phi_threshold"]


# -- pull rounds --------------------------------------------------------------------------------
def test_a_probe_round_queues_one_probe_per_worker_and_sends_each_when_served():
    m = model("pull", service_ms=2)
    st, ctx = started_registry(m)
    m.on_timer(st, ROUND, ctx)
    assert st.round == 1 and st.outstanding == list(WORKERS)
    assert [(j.kind, j.worker) for j in st.queue] == [(JobKind.PROBE, w) for w in WORKERS]
    for i in range(3):
        ctx.now = (i + 1) * 2 * MS
        m.on_timer(st, SERVE, ctx)
    assert ctx.sent == [(w, HealthProbe(1)) for w in WORKERS]
    assert ctx.timers[ROUND_DEADLINE] == DEFAULTS["probe_timeout_ms"] * MS
    assert ctx.counters["probes_sent"] == 3


def test_a_round_ends_when_the_last_reply_is_served():
    m = model("pull", service_ms=2)
    st, ctx = started_registry(m)
    m.on_timer(st, ROUND, ctx)
    st.queue.clear()
    st.probes_left = 0
    for i, w in enumerate(WORKERS):
        m.on_message(st, HealthReply(1, 0), w, ctx)
    for i in range(3):
        ctx.now = 40 * MS + i * 2 * MS
        m.on_timer(st, SERVE, ctx)
    assert st.outstanding == []
    assert ctx.samples["probe_round_ms"] == [44.0]
    assert ctx.timers[ROUND] == (100 - 44) * MS
    assert all(st.views[w].successes == 1 for w in WORKERS)


def test_a_reply_to_an_old_round_is_ignored():
    m = model("pull")
    st, ctx = started_registry(m)
    st.round, st.outstanding = 2, ["w1"]
    m.on_message(st, HealthReply(1, 0), "w1", ctx)
    ctx.now = 2 * MS
    m.on_timer(st, SERVE, ctx)
    assert st.views["w1"].successes == 0
    assert ctx.counters["late_replies"] == 1


def test_the_round_deadline_ends_a_round_with_replies_missing():
    m = model("pull")
    st, ctx = started_registry(m)
    st.round, st.round_started, st.outstanding = 3, 0, ["w2"]
    ctx.now = 120 * MS
    m.on_timer(st, ROUND_DEADLINE, ctx)
    assert st.outstanding == []
    assert ctx.timers[ROUND] == 1  # overran the interval: the next round starts at once
    assert any("without replies from w2" in text for text, _ in ctx.notes)


# -- presets ----------------------------------------------------------------------------------
def run_preset(name):
    sim, report = run(presets()[name])
    assert report["matches_expected"], report["mismatches"]
    return sim, report["metrics"]


def test_push_overload_kills_live_workers_while_their_pulses_wait():
    sim, m = run_preset("heartbeat-push-overload")
    assert m["false_suspicions"] == 5 and m["late_detections"] == 0
    assert m["pulse_wait_ms_max"] > DEFAULTS["timeout_ms"]
    assert m["workers_down"] == 0  # all back up once the queue drained


def test_probe_rounds_grow_with_the_cluster_until_the_registry_is_the_bottleneck():
    _, small = run_preset("heartbeat-pull-5")
    _, large = run_preset("heartbeat-pull-50")
    assert large["probe_round_ms_mean"] > 3 * small["probe_round_ms_mean"]
    capacity = 1000 / (2 * DEFAULTS["service_ms"])  # probes per second the registry can do
    assert large["probe_load"] <= capacity * 1.02 < 50 * 1000 / DEFAULTS["interval_ms"]
    assert small["false_suspicions"] == 0 < large["false_suspicions"]
    assert large["registry_queue_avg"] > 20 * small["registry_queue_avg"]


def test_crashed_paused_and_cut_off_workers_look_the_same_to_the_detector():
    sim, m = run_preset("heartbeat-three-failures")
    downs = {}
    for t, kind, node, _cause, data in sim.trace:
        if kind == "note" and node == REGISTRY and "DOWN" in data[0]:
            downs[data[1]["worker"]] = (t, data[1]["misses"], data[1]["silent_ms"])
    assert sorted(downs) == ["w1", "w2", "w3"]
    times = [d[0] for d in downs.values()]
    silences = [d[2] for d in downs.values()]
    assert {d[1] for d in downs.values()} == {DEFAULTS["k"]}
    assert max(times) - min(times) < DEFAULTS["interval_ms"] * MS
    assert max(silences) - min(silences) < DEFAULTS["interval_ms"]
    rows = {r["worker"]: r for r in sim.model.panel(sim)["views"]}
    seen = {w: (rows[w]["health"], rows[w]["misses"], rows[w]["successes"]) for w in downs}
    assert len(set(seen.values())) == 1  # one view for three different truths
    assert sorted(rows[w]["truth"] for w in downs) == ["crashed", "cut", "paused"]


def test_hysteresis_damps_flapping_at_the_cost_of_slower_detection():
    _, flapping = run_preset("heartbeat-gc-flapping")
    _, damped = run_preset("heartbeat-gc-hysteresis")
    _, phi = run_preset("heartbeat-phi-accrual")
    assert flapping["flaps"] >= 8 and damped["flaps"] == 0 and phi["flaps"] <= 1
    assert damped["detection_time_ms_max"] > flapping["detection_time_ms_max"]
    assert phi["detection_time_ms_max"] < damped["detection_time_ms_max"]


def test_trusting_the_workers_clocks_kills_a_slow_one_and_hides_a_crash():
    sim, m = run_preset("heartbeat-sender-clock")
    assert [v.detail.split(" was")[0] for v in sim.violations] == ["w1"]
    scenario = dict(presets()["heartbeat-sender-clock"])
    scenario["variant"] = {**scenario["variant"], "sender_clock": False}
    del scenario["expected"]
    _, report = run(scenario)
    assert report["violations"] == []
    assert report["metrics"]["false_suspicions"] == 0
    assert report["metrics"]["detection_time_ms_max"] < m["detection_time_ms_max"] - 1500


def test_the_no_flapping_invariant_names_the_worker_and_the_evidence():
    sim, _ = run_preset("heartbeat-gc-flapping")
    details = [v.detail for v in sim.violations]
    assert details[0] == ("w1 was marked up again (after down #1) having been heard from 1 "
                          "time(s) since; the hysteresis requires m = 3")
    assert {v.invariant for v in sim.violations} == {"no_flapping"}
    revivals = [d for d in details if d.startswith("w1 was marked up again")]
    redowns = [d for d in details if d.startswith("w1 was marked down")]
    assert len(revivals) >= 8 and len(redowns) >= 7  # one of each per stall
    assert all("k = 3 sweeps need 500 ms of silence" in d for d in redowns)


def scenario_of(preset, **changes):
    scenario = {**presets()[preset], **changes}
    scenario.pop("expected")
    return scenario


def test_a_detector_without_hysteresis_does_not_flap_on_a_single_crash():
    """no_flapping is judged from the published history of live workers: a crashed worker
    marked down at its first miss is a fast detection, not a flap."""
    scenario = scenario_of("heartbeat-gc-flapping",
                           commands=[{"at_ms": 1000, "type": "crash", "node": "w2"}])
    for seed in range(1, 12):
        _, report = run({**scenario, "seed": seed})
        assert report["violations"] == [] and report["metrics"]["marked_down"] == 1, seed


def test_a_false_death_while_pulses_are_heard_fires_on_every_seed():
    """The one-interval threshold of old missed seed 10: w1 was heard 100-300 ms before it
    was marked down. Judged against the timeout it fires on every seed."""
    for seed in range(1, 12):
        sim, _ = run({**presets()["heartbeat-sender-clock"], "seed": seed})
        assert [v.invariant for v in sim.violations] == ["down_means_silent"], seed


def test_a_stalled_worker_marked_down_early_is_not_a_false_suspicion():
    """Without hysteresis w1 is marked down at its first miss while paused: not alive, so
    down_means_silent does not judge it; only its revival breaks the hysteresis."""
    sim, _ = run_preset("heartbeat-gc-flapping")
    assert "down_means_silent" not in {v.invariant for v in sim.violations}


def test_the_three_failures_are_detected_within_one_sweep_of_each_other():
    _, m = run_preset("heartbeat-three-failures")
    times = [m[f"detection_ms_{kind}"] for kind in ("crashed", "paused", "cut")]
    assert all(t >= DEFAULTS["timeout_ms"] for t in times)
    assert max(times) - min(times) <= DEFAULTS["interval_ms"]


def test_every_heartbeat_preset_names_its_claims_and_narrates():
    names = [n for n in presets() if n.startswith("heartbeat-")]
    assert len(names) >= 6
    claims = set()
    for name in names:
        scenario = presets()[name]
        claims.update(scenario["claims"])
        assert scenario["narrative"] and scenario["description"]
    assert {"C17", "C18", "C19", "C20"} <= claims

