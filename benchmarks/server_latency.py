"""Server figures: action-to-frame latency, frame rate to many watchers, frame sizes.

    python benchmarks/server_latency.py [--scenario raft-bench] [--sessions 1,50]
                                        [--watchers 500] [--seconds 10]

Starts ``python app.py`` (eventlet, the production path) on a free port of 127.0.0.1,
drives it, prints the figures and stops it. Every loop is bounded by ``--seconds``.

* **Latency**: N sessions play at speed 1, each driven by its own python-socketio client
  that sends an action twice a second (a ``link`` command that changes nothing, so the
  run stays the same); the figure is the wall time from sending the action to receiving
  the first frame whose events contain it, p50 and p99 over all samples.
* **Fan-out**: one session plays while W watchers (raw Engine.IO websocket clients in a
  few processes) count the frames they receive; the figure is frames per second per
  watcher (min, p50) and the lag: how far behind the newest frame a watcher's last frame
  was when the run stopped, and how its lag grew from the first half to the second.
* **Frame sizes**: the JSON size of every frame the latency clients received (median,
  p90, max; full frames apart).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.web.serve import Client, start_server, stop  # noqa: E402

ACTION = {"type": "link", "from": "n1", "to": "n2", "loss": 0}


def pct(values: list, p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * p // 100) - 1))]


def session(url: str, scenario, speed=1) -> tuple[Client, dict]:
    client = Client(url)
    made = client.call("create", {"scenario": scenario})
    if not made["ok"]:
        raise SystemExit(f"create failed: {made['error']}")
    ids = {"session": made["session"], "token": made["token"]}
    client.call("join", ids)
    client.call("control", {**ids, "op": "speed", "value": speed})
    return client, ids


def latency(url: str, scenario, n_sessions: int, seconds: float) -> dict:
    """Action -> first frame showing it, with n_sessions playing at once."""
    drivers = [session(url, scenario) for _ in range(n_sessions)]
    for client, ids in drivers:
        client.call("control", {**ids, "op": "play"})
    time.sleep(1.0)
    samples: list[float] = []
    sizes: list[int] = []
    full_sizes: list[int] = []
    lock = threading.Lock()

    def drive(client: Client, ids: dict) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for frame in client.take():
                record_size(frame)
            sent = time.monotonic()
            answer = client.call("act", {**ids, "action": ACTION})
            if not answer["ok"]:
                continue
            at_us = round(answer["at_ms"] * 1000)
            got = None
            while got is None and time.monotonic() < sent + 5:
                for frame in client.take():
                    received = frame["_received"]
                    record_size(frame)
                    if got is None and any(e[2] == "command" and e[1] == at_us
                                           and e[5] == ACTION for e in frame.get("events", ())):
                        got = received
                time.sleep(0.001)
            if got is not None:
                with lock:
                    samples.append((got - sent) * 1000)
            time.sleep(max(0.0, 0.5 - (time.monotonic() - sent)))

    def record_size(frame: dict) -> None:
        frame.pop("_received", None)
        size = len(json.dumps(frame, separators=(",", ":")))
        with lock:
            (full_sizes if frame.get("full") else sizes).append(size)

    threads = [threading.Thread(target=drive, args=d) for d in drivers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for client, _ in drivers:
        client.close()
    return {"sessions": n_sessions, "samples": len(samples),
            "p50_ms": round(pct(samples, 50), 1) if samples else None,
            "p99_ms": round(pct(samples, 99), 1) if samples else None,
            "max_ms": round(max(samples), 1) if samples else None,
            "delta_frame_bytes": {"median": statistics.median(sizes) if sizes else None,
                                  "p90": pct(sizes, 90) if sizes else None,
                                  "max": max(sizes) if sizes else None,
                                  "count": len(sizes)},
            "full_frame_bytes_median": statistics.median(full_sizes) if full_sizes else None}


def _watch_many(url: str, session_id: str, n: int, seconds: float, out) -> None:
    """Run n raw Engine.IO websocket watchers in threads; report their frame counts."""
    import websocket

    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    results = []
    lock = threading.Lock()
    start_barrier = threading.Barrier(n + 1)
    stop_at = [float("inf")]

    def watcher():
        ws = websocket.create_connection(ws_url, timeout=10)
        ws.recv()  # Engine.IO open
        ws.send("40")
        while not ws.recv().startswith("40"):
            pass
        ws.send('420["join",' + json.dumps({"session": session_id}) + "]")
        start_barrier.wait()
        seqs, times = [], []
        ws.settimeout(1.0)
        while time.monotonic() < stop_at[0]:
            try:
                msg = ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            if msg == "2":
                ws.send("3")
            elif msg.startswith('42["frame"'):
                head = msg[:120]
                i = head.find('"seq":')
                seqs.append(int(head[i + 6:head.index(",", i)]))
                times.append(time.monotonic())
        ws.close()
        with lock:
            results.append((seqs, times))

    threads = [threading.Thread(target=watcher, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    start_barrier.wait()
    stop_at[0] = time.monotonic() + seconds
    for t in threads:
        t.join(seconds + 15)
    out.put(results)


def fanout(url: str, scenario, n_watchers: int, seconds: float, procs: int) -> dict:
    driver, ids = session(url, scenario)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    per = [n_watchers // procs + (1 if i < n_watchers % procs else 0) for i in range(procs)]
    workers = [ctx.Process(target=_watch_many, args=(url, ids["session"], k, seconds + 2,
                                                     queue)) for k in per if k]
    for w in workers:
        w.start()
    time.sleep(3.0 + n_watchers / 100)  # let every watcher connect and join
    driver.call("control", {**ids, "op": "play"})
    driver.take()
    t0 = time.monotonic()
    time.sleep(seconds)
    newest = driver.take()
    results = []
    for _ in workers:
        results.extend(queue.get(timeout=seconds + 60))
    for w in workers:
        w.join(10)
    driver.call("control", {**ids, "op": "pause"})
    driver.close()
    window_end = t0 + seconds
    rates, lag_end, lag_growth = [], [], []
    last_seq = newest[-1]["seq"] if newest else None
    empty = sum(1 for seqs, _ in results if not seqs)
    for seqs, times in results:
        inside = [s for s, t in zip(seqs, times) if t0 + 1 <= t <= window_end]
        rates.append(len(inside) / (seconds - 1))
        if last_seq is not None and seqs:
            upto = [s for s, t in zip(seqs, times) if t <= window_end]
            lag_end.append(last_seq - (upto[-1] if upto else 0))
    # Lag growth: the delivery delay (arrival minus the first arrival of the same seq
    # anywhere) in the first and second half of the window.
    first_seen: dict[int, float] = {}
    for seqs, times in results:
        for s, t in zip(seqs, times):
            if s not in first_seen or t < first_seen[s]:
                first_seen[s] = t
    half = t0 + seconds / 2
    for seqs, times in results:
        early = [t - first_seen[s] for s, t in zip(seqs, times) if t0 + 1 <= t < half]
        late = [t - first_seen[s] for s, t in zip(seqs, times) if half <= t <= window_end]
        if early and late:
            lag_growth.append((statistics.mean(late) - statistics.mean(early)) * 1000)
    return {"watchers": len(results), "seconds": seconds, "watchers_without_frames": empty,
            "frames_per_s_min": round(min(rates), 1) if rates else None,
            "frames_per_s_p50": round(statistics.median(rates), 1) if rates else None,
            "watchers_at_29fps_or_more": sum(r >= 29 for r in rates),
            "frames_behind_at_end_max": max(lag_end) if lag_end else None,
            "spread_ms_growth_p50": round(statistics.median(lag_growth), 1)
            if lag_growth else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="raft-bench",
                        help="a preset name (default raft-bench) or 'toy'")
    parser.add_argument("--sessions", default="1,50")
    parser.add_argument("--watchers", type=int, default=500)
    parser.add_argument("--watcher-processes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    env = {"PLAYGROUND_MAX_SESSIONS": "300", "PLAYGROUND_ACTIONS_PER_SECOND": "50",
           "PLAYGROUND_CREATES_PER_SECOND": "100"}
    scenario = args.scenario
    if scenario == "toy":
        env["PLAYGROUND_EXTRA_MODELS"] = "tests.engine.toy"
        scenario = {"model": "toy", "seed": 1, "nodes": 5, "duration_ms": 3_600_000}
    proc, url = start_server(env=env)
    try:
        print(f"server {url}, scenario {args.scenario}")
        for n in (int(x) for x in args.sessions.split(",") if x):
            print(json.dumps({"latency": latency(url, scenario, n, args.seconds)}), flush=True)
        if args.watchers:
            print(json.dumps({"fanout": fanout(url, scenario, args.watchers, args.seconds,
                                               args.watcher_processes)}), flush=True)
    finally:
        stop(proc)


if __name__ == "__main__":
    main()
