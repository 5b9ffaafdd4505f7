"""Isolation: heavy work in one session must not starve another session's watcher.

    python benchmarks/isolation.py [--play-seconds 6] [--sessions 50] [--seconds 10]
                                   [--skip-many]

Starts ``python app.py`` (eventlet, the production path) on a free port of 127.0.0.1.
A 5-node Raft session (``raft-bench``) plays at speed 1 to one watcher: a minimal
websocket reader in its own process that notes when each frame arrives. Meanwhile a
controlling client runs, one after another:

1. **heavy heartbeat**: create a heartbeat scenario of 101 nodes, ``interval_ms`` 1,
   ``service_ms`` 0.001 and 1,000 commands (crash and restart of workers, one every
   60 ms), ``control step`` 60000, then ``play`` at speed 100 for ``--play-seconds`` and
   ``pause``;
2. **51-node Raft** with ``heartbeat_ms`` 5: ``step`` 20000, ``seek`` far back (1 s),
   ``play`` at speed 100 for ``--play-seconds``, ``pause``.

For each phase it prints the watcher's frames per second and its largest gap between two
frames (the target: at least 25 fps, no gap over 100 ms), each request's answer and how
long it took, the server's CPU (share of a core) and its resident memory. ``--pieces``
instead runs the heavy requests in this process and prints the longest piece of work
of each kind that runs between two turns of the event loop, in CPU time (what bounds a
watcher's gaps, whatever else the machine runs). Then (unless ``--skip-many``)
``--sessions`` sessions play at once and the figure of ``server_latency.latency`` is
printed: action → frame p50/p99 and frames per second per session.

Every loop is bounded in time; the server and the watcher stop by themselves.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from server_latency import _cpu_seconds, latency, long_run  # noqa: E402
from tests.web.serve import Client, RawClient, start_server, stop  # noqa: E402

FPS_TARGET = 25
GAP_TARGET_MS = 100


def heavy_heartbeat() -> dict:
    commands = [{"at_ms": 50 + 60 * i, "type": "crash" if i % 2 == 0 else "restart",
                 "node": f"w{1 + (i // 2) % 100}"} for i in range(1000)]
    return {"model": "heartbeat", "seed": 1, "nodes": 101, "duration_ms": 3_600_000,
            "params": {"interval_ms": 1, "service_ms": 0.001}, "commands": commands}


def big_raft() -> dict:
    return {"model": "raft", "seed": 1, "nodes": 51, "duration_ms": 3_600_000,
            "params": {"heartbeat_ms": 5}}


def _watch(url: str, session_id: str, seconds: float, ready, halt, out) -> None:
    """One watcher; report the arrival times of its frames (time.monotonic, which is
    the same clock in every process of the machine)."""
    import selectors

    host, port = url.split("//")[1].split(":")
    watcher = RawClient(host, int(port), session_id)
    sel = selectors.DefaultSelector()
    sel.register(watcher.sock, selectors.EVENT_READ)
    ready.set()
    end = time.monotonic() + seconds
    while time.monotonic() < end and not halt.is_set():
        for _key, _ev in sel.select(timeout=0.05):
            try:
                watcher.feed(time.monotonic())
            except ConnectionError:
                out.put(watcher.times)
                return
    out.put(watcher.times)


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def window(times: list, start: float, end: float) -> dict:
    """The watcher's frame rate and largest gap within [start, end]."""
    inside = [t for t in times if start <= t <= end]
    marks = [start] + inside + [end]
    gap = max(b - a for a, b in zip(marks, marks[1:]))
    return {"fps": round(len(inside) / max(1e-9, end - start), 1),
            "max_gap_ms": round(1000 * gap, 1), "frames": len(inside)}


