"""Faults aimed at a role: resolved when they apply, recorded with the node they hit."""

from __future__ import annotations

import pytest

from playground.engine import commands as C
from playground.engine.errors import ScenarioError
from playground.models.lease.candidate import LeaseRole
from playground.scenarios import build, recorded, run
from playground.scenarios.schema import validate


def lease(commands, seed=1):
    return validate({"model": "lease", "seed": seed, "duration_ms": 4000,
                     "commands": commands})


def holders_crashed(sim):
    return [(r[2], r[4][0]) for r in sim.trace if r[1] == "command"]


@pytest.mark.parametrize("seed", range(6))
def test_a_crash_aimed_at_the_holder_hits_whoever_holds_the_lease_then(seed):
    sc = lease([{"at_ms": 1500, "type": "crash", "node": {"role": "holder"}}], seed)
    sim = build(sc)
    sim.run_until(1_500_000 - 1)
    leaders = [n for n in sim.node_ids[2:] if sim.nodes[n].state.role is LeaseRole.LEADER]
    sim.run_until(1_500_000)
    [(node, wire)] = holders_crashed(sim)
    assert [node] == leaders
    assert wire == {"type": "crash", "node": node, "roles": {"holder": node}}
    assert str(sim.nodes[node].status) == "crashed"


def test_with_nobody_in_the_role_the_fault_is_skipped_and_said_so():
    sim, _ = run(lease([{"at_ms": 0, "type": "pause", "node": {"role": "holder"}}]))
    [(node, wire)] = holders_crashed(sim)
    assert node is None and wire["roles"] == {"holder": None}
    assert any(r[1] == "note" and "no node is holder" in r[4][0] for r in sim.trace)
    assert all(str(sim.nodes[n].status) == "alive" for n in sim.node_ids)


def test_a_recorded_run_keeps_the_role_so_its_replay_aims_the_same_way():
    sc = lease([{"at_ms": 1500, "type": "crash", "node": {"role": "holder"}}])
    sim, _ = run(sc)
    again = recorded(sc, sim)
    assert again["commands"] == [{"at_ms": 1500.0, "type": "crash",
                                  "node": {"role": "holder"}}]
    assert holders_crashed(run(validate(again))[0]) == holders_crashed(sim)


def test_a_role_the_model_does_not_have_is_refused_by_name():
    with pytest.raises(ScenarioError, match="unknown role 'king'.*holder"):
        lease([{"at_ms": 1, "type": "crash", "node": {"role": "king"}}])


def test_only_faults_on_a_running_node_may_name_a_role():
    with pytest.raises(ScenarioError, match="commands\\[0\\].node"):
        lease([{"at_ms": 1, "type": "restart", "node": {"role": "holder"}}])
    assert C.roles_in(C.Crash(C.RoleRef("holder"))) == ["holder"]
    assert C.roles_in(C.Crash("n1")) == []


def test_a_cut_and_a_partition_may_aim_at_a_role_too():
    sc = lease([{"at_ms": 1500, "type": "cut", "from": {"role": "holder"}, "to": "lock"},
                {"at_ms": 1600, "type": "partition", "groups": [[{"role": "holder"}]]}])
    assert [c["from"] for c in sc["commands"][:1]] == [{"role": "holder"}]
    sim = build(sc)
    sim.run_until(1_499_999)
    holder = next(n for n in sim.node_ids[2:] if sim.nodes[n].state.role is LeaseRole.LEADER)
    sim.run_until(1_600_000)
    assert sim.is_cut(holder, "lock") and not sim.is_cut("lock", holder) or \
        sim.is_cut(holder, "store")
    wires = [r[4][0] for r in sim.trace if r[1] == "command"]
    assert wires[0] == {"type": "cut", "from": holder, "to": "lock",
                        "roles": {"holder": holder}}
    assert wires[1]["groups"] == [[holder]] and sim.is_cut(holder, "store")
    assert C.to_json(C.parse(sc["commands"][1], sim.node_ids, {}, ("holder",))) == \
        {"type": "partition", "groups": [[{"role": "holder"}]]}
