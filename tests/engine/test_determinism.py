"""Same seed and commands, same trace: across processes and hash seeds, and via share links."""

import json
import os
import subprocess
import sys
from pathlib import Path

from playground.scenarios import presets, share
from playground.scenarios.schema import validate

ROOT = Path(__file__).resolve().parents[2]
TOY_RUN = """
import json, sys
import tests.engine.toy
from playground.scenarios import run
from playground.scenarios.schema import validate
print(run(validate(json.loads(sys.argv[1])))[1]["trace_sha256"])
"""


def run_in_process(args, hashseed):
    env = {**os.environ, "PYTHONHASHSEED": str(hashseed)}
    out = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_toy_trace_is_identical_across_hash_seeds():
    scenario = validate({"model": "toy", "seed": 5, "nodes": 5, "duration_ms": 3000,
                         "network": {"loss": 0.1, "duplicate": 0.1},
                         "commands": [{"at_ms": 500, "type": "partition", "groups": [["n1"]]},
                                      {"at_ms": 900, "type": "drift", "node": "n2", "rate": 1.5},
                                      {"at_ms": 1500, "type": "heal"}]})
    arg = json.dumps(scenario)
    hashes = {run_in_process(["-c", TOY_RUN, arg], seed) for seed in (0, 1, 12345)}
    assert len(hashes) == 1


def test_a_different_seed_gives_a_different_trace():
    a = validate({"model": "toy", "seed": 1, "network": {"latency_ms": [5, 50]}})
    b = dict(a, seed=2)
    ha = run_in_process(["-c", TOY_RUN, json.dumps(a)], 0)
    hb = run_in_process(["-c", TOY_RUN, json.dumps(b)], 0)
    assert ha != hb


PRESET_RUNS = """
import json, sys
from playground.scenarios import presets, run, share
out = {}
for name, scenario in sorted(presets().items()):
    if sys.argv[1] == "link":
        scenario = share.decode(share.link_path(scenario))
    until = min(scenario["duration_ms"], 20_000)
    out[name] = run(scenario, until)[1]["trace_sha256"]
print(json.dumps(out))
"""


def test_every_preset_trace_is_identical_across_processes_and_through_its_share_link():
    """One process per hash seed runs every preset (the third through its share link)."""
    first = json.loads(run_in_process(["-c", PRESET_RUNS, "file"], 1))
    second = json.loads(run_in_process(["-c", PRESET_RUNS, "file"], 999))
    third = json.loads(run_in_process(["-c", PRESET_RUNS, "link"], 42))
    assert sorted(first) == sorted(presets())
    assert first == second, "hash seed changed a trace"
    assert first == third, [n for n in first if first[n] != third[n]]
