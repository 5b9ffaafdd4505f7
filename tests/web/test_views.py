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


def test_api_trace_of_a_session_streams_every_record_to_its_owner(http, connect, app,
                                                                   monkeypatch):
    from playground.web import views

    monkeypatch.setattr(views, "EXPORT_CHUNK", 7)  # many chunks
    client = connect()
    made = client.emit("create", {"scenario": toy_scenario()}, callback=True)
    ids = {"session": made["session"], "token": made["token"]}
    client.emit("control", {**ids, "op": "step", "value": 300}, callback=True)
    url = f"/api/sessions/{made['session']}/trace"
    answer = http.get(f"{url}.json?token={made['token']}")
    assert answer.is_streamed
    records = answer.json
    session = app.extensions["playground"].get(made["session"])
    assert len(records) == len(session.sim.trace) > 3 * 7
    assert [r["i"] for r in records] == list(range(len(records)))
    assert any(r["kind"] == "send" and r["body"] for r in records)
    lines = http.get(f"{url}.ndjson", headers={"X-Session-Token": made["token"]})
    assert lines.mimetype == "application/x-ndjson"
    assert [json.loads(line) for line in lines.text.splitlines()] == records
    assert http.get(f"{url}.json").status_code == 401
    wrong = http.get(f"{url}.json?token=nope")
    assert wrong.status_code == 403 and "wrong token" in wrong.json["error"]
    from playground.web.limits import Limiter

    app.config["TRACE_EXPORTS_PER_MINUTE"] = 1  # per address: the bucket refills slowly
    app.extensions["playground"].limits = Limiter()
    assert http.get(f"{url}.json?token={made['token']}").status_code == 200
    limited = http.get(f"{url}.json?token={made['token']}")
    assert limited.status_code == 429 and "too many trace exports" in limited.json["error"]
    missing = http.get("/api/sessions/AAAAAAAAAAAAAAAAAAAAAA/trace.json")
    assert missing.status_code == 404 and "no session" in missing.json["error"]
    assert http.get("/api/nothing").json["ok"] is False
