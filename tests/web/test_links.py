"""Short links kept in the store, the 404 of an unknown one, and QR codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from playground import create_app
from playground.scenarios import links, presets, run, share
from playground.store import SqliteStore

ROOT = Path(__file__).resolve().parents[2]


def boot(response) -> dict:
    return json.loads(re.search(r"const BOOT = (.*);</script>", response.text).group(1))


def test_a_short_link_replays_exactly_what_the_long_link_replays(http):
    long = share.encode(presets()["raft-oneway-cut"])
    made = http.post("/api/links", json={"share": long}).get_json()
    assert made["ok"] and re.fullmatch(r"/s/[a-z2-7]{12}", made["url"])
    assert made["share_url"] == f"/s/{long}"
    page = http.get(made["url"])
    assert page.status_code == 200 and boot(page)["share"] == long
    assert run(share.decode(boot(page)["share"]))[1]["trace_sha256"] == \
        run(presets()["raft-oneway-cut"])[1]["trace_sha256"]


def test_the_same_run_always_gets_the_same_short_link(http):
    long = share.encode(presets()["lease-drift-margin"])
    first = http.post("/api/links", json={"share": long}).get_json()["url"]
    again = http.post("/api/links", json={"share": f"http://x/s/{long}"}).get_json()["url"]
    other = http.post("/api/links", json={"share": share.encode(
        {**presets()["lease-drift-margin"], "seed": 2})}).get_json()["url"]
    assert first == again != other and len(first) - len("/s/") <= 16


def test_an_unknown_short_link_answers_a_clear_404_page(http):
    page = http.get("/s/aaaaaaaaaaaa")
    assert page.status_code == 404
    assert "no scenario is stored under the short link aaaaaaaaaaaa" in page.text


@pytest.mark.parametrize("body", [None, {}, {"share": 3}, {"share": "1.abc"},
                                  {"share": "not a link"}])
def test_a_bad_share_gets_a_specific_error_and_stores_nothing(http, app, body):
    answer = http.post("/api/links", json=body)
    assert answer.status_code == 400 and answer.get_json()["ok"] is False
    assert answer.get_json()["error"]
    db = app.extensions["playground_store"]
    assert not Path(db.path).exists() or \
        db._db().execute("SELECT count(*) FROM kv").fetchone()[0] == 0


def test_short_links_are_rate_limited_per_address(tmp_path):
    (tmp_path / "play.html").write_text("x")
    app = create_app({"ASYNC": "threading", "TEMPLATE_FOLDER": str(tmp_path), "TESTING": True,
                      "DATA_DIR": str(tmp_path), "LINKS_PER_MINUTE": 3})
    http = app.test_client()
    long = share.encode(presets()["raft-election"])
    codes = [http.post("/api/links", json={"share": long}).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]


def test_the_embedded_store_keeps_links_across_a_restart(tmp_path):
    one = SqliteStore(tmp_path / "s.sqlite3")
    sid = links.save(one, presets()["raft-election"])
    again = SqliteStore(tmp_path / "s.sqlite3")  # a new process opens the same file
    assert links.resolve(again, sid) == presets()["raft-election"]
    mode = again._db().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_stored_value_that_is_not_a_share_string_is_refused_not_run(tmp_path):
    store = SqliteStore(tmp_path / "s.sqlite3")
    store.put(links.PREFIX + "bbbbbbbbbbbb", b"__import__('os').system('true')")
    with pytest.raises(links.ScenarioError, match="not a share link"):
        links.resolve(store, "bbbbbbbbbbbb")


def test_the_cli_share_prints_the_short_link_then_the_long_one_and_run_resolves_it(tmp_path):
    env = {"PLAYGROUND_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "playground", "share", "raft-election"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    short, long = out.stdout.split()
    assert re.fullmatch(r"/s/[a-z2-7]{12}", short) and long.startswith("/s/1.")
    ran = subprocess.run([sys.executable, "-m", "playground", "run", short, "--json"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert json.loads(ran.stdout)["trace_sha256"] == \
        run(presets()["raft-election"])[1]["trace_sha256"]
    bad = subprocess.run([sys.executable, "-m", "playground", "run", "/s/cccccccccccc"],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "no scenario is stored" in bad.stderr


def test_the_qr_code_is_svg_drawn_here_and_decodes_to_the_link(http):
    url = "http://127.0.0.1:5000/s/abcdefghijkl"
    answer = http.get("/qr.svg", query_string={"text": url})
    assert answer.status_code == 200 and answer.mimetype == "image/svg+xml"
    svg = answer.text
    assert svg.startswith("<svg") and "http" not in svg.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert decode_modules(svg) == qr_matrix(url)
    assert http.get("/qr.svg").status_code == 400
    assert http.get("/qr.svg", query_string={"text": "x" * 2001}).status_code == 400


def qr_matrix(text):
    import segno

    return [[bool(v) for v in row] for row in segno.make(text, error="m").matrix]


def decode_modules(svg: str) -> list[list[bool]]:
    """The dark modules of the SVG: its one stroked path draws each run of dark modules
    of a row as a horizontal line ('M x y', 'm dx dy', 'h n', in module units, the rows
    at y + 0.5 and the quiet zone of 4 modules included)."""
    size = int(re.search(r'viewBox="0 0 (\d+) ', svg).group(1)) // 8 - 2 * 4
    path = re.search(r'class="qrline"[^>]* d="([^"]+)"', svg).group(1)
    grid = [[False] * size for _ in range(size)]
    x = y = 0.0
    for cmd, args in re.findall(r"([MmHh])([-\d. ]+)", path):
        nums = [float(v) for v in args.split()]
        if cmd == "M":
            x, y = nums
        elif cmd == "m":
            x, y = x + nums[0], y + nums[1]
        else:
            end = nums[0] if cmd == "H" else x + nums[0]
            for col in range(int(x), int(end)):
                grid[int(y) - 4][col - 4] = True
            x = end
    return grid


@pytest.mark.parametrize("body", [b"[" * 100_000, b"{", b"null", b'{"share": 5}',
                                  '{"share": "\\ud800"}'.encode(), b"\xff\xfe",
                                  b'{"share": "' + b"x" * 200_000 + b'"}'])
def test_a_bad_links_body_is_a_clear_refusal(http, body):
    response = http.post("/api/links", data=body, content_type="application/json")
    assert response.status_code in (400, 413)
    assert response.get_json()["ok"] is False and response.get_json()["error"]
