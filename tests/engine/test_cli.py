"""The command line: run, scenarios, share; bad input exits 2 with one clear line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from playground.__main__ import main
from playground.scenarios import share
from playground.scenarios.schema import validate
from tests.engine.helpers import share_of

ROOT = Path(__file__).resolve().parents[2]


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def toy_file(tmp_path):
    path = tmp_path / "toy.json"
    path.write_text(json.dumps({"model": "toy", "seed": 3, "duration_ms": 2000,
                                "expected": {"violations": [],
                                             "metrics": {"pongs": {"ge": 10}}},
                                "claims": ["C05"]}))
    return path


def test_run_json_has_the_documented_fields(capsys, toy_file):
    code, out, _ = cli(capsys, "run", str(toy_file), "--json")
    assert code == 0
    report = json.loads(out)
    for key in ("model", "seed", "sim_time_ms", "events", "messages", "violations", "metrics",
                "trace_sha256", "claims", "expected", "matches_expected"):
        assert key in report
    assert set(report["messages"]) == {"sent", "delivered", "dropped"}
    assert report["sim_time_ms"] == 2000 and report["matches_expected"] is True
    assert len(report["trace_sha256"]) == 64


def test_until_overrides_the_duration(capsys, toy_file):
    _, out, _ = cli(capsys, "run", str(toy_file), "--until", "0.5", "--json")
    assert json.loads(out)["sim_time_ms"] == 500


def test_readable_summary(capsys, toy_file):
    code, out, _ = cli(capsys, "run", str(toy_file))
    assert code == 0 and "no invariant violated" in out and "trace sha256" in out


def test_violations_are_listed_with_time_and_detail(capsys, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"model": "toy", "seed": 3, "duration_ms": 500,
                                "variant": {"extra_pong": True}}))
    _, out, _ = cli(capsys, "run", str(path), "--json")
    v = json.loads(out)["violations"][0]
    assert v["invariant"] == "pong_after_ping" and v["at_ms"] > 0 and "pongs" in v["detail"]


def test_share_prints_links_that_replay_the_same_run(capsys, toy_file):
    _, links, _ = cli(capsys, "share", str(toy_file))
    short, long = links.split()
    assert short.startswith("/s/") and len(short) == len("/s/") + 12
    assert long.startswith("/s/1.")
    _, a, _ = cli(capsys, "run", str(toy_file), "--json")
    for link in (short, long):
        _, b, _ = cli(capsys, "run", link, "--json")
        assert json.loads(a)["trace_sha256"] == json.loads(b)["trace_sha256"]


def test_scenarios_lists_presets(capsys):
    code, out, _ = cli(capsys, "scenarios", "--json")
    assert code == 0
    for row in json.loads(out):
        assert set(row) == {"name", "model", "title", "claims", "expected"}


@pytest.mark.parametrize("args, words", [
    (["run", "no-such-preset"], "no preset named 'no-such-preset'"),
    (["run", "missing.json"], "no scenario file 'missing.json'"),
    (["run", "1.garbage!"], "share link"),
    (["run", "/s/1.AAAAAAAAAAAAAAAAAAAAAAAA"], "damaged"),
    (["run"], "the following arguments are required"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_exits_2_with_one_clear_line(capsys, args, words):
    try:
        code = main(args)
    except SystemExit as stop:  # argparse's own refusals
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2
    assert words in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_malformed_file_and_out_of_limit_values(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = cli(capsys, "run", str(bad))
    assert code == 2 and "is not valid JSON" in err
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"model": "toy", "seed": 1, "nodes": 1000}))
    code, _, err = cli(capsys, "run", str(wrong))
    assert code == 2 and "nodes" in err
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"model": "toy", "seed": 1}))
    code, _, err = cli(capsys, "run", str(good), "--until", "99999999")
    assert code == 2 and "--until" in err


def test_subprocess_exit_code_and_stderr_for_a_bad_share_link():
    link = share.link_path(validate({"model": "toy", "seed": 1}))
    out = subprocess.run([sys.executable, "-m", "playground", "run", link[:-4]], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.startswith("playground: ") and "Traceback" not in out.stderr


NESTED = "[" * 40 + "]" * 40


@pytest.mark.parametrize("text, words", [
    ("[" * 10_000 + "]" * 10_000, "nests more than 32 levels deep"),
    ('{"model": "toy", "seed": 1, "params": ' + NESTED + "}", "nested more than 32 levels"),
    ('{"model": "toy", "seed": 1, "title": "\\ud800"}', "title: the string holds a lone "
                                                       "surrogate"),
    ('{"model": "toy", "seed": 1, "\\udc80": 1}', "a key is not a string of text"),
    ('{"model": "toy", "seed": 1, "network": {"loss": Infinity}}', "network.loss: inf is "
                                                                   "not a finite number"),
    ('{"model": "toy", "seed": 1, "title": "caf\xe9 \u2603"}', None),  # text is welcome
], ids=["deeper-than-the-parser", "deep", "surrogate", "surrogate-key", "infinity", "text"])
def test_files_and_links_that_parsers_accept_but_no_scenario_holds(capsys, tmp_path, text,
                                                                   words):
    path = tmp_path / "odd.json"
    path.write_text(text, encoding="utf-8")
    for source in (str(path), share_of(text.encode("utf-8", "surrogatepass")),
                   "https://example.org/s/" + share_of(text.encode())):
        code, _, err = cli(capsys, "run", source)
        if words is None:
            assert code == 0, err
            continue
        assert code == 2 and words in err, (source[:40], err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_subprocess_deep_file_is_one_line_not_a_traceback(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("{\"a\":" * 50_000 + "1" + "}" * 50_000)
    for command in ("run", "share", "compare", "search"):
        out = subprocess.run([sys.executable, "-m", "playground", command, str(path)],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, (command, out.stderr[-500:])
        assert out.stderr == f"playground: '{path}' nests more than 32 levels deep\n"
