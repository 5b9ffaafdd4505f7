"""Framing in Chromium: only an embed page can be framed by another site.

That the page works under its Content-Security-Policy is shown by every browser test:
``open_page`` fails on any console error, which is how Chromium reports a refused inline
style or script, and ``test_every_model_renders_its_panel`` draws every model's panel."""

from __future__ import annotations

import json
import urllib.request

import pytest

pytestmark = pytest.mark.browser


def get_json(server: str, path: str):
    with urllib.request.urlopen(server + path, timeout=10) as r:
        return json.loads(r.read())


def test_only_an_embed_page_can_be_framed_by_another_site(open_page, server):
    """A page of another origin (a second server on this machine) frames the playground
    twice: the embed page loads, the controlling page is refused
    (``frame-ancestors 'none'``)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    name = get_json(server, "/api/presets")[0]["name"]
    path = get_json(server, f"/api/share?scenario={name}")["share_url"]
    body = (f'<!doctype html><iframe id="embed" src="{server}{path}?embed=1"></iframe>'
            f'<iframe id="full" src="{server}{path}"></iframe>').encode()

    class Framer(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    framer = ThreadingHTTPServer(("127.0.0.1", 0), Framer)
    threading.Thread(target=framer.serve_forever, daemon=True).start()
    try:
        origin = f"http://127.0.0.1:{framer.server_address[1]}"
        page = open_page("/api/presets")  # the fixture's checks, then leave for the framer
        page.context.unroute("**/*")
        page.goto(origin + "/")
        page.frame_locator("#embed").locator("[data-node-id]").first.wait_for()
        full = page.frame_locator("#full")
        page.wait_for_timeout(1000)
        assert full.locator("[data-node-id]").count() == 0
        # Chromium reports the refusal on the console; that error is the point here.
        refused = [e for e in page.watch.errors if "frame-ancestors" in e]
        assert refused, page.watch.errors
        page.watch.errors.clear()
    finally:
        framer.shutdown()
