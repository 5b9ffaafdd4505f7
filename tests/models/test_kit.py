"""Adding a model through the kit: a toy (``kit_toy.py``) joins from outside the package
through ``PLAYGROUND_EXTRA_MODELS`` alone, and runs through the command line and the web
layer like any model of the playground."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from playground.models import MODELS, ModelImportError, import_models
from tests.web.conftest import app, connect, wait_for  # noqa: F401  (the web fixtures)

ROOT = Path(__file__).resolve().parents[2]
MODULE = "tests.models.kit_toy"
SCENARIO = {"model": "kit_ping_pong", "seed": 3, "nodes": 4, "duration_ms": 2000,
            "commands": [{"at_ms": 500, "type": "burst", "node": "p2", "count": 5},
                         {"at_ms": 800, "type": "crash", "node": "ponger"},
                         {"at_ms": 900, "type": "restart", "node": "ponger"}],
            "expected": {"violations": [], "metrics": {"pongs": {"ge": 40}}}}
BROKEN = {**SCENARIO, "variant": {"pong_ahead": True},
          "expected": {"violations": ["pong_answers_ping"]}}


def cli(*args, extra: str | None = MODULE) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PLAYGROUND_EXTRA_MODELS"}
    if extra is not None:
        env["PLAYGROUND_EXTRA_MODELS"] = extra
    return subprocess.run([sys.executable, "-m", "playground", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def toy(monkeypatch):
    """The toy registered for one test, as the environment variable registers it."""
    monkeypatch.setenv("PLAYGROUND_EXTRA_MODELS", MODULE)
    monkeypatch.setattr(MODELS, "_classes", dict(MODELS._classes))  # forgotten afterwards
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    assert import_models() == ["kit_ping_pong"]
    return MODELS["kit_ping_pong"]


def test_the_toy_is_no_model_of_the_playground_until_named(tmp_path):
    path = tmp_path / "toy.json"
    path.write_text(json.dumps(SCENARIO))
    refused = cli("run", str(path), extra=None)
    assert refused.returncode == 2 and "kit_ping_pong" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_the_command_line_runs_the_toy_and_judges_it(tmp_path):
    for scenario in (SCENARIO, BROKEN):
        path = tmp_path / "toy.json"
        path.write_text(json.dumps(scenario))
        done = cli("run", str(path), "--json")
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout)
        assert out["matches_expected"], out["mismatches"]
    assert "which answers no ping of its" in out["violations"][0]["detail"]


def test_a_module_that_cannot_be_imported_is_one_line_of_error():
    done = cli("scenarios", extra="tests.models.no_such_module")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "cannot import 'tests.models.no_such_module'" in done.stderr
    with pytest.raises(ModelImportError):
        import_models("tests.models.no_such_module")


def test_the_web_layer_serves_the_toy(toy, connect):  # noqa: F811
    client = connect()
    made = client.emit("create", {"scenario": BROKEN}, callback=True)
    assert made["ok"], made
    ids = {"session": made["session"], "token": made["token"]}
    joined = client.emit("join", ids, callback=True)
    assert joined["models"]["kit_ping_pong"]["invariants"]
    acted = client.emit("act", {**ids, "action": {"type": "burst", "node": "p1", "count": 3}},
                        callback=True)
    assert acted["ok"], acted
    assert client.emit("control", {**ids, "op": "speed", "value": "max"}, callback=True)["ok"]
    client.emit("control", {**ids, "op": "play"}, callback=True)
    got = wait_for(client, lambda f: f.get("violations"))
    fired = [v for f in got for v in f.get("violations") or ()]
    assert fired[0]["invariant"] == "pong_answers_ping"
    panels = [f["panel"] for f in got if f.get("panel")]
    assert panels and "answered" in panels[-1]