class Phases:
    """Runs the heavy requests, noting when each phase began and ended."""

    def __init__(self, url: str, pid: int):
        self.client = Client(url)
        self.pid = pid
        self.marks: list[tuple[str, float, float, list]] = []
        self.cpu: dict[str, float] = {}  # phase -> the server's share of a core

    def call(self, log: list, event: str, payload: dict, timeout: float = 300) -> dict:
        started = time.monotonic()
        try:
            answer = self.client.call(event, payload, timeout=timeout)
        except Exception as exc:  # a timeout is a figure too
            answer = {"ok": False, "error": f"no answer: {type(exc).__name__}"}
        took = time.monotonic() - started
        brief = {k: v for k, v in answer.items() if k in ("ok", "t_ms", "superseded")}
        if not answer.get("ok"):
            brief["error"] = str(answer.get("error"))[:110]
        label = event if event != "control" else payload.get("op")
        if "value" in payload:
            label += f" {payload['value']}"
        log.append({"request": label, "answer_s": round(took, 2), **brief})
        return answer

    def run(self, name: str, scenario: dict, steps: list, play_seconds: float) -> None:
        log: list = []
        start = time.monotonic()
        cpu = _cpu_seconds(self.pid)
        made = self.call(log, "create", {"scenario": scenario})
        if made.get("ok"):
            ids = {"session": made["session"], "token": made["token"]}
            self.call(log, "join", ids)
            for op, value in steps:
                payload = {**ids, "op": op} if value is None else {**ids, "op": op,
                                                                    "value": value}
                self.call(log, "control", payload)
            self.call(log, "control", {**ids, "op": "speed", "value": 100})
            self.call(log, "control", {**ids, "op": "play"})
            time.sleep(play_seconds)
            self.call(log, "control", {**ids, "op": "pause"})
            frames = self.client.take()
            slowed = [f["slowed"] for f in frames if f.get("slowed")]
            notices = [f["notice"] for f in frames if f.get("notice")]
            log.append({"slowed_frames": len(slowed),
                        "slowed_to": slowed[-1]["speed"] if slowed else None,
                        "t_ms_reached": max((f["t_ms"] for f in frames), default=None),
                        "notice": notices[-1][:90] if notices else None})
            self.call(log, "leave", {"session": made["session"]})
        log.append({"server_rss_mib": rss_mib(self.pid)})
        end = time.monotonic()
        self.cpu[name] = (_cpu_seconds(self.pid) - cpu) / (end - start)
        self.marks.append((name, start, end, log))


