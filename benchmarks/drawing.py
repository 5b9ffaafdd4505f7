"""Drawing speed in Chromium: frame rate and script time per frame of the cluster view.

    python benchmarks/drawing.py [--nodes 25] [--seconds 3] [--runs 3]

Starts ``python app.py`` on a free port of 127.0.0.1 and Debian's Chromium (headless,
no GPU), opens a Raft run of ``--nodes`` nodes whose messages take 120 to 160 ms (about
200 in flight with 25 nodes), plays it at speed 1 and, once at least 150 messages are in
flight, records for ``--seconds`` every animation frame: the gap between frames
(``requestAnimationFrame``), the time ``cluster.render`` takes, and the messages in
flight. Prints, per run, frames per second, the frame gap's p50 and p90, render time's
p50 and p90 and messages in flight (p50). The figures depend on the machine and on what
else runs on it; docs/deployment.md quotes a run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playground.scenarios import share  # noqa: E402
from tests.browser.conftest import (ARGS, CHROMIUM, LOCAL_LIMITS, free_port,  # noqa: E402
                                    start_server, stop_server)

MEASURE = """(seconds) => new Promise((done) => {
    const app = window.playground, times = [], gaps = [], flying = [];
    const render = app.cluster.render.bind(app.cluster);
    app.cluster.render = (...a) => { const t = performance.now(); render(...a);
                                     times.push(performance.now() - t); };
    let last = performance.now(); const start = last;
    requestAnimationFrame(function tick(now) {
        gaps.push(now - last); last = now; flying.push(app.store.messages.length);
        if (now - start < seconds * 1000) requestAnimationFrame(tick);
        else { app.cluster.render = render; done({gaps, times, flying}); }
    });
})"""


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=25, help="nodes (Raft: 3 to 101)")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured per run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    path = share.link_path({"model": "raft", "seed": 3, "nodes": args.nodes,
                            "duration_ms": 600_000, "network": {"latency_ms": [120, 160]}})
    port = free_port()
    proc = start_server(port, LOCAL_LIMITS)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            print(f"{args.nodes} nodes, speed 1, {args.seconds:g} s per run "
                  "(frame gap and render time in ms)")
            for run in range(1, args.runs + 1):
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                page.goto(f"http://127.0.0.1:{port}{path}")
                page.wait_for_selector("[data-node-id]")
                page.select_option("#speed", "1")
                page.get_by_role("button", name="Play", exact=True).click()
                page.wait_for_function("() => window.playground.store.messages.length >= 150",
                                       timeout=60_000)
                got = page.evaluate(MEASURE, args.seconds)
                row = {"run": run, "fps": round(len(got["gaps"]) / args.seconds, 1),
                       "gap_p50": round(quantile(got["gaps"], 0.5), 1),
                       "gap_p90": round(quantile(got["gaps"], 0.9), 1),
                       "render_p50": round(quantile(got["times"], 0.5), 2),
                       "render_p90": round(quantile(got["times"], 0.9), 2),
                       "flying_p50": quantile(got["flying"], 0.5)}
                print(json.dumps(row))
                page.close()
            browser.close()
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
