"""Share strings: exact round trips; tampered, truncated or oversized input refused."""

import base64
import hashlib
import json
import zlib

import pytest

from playground.engine.errors import ScenarioError
from playground.scenarios import load, share
from playground.scenarios.schema import validate

SCENARIO = validate({"model": "toy", "seed": 42, "nodes": 4, "title": "Ping ✓",
                     "commands": [{"at_ms": 100, "type": "cut", "from": "n1", "to": "n2",
                                   "oneway": True}],
                     "narrative": [{"at_ms": 0, "text": "Watch the pings."}]})


def test_round_trip_is_exact():
    text = share.encode(SCENARIO)
    assert text.startswith("1.")
    assert share.decode(text) == SCENARIO


def test_link_forms_are_accepted():
    path = share.link_path(SCENARIO)
    assert path.startswith("/s/1.")
    assert share.decode(path) == SCENARIO
    assert share.decode("http://127.0.0.1:5000" + path + "?embed=1") == SCENARIO
    assert load("http://localhost:5000" + path) == SCENARIO


def test_encoding_is_url_safe_and_compact():
    text = share.encode(SCENARIO)
    assert all(c.isalnum() or c in "-_." for c in text)
    assert len(text) < len(json.dumps(SCENARIO))


def test_one_changed_character_is_refused():
    text = share.encode(SCENARIO)
    i = len(text) // 2
    tampered = text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1:]
    with pytest.raises(ScenarioError, match="altered|damaged"):
        share.decode(tampered)


def test_truncated_link_is_refused():
    with pytest.raises(ScenarioError, match="altered|damaged|short"):
        share.decode(share.encode(SCENARIO)[:-6])


def test_a_valid_checksum_over_an_invalid_scenario_is_still_validated():
    body = json.dumps({"model": "toy", "seed": 1, "nodes": 999}).encode()
    packed = hashlib.sha256(body).digest()[:6] + zlib.compress(body)
    text = "1." + base64.urlsafe_b64encode(packed).decode().rstrip("=")
    with pytest.raises(ScenarioError, match="nodes"):
        share.decode(text)


def test_decompression_bomb_is_refused():
    body = b"[" + b"0," * 400_000 + b"0]"
    packed = hashlib.sha256(body).digest()[:6] + zlib.compress(body, 9)
    text = "1." + base64.urlsafe_b64encode(packed).decode().rstrip("=")
    with pytest.raises(ScenarioError, match="larger than"):
        share.decode(text)


@pytest.mark.parametrize("text, words", [
    ("2.abc", "not a share link"),
    ("1.ab$cd", "characters"),
    ("1." + "A" * 20_000, "limit"),
    ("1.AAAA", "too short"),
    ("1.AAAAAAAAAAAAAAAAAAAAAAAA", "damaged"),
])
def test_malformed_strings_get_specific_messages(text, words):
    with pytest.raises(ScenarioError, match=words):
        share.decode(text)