def longest_pieces() -> dict:
    """The same heavy requests in this process (threading mode, no network), with the
    computing time (``time.thread_time``: CPU time, whatever else the machine runs) of
    each piece of work that runs between two turns of the event loop, the longest of
    each kind in ms: an engine call (``Session._call``), building and sending a frame, a
    checkpoint, restoring one (a seek), metrics, freezing the heap, and a whole
    ``create``."""
    import functools
    import tempfile

    from playground import create_app, socketio
    from playground.engine.history import History
    from playground.engine.simulation import Simulation
    from playground.web import session as web_session

    worst: dict[str, float] = {}
    patched = []

    def timed(owner, attr, kind):
        fn = getattr(owner, attr)

        @functools.wraps(fn)
        def wrapper(*a, **k):
            started = time.thread_time()
            try:
                return fn(*a, **k)
            finally:
                took = 1000 * (time.thread_time() - started)
                worst[kind] = max(worst.get(kind, 0.0), round(took, 1))

        patched.append((owner, attr, fn))
        setattr(owner, attr, wrapper)

    timed(web_session.Session, "_call", "engine call")
    timed(web_session.Session, "_emit_frame", "frame")
    timed(History, "_save", "checkpoint")
    timed(Simulation, "load", "restore a checkpoint")
    timed(Simulation, "metrics", "metrics")
    timed(web_session, "freeze_heap", "freeze the heap")
    out = {}
    try:
        with tempfile.TemporaryDirectory() as data:
            app = create_app({"ASYNC": "threading", "TESTING": True, "DATA_DIR": data,
                              "SESSIONS_PER_ADDRESS": 100, "CREATES_PER_SECOND": 100})
            client = socketio.test_client(app)
            for name, scenario, steps in (
                    ("heavy heartbeat", heavy_heartbeat(), [("step", 60_000)]),
                    ("51-node Raft", big_raft(), [("step", 20_000), ("seek", 1000)])):
                worst.clear()
                started = time.thread_time()
                made = client.emit("create", {"scenario": scenario}, callback=True)
                worst["create"] = round(1000 * (time.thread_time() - started), 1)
                ids = {"session": made["session"], "token": made["token"]}
                client.emit("join", ids, callback=True)
                for op, value in steps:
                    client.emit("control", {**ids, "op": op, "value": value}, callback=True)
                client.get_received()
                out[name] = dict(worst)
                app.extensions["playground"].close(made["session"])
    finally:
        for owner, attr, fn in patched:
            setattr(owner, attr, fn)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--play-seconds", type=float, default=6.0)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="length of the many-sessions measurement")
    parser.add_argument("--skip-many", action="store_true")
    parser.add_argument("--pieces", action="store_true",
                        help="only the longest pieces of work, measured in this process")
    parser.add_argument("--nice", type=int, default=0,
                        help="run the server and the watcher at this niceness (negative: "
                             "ahead of other work on a shared machine; needs root)")
    args = parser.parse_args()
    if args.pieces:
        for name, worst in longest_pieces().items():
            print(f"{name}: longest pieces of work, CPU ms:", json.dumps(worst))
        return

    proc, url = start_server(env={"PLAYGROUND_CREATES_PER_SECOND": "100",
                                  "PLAYGROUND_SESSIONS_PER_ADDRESS": "200",
                                  "PLAYGROUND_CONTROLS_PER_SECOND": "1000"})
    try:
        presenter = Client(url)
        made = presenter.call("create", {"scenario": long_run("raft-bench")})
        ids = {"session": made["session"], "token": made["token"]}
        presenter.call("control", {**ids, "op": "play"})
        ctx = multiprocessing.get_context("spawn")
        ready, done, out = ctx.Event(), ctx.Event(), ctx.Queue()
        budget = 900.0
        watcher = ctx.Process(target=_watch,
                              args=(url, made["session"], budget, ready, done, out),
                              daemon=True)
        watcher.start()
        if args.nice:
            for pid in (proc.pid, watcher.pid):
                os.setpriority(os.PRIO_PROCESS, pid, args.nice)
        ready.wait(30)
        time.sleep(2.0)
        phases = Phases(url, proc.pid)
        quiet, cpu = time.monotonic(), _cpu_seconds(proc.pid)
        time.sleep(3.0)
        name = "quiet (the watched session alone)"
        phases.cpu[name] = (_cpu_seconds(proc.pid) - cpu) / (time.monotonic() - quiet)
        phases.marks.append((name, quiet, time.monotonic(),
                             [{"server_rss_mib": rss_mib(proc.pid)}]))
        phases.run("heavy heartbeat: 101 nodes, 1 ms pulses, 1000 commands",
                   heavy_heartbeat(), [("step", 60_000)], args.play_seconds)
        phases.run("51-node Raft, 5 ms heartbeats", big_raft(),
                   [("step", 20_000), ("seek", 1000)], args.play_seconds)
        presenter.call("control", {**ids, "op": "pause"})
        time.sleep(0.2)
        done.set()
        times = out.get(timeout=30)
        watcher.join(10)
        print(f"watcher: a 5-node Raft at speed 1; targets >= {FPS_TARGET} fps, no gap over "
              f"{GAP_TARGET_MS} ms; load average {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} cores; niceness {args.nice}")
        for name, start, end, log in phases.marks:
            figures = window(times, start, end)
            verdict = "met" if figures["fps"] >= FPS_TARGET and \
                figures["max_gap_ms"] <= GAP_TARGET_MS else "NOT met"
            print(f"\n== {name} ({end - start:.1f} s): watcher {figures['fps']} fps, largest "
                  f"gap {figures['max_gap_ms']} ms ({verdict}); server CPU "
                  f"{100 * phases.cpu.get(name, float('nan')):.0f} % of a core")
            for entry in log:
                print("   ", json.dumps(entry))
        presenter.close()
        phases.client.close()
        if not args.skip_many:
            figures = latency([url], "raft-bench", args.sessions, args.seconds, [proc.pid])
            print(f"\n== {args.sessions} sessions playing at speed 1 on one process")
            print("   ", json.dumps({k: figures[k] for k in (
                "p50_ms", "p99_ms", "max_ms", "frames_per_s_per_session",
                "server_cpu_percent", "machine_busy_percent")}))
            print("    server_rss_mib", rss_mib(proc.pid))
    finally:
        stop(proc)


if __name__ == "__main__":
    main()
