#!/usr/bin/env python3
"""Take the README's screenshot of the playground: docs/screenshot.png.

Starts ``python app.py`` on a free local port, opens a share link in Debian's Chromium
(Playwright), runs a five-server Raft cluster in which the leader crashes and one link is
cut one way, rewinds to the moment the new leader takes over, and saves the page.

    python scripts/screenshot.py [--out docs/screenshot.png]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playground.scenarios import share  # noqa: E402
from tests.browser.conftest import (ARGS, CHROMIUM, free_port, start_server,  # noqa: E402
                                    stop_server)

SCENARIO = {
    "model": "raft", "seed": 3, "nodes": 5, "duration_ms": 4000,
    "title": "Raft: the leader crashes, a new one is elected",
    "description": "n1 leads term 1 and crashes at 1.2 s; the link n4 → n5 is cut one way. "
                   "The first follower whose election timeout fires wins term 2.",
    "claims": ["C01", "C05"],
    "commands": [{"at_ms": 1200, "type": "crash", "node": "n1"},
                 {"at_ms": 1200, "type": "cut", "from": "n4", "to": "n5", "oneway": True}],
    "narrative": [{"at_ms": 1200, "text": "The leader n1 crashes: its followers stop hearing "
                                          "heartbeats and their election timers run down."}],
}
AT_MS = 1480  # just after the new leader's first heartbeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    out = Path(parser.parse_args().out)
    from playwright.sync_api import sync_playwright

    port = free_port()
    proc = start_server(port)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900},
                                    device_scale_factor=1)
            page.goto(f"http://127.0.0.1:{port}{share.link_path(SCENARIO)}")
            page.wait_for_selector("[data-node-id]")
            page.select_option("#speed", "max")
            page.get_by_role("button", name="Play", exact=True).click()
            page.wait_for_function(f"() => window.playground.store.frontier_ms >= {AT_MS + 200}")
            pause = page.get_by_role("button", name="Pause", exact=True)
            if pause.is_enabled():
                pause.click()
            page.eval_on_selector("#scrub", "(el, t) => { el.value = t; "
                                  "el.dispatchEvent(new Event('input')); }", AT_MS)
            page.wait_for_function(f"() => Math.abs(window.playground.store.t_ms - {AT_MS}) < 1")
            page.mouse.move(1, 1)
            time.sleep(1.0)  # let the panels catch up with the last frame
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            browser.close()
    finally:
        stop_server(proc)
    print(out)


if __name__ == "__main__":
    main()
