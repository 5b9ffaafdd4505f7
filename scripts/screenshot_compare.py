#!/usr/bin/env python3
"""Take the README's pictures of the compare split view: docs/compare-<width>.png.

Starts ``python app.py`` (as ``scripts/screenshot.py`` does), opens the preset
``compare-raft-fencing`` and plays it, caption by caption, to the moment the zombie
leader's write is rejected on one side and accepted on the other, at 1280x720,
1920x1080 and 390x844 (and with ``--lecture``, in lecture mode).

    python scripts/screenshot_compare.py [--lecture] [--out docs]
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshot import (ARGS, CHROMIUM, ROOT, free_port, start_server,  # noqa: E402
                        stop_server)

PRESET = "compare-raft-fencing"
SIZES = [(1280, 720), (1920, 1080), (390, 844)]
STOP_MS = 1720  # the caption at which the two runs' storage answers differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--lecture", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    proc = start_server(port)
    base = f"http://127.0.0.1:{port}"
    try:
        with urllib.request.urlopen(f"{base}/api/share?scenario={PRESET}") as r:
            path = json.loads(r.read())["share_url"]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for width, height in SIZES:
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(base + path + ("?lecture=1" if args.lecture else ""))
                page.wait_for_selector('[data-run="b"] [data-node-id]')
                page.select_option("#speed", "0.5")
                for _ in range(40):  # play on through the pausing captions
                    clock = page.locator("#clock").text_content() or ""
                    if clock.startswith(f"{STOP_MS} ms") or clock.startswith(f"{STOP_MS / 1000:.2f} s"):
                        break
                    if page.locator("#play").is_enabled():
                        page.locator("#play").click()
                    page.wait_for_timeout(400)
                page.wait_for_timeout(800)
                name = f"compare{'-lecture' if args.lecture else ''}-{width}.png"
                page.screenshot(path=str(Path(args.out) / name))
                print(name, page.locator("#clock").text_content())
                page.close()
            browser.close()
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
