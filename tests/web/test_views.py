"""HTTP routes: the page and its boot data, share and watch links, the JSON API."""

from __future__ import annotations

import json
import re

from playground.scenarios import presets, share
from tests.web.conftest import toy_scenario


def boot(response) -> dict:
    assert response.status_code == 200
    return json.loads(re.search(rb"const BOOT = (.*);</script>", response.data).group(1))


def test_pages_render_the_template_with_boot_data(http):
    assert boot(http.get("/")) == {"share": None, "watch": None, "embed": False,
                                   "lecture": False}
    link = share.link_path(toy_scenario())
    assert boot(http.get(link + "?embed=1")) == {"share": link[3:], "watch": None,
                                                 "embed": True, "lecture": False}
    assert boot(http.get("/w/AbCdEfGhIjKlMnOpQrStUv?lecture=1")) == {
        "share": None, "watch": "AbCdEfGhIjKlMnOpQrStUv", "embed": False, "lecture": True}


def test_api_models_describes_every_model(http):
    models = http.get("/api/models").json
    toy = models["toy"]
    assert toy["title"] and toy["invariants"] == [
        {"name": "pong_after_ping",
         "description": "A node never gets more pongs than it sent pings."}]
    assert toy["variants"][0] == {"name": "extra_pong", "default": False,
                                  "description": "Answer every ping twice.",
                                  "choices": [False, True], "broken": [True]}
    assert toy["params"][0]["name"] == "interval_ms" and "poke" in toy["commands"]
    assert "crash" in toy["fault_types"] and "skew" in toy["fault_types"]


def test_api_presets_and_share(http):
    listed = http.get("/api/presets").json
    assert [p["name"] for p in listed] == list(presets())
    for row in listed:
        assert set(row) == {"name", "model", "title", "description", "claims", "expected"}
    if listed:
        name = listed[0]["name"]
        answer = http.get(f"/api/share?scenario={name}").json
        assert answer["ok"] and share.decode(answer["share"]) == presets()[name]
        assert answer["share_url"] == "/s/" + answer["share"]
    missing = http.get("/api/share?scenario=nope")
    assert missing.status_code == 404 and missing.json["ok"] is False


def test_api_trace_of_a_session(http, connect, app):
    client = connect()
    made = client.emit("create", {"scenario": toy_scenario()}, callback=True)
    ids = {"session": made["session"], "token": made["token"]}
    client.emit("control", {**ids, "op": "step", "value": 300}, callback=True)
    records = http.get(f"/api/sessions/{made['session']}/trace.json").json
    session = app.extensions["playground"].get(made["session"])
    assert len(records) == len(session.sim.trace)
    assert [r["i"] for r in records] == list(range(len(records)))
    assert any(r["kind"] == "send" and r["body"] for r in records)
    app.config["MAX_TRACE_EXPORT"] = 10
    tail = http.get(f"/api/sessions/{made['session']}/trace.json").json
    assert [r["i"] for r in tail] == list(range(len(records) - 10, len(records)))
    missing = http.get("/api/sessions/AAAAAAAAAAAAAAAAAAAAAA/trace.json")
    assert missing.status_code == 404 and "no session" in missing.json["error"]
    assert http.get("/api/nothing").json["ok"] is False
