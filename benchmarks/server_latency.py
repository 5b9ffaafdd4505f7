"""Server figures: action-to-frame latency, frame rate to many watchers, frame sizes.

    python benchmarks/server_latency.py [--scenario raft-bench] [--sessions 1,50]
                                        [--watchers 500] [--seconds 10]
                                        [--server-processes 2] [--searches 2]

Starts ``python app.py`` (eventlet, the production path) on a free port of 127.0.0.1 (or
several, sharing a Redis it starts, with ``--server-processes``), drives it, prints the
figures and stops everything. Every loop is bounded by ``--seconds``. With several
processes the sessions are spread over them and the watchers too (frames then cross
Redis to reach the watchers of the other processes).

* **Latency**: N sessions play at speed 1, each driven by its own python-socketio client
  that sends an action twice a second (a ``link`` command that changes nothing, so the
  run stays the same); the figure is the wall time from sending the action to receiving
  the first frame whose events contain it, p50 and p99 over all samples.
* **Fan-out**: one session plays while W watchers (minimal Engine.IO websocket readers,
  many per thread, in a few processes, so the load generator stays cheap) count the
  frames they receive; the figure is frames per second per
  watcher (min, p50) and the lag: how far behind the newest frame a watcher's last frame
  was when the run stopped, and how its lag grew from the first half to the second.
* **Frame sizes**: the JSON size of every frame the latency clients received (median,
  p90, max; full frames apart).
* With ``--searches K``, K counterexample searches ("Find a counterexample", on sessions
  of their own of a correct two-phase-commit scenario, where nothing breaks) run in their
  worker processes for the whole measurement: what they cost the playing sessions.
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

from tests.web.serve import ACTION, Client, RawClient, start_server, stop  # noqa: E402



def pct(values: list, p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * p // 100) - 1))]


class Driver(Client):
    """A controlling client that notes when each command first shows in a frame."""

    def __init__(self, url: str):
        self.seen: dict[int, float] = {}  # command time (µs) -> arrival of its first frame
        self.cond = threading.Condition()
        self.sizes: list[int] = []
        self.full_sizes: list[int] = []
        super().__init__(url)

    def _frame(self, frame):
        now = time.monotonic()
        size = len(json.dumps(frame, separators=(",", ":")))
        with self.cond:
            (self.full_sizes if frame.get("full") else self.sizes).append(size)
            for e in frame.get("events", ()):
                if e[2] == "command" and e[5] == ACTION and e[1] not in self.seen:
                    self.seen[e[1]] = now
            self.cond.notify_all()
        super()._frame(frame)

    def arrival(self, at_us: int, timeout: float) -> float | None:
        with self.cond:
            self.cond.wait_for(lambda: at_us in self.seen, timeout)
            return self.seen.get(at_us)


def long_run(scenario):
    """The scenario made long enough that no benchmark reaches its end."""
    if isinstance(scenario, str):
        from playground.scenarios import presets

        scenario = dict(presets()[scenario])
    return {**scenario, "duration_ms": 3_600_000}


def session(url: str, scenario, speed=1) -> tuple[Driver, dict]:
    client = Driver(url)
    made = client.call("create", {"scenario": long_run(scenario)})
    if not made["ok"]:
        raise SystemExit(f"create failed: {made['error']}")
    ids = {"session": made["session"], "token": made["token"]}
    client.call("join", ids)
    client.call("control", {**ids, "op": "speed", "value": speed})
    return client, ids


def _drive_many(sessions: list, seconds: float, out) -> None:
    """Drive sessions from one thread: an action every 0.5 s each; report latencies.

    ``sessions`` holds (server URL, session id, token) triples.
    """
    import selectors

    drivers = []
    for url, sid, token in sessions:
        host, port = url.split("//")[1].split(":")
        drivers.append(RawClient(host, int(port), sid, token))
    sel = selectors.DefaultSelector()
    for d in drivers:
        sel.register(d.sock, selectors.EVENT_READ, d)
    start = time.monotonic() + 1.0
    pending = {}  # driver index -> (ack id, sent time)
    next_at = [start + 0.5 * i / len(drivers) for i in range(len(drivers))]
    waiting = {}  # driver index -> (command time µs, sent time)
    samples = []
    end = start + seconds
    while True:
        now = time.monotonic()
        if now >= end and not waiting and not pending:
            break
        if now >= end + 5:
            break
        for k, d in enumerate(drivers):
            if k not in pending and k not in waiting and now >= next_at[k] and now < end:
                ids = {"session": d.session_id, "token": d.token}
                pending[k] = (d.send("act", {**ids, "action": ACTION}), now)
                next_at[k] = now + 0.5
            if k in pending and pending[k][0] in d.acks:
                ack_id, sent = pending.pop(k)
                answer = d.acks.pop(ack_id)
                if answer.get("ok"):
                    waiting[k] = (round(answer["at_ms"] * 1000), sent)
            if k in waiting and waiting[k][0] in d.commands:
                at_us, sent = waiting.pop(k)
                samples.append((d.commands[at_us] - sent) * 1000)
        for key, _ in sel.select(timeout=0.002):
            key.data.feed(time.monotonic())
    for d in drivers:
        d.sock.close()
    in_window = sum(1 for d in drivers for t in d.times if start <= t < end)
    out.put((samples, [x for d in drivers for x in d.sizes], in_window,
             time.process_time() / (time.monotonic() - start + 1.0)))


def latency(urls: list, scenario, n_sessions: int, seconds: float, server_pids: list,
            procs: int = 1) -> dict:
    """Action -> first frame showing it, with n_sessions playing at once (spread over the
    server processes at ``urls``)."""
    sessions = []
    for i in range(n_sessions):
        url = urls[i % len(urls)]
        setup = Client(url)
        made = setup.call("create", {"scenario": long_run(scenario)})
        if not made["ok"]:
            raise SystemExit(f"create failed: {made['error']}")
        sessions.append((url, made["session"], made["token"]))
        played = setup.call("control", {"session": made["session"], "token": made["token"],
                                        "op": "play"})
        if not played["ok"]:
            raise SystemExit(f"play failed: {played['error']}")
        setup.close()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    workers = [ctx.Process(target=_drive_many, args=(sessions[i::procs], seconds, out))
               for i in range(procs) if sessions[i::procs]]
    cpu0 = sum(_cpu_seconds(pid) for pid in server_pids)
    machine = _machine_busy()
    t0 = time.monotonic()
    for w in workers:
        w.start()
    samples, sizes, frames, driver_cpu = [], [], 0, 0.0
    for _ in workers:
        got = out.get(timeout=seconds + 60)
        samples += got[0]
        sizes += got[1]
        frames += got[2]
        driver_cpu += got[3]
    for w in workers:
        w.join(10)
    wall = time.monotonic() - t0
    cpu = (sum(_cpu_seconds(pid) for pid in server_pids) - cpu0) / wall
    return {"sessions": n_sessions, "server_processes": len(urls), "samples": len(samples),
            "server_cpu_percent": round(100 * cpu),
            "machine_busy_percent": _busy_since(machine),
            "load_generator_cpu_percent": round(100 * driver_cpu),
            "frames_per_s_per_session": round(frames / n_sessions / seconds, 1),
            "p50_ms": round(pct(samples, 50), 1) if samples else None,
            "p99_ms": round(pct(samples, 99), 1) if samples else None,
            "max_ms": round(max(samples), 1) if samples else None,
            "frame_bytes": {"median": statistics.median(sizes) if sizes else None,
                            "p90": pct(sizes, 90) if sizes else None,
                            "max": max(sizes) if sizes else None, "count": len(sizes)}}


def start_searches(url: str, n: int) -> list:
    """``n`` searches that run past the measurement, each on a session of its own; the
    clients that own them (closing them ends the searches)."""
    owners = []
    for _ in range(n):
        owner = Client(url)
        made = owner.call("create", {"scenario": {"model": "twopc", "seed": 1}})
        ids = {"session": made["session"], "token": made["token"]}
        owner.call("join", ids)
        found = owner.call("find", ids)
        if not found.get("ok"):
            raise SystemExit(f"find failed: {found.get('error')}")
        owners.append(owner)
    time.sleep(2.0)  # the workers have started and are searching
    return owners


def _watch_many(url: str, session_id: str, n: int, seconds: float, ready, go, out) -> None:
    """n watchers on one thread (a selector); report (seqs, arrival times) of each."""
    import selectors

    host, port = url.split("//")[1].split(":")
    watchers = [RawClient(host, int(port), session_id) for _ in range(n)]
    sel = selectors.DefaultSelector()
    for w in watchers:
        sel.register(w.sock, selectors.EVENT_READ, w)
    ready.put(n)
    stop_at = None
    while True:
        now = time.monotonic()
        if stop_at is None and not go.empty():
            stop_at = now + go.get()
            go.put(seconds)  # leave the signal for the other processes
        if stop_at is not None and now >= stop_at:
            break
        for key, _ in sel.select(timeout=0.05):
            key.data.feed(time.monotonic())
    for w in watchers:
        w.sock.close()
    out.put([(w.seqs, w.times) for w in watchers])


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux /proc)."""
    import os as _os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _os.sysconf("SC_CLK_TCK")


def _machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of every CPU so far (Linux /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _busy_since(mark: tuple[int, int]) -> int:
    busy, total = _machine_busy()
    return round(100 * (busy - mark[0]) / max(1, total - mark[1]))


def fanout(urls: list, scenario, n_watchers: int, seconds: float, procs: int,
           server_pids: list) -> dict:
    """One session (on the first server) played to watchers spread over every server."""
    driver, ids = session(urls[0], scenario)
    ctx = multiprocessing.get_context("spawn")
    queue, ready, go = ctx.Queue(), ctx.Queue(), ctx.Queue()
    per = [n_watchers // procs + (1 if i < n_watchers % procs else 0) for i in range(procs)]
    workers = [ctx.Process(target=_watch_many, args=(urls[i % len(urls)], ids["session"], k,
                                                     seconds, ready, go, queue))
               for i, k in enumerate(per) if k]
    for w in workers:
        w.start()
    for _ in workers:
        ready.get(timeout=60)
    time.sleep(1.0 + n_watchers / 200)  # let every watcher join
    cpu0 = sum(_cpu_seconds(pid) for pid in server_pids)
    machine = _machine_busy()
    driver.call("control", {**ids, "op": "play"})
    driver.take()
    t0 = time.monotonic()
    go.put(seconds + 0.5)
    time.sleep(seconds)
    newest = driver.take()
    cpu = sum(_cpu_seconds(pid) for pid in server_pids) - cpu0
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
    return {"watchers": len(results), "server_processes": len(urls), "seconds": seconds,
            "watchers_without_frames": empty,
            "server_cpu_percent": round(100 * cpu / seconds),
            "machine_busy_percent": _busy_since(machine),
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
    parser.add_argument("--watcher-processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--server-processes", type=int, default=1,
                        help="server processes sharing a Redis started for the run")
    parser.add_argument("--searches", type=int, default=0,
                        help="counterexample searches running meanwhile (in the first "
                             "server process)")
    args = parser.parse_args()
    # Every client of the run comes from 127.0.0.1, one client address: lift its limits.
    env = {"PLAYGROUND_MAX_SESSIONS": "300", "PLAYGROUND_ACTIONS_PER_SECOND": "100000",
           "PLAYGROUND_CREATES_PER_SECOND": "1000", "PLAYGROUND_CONTROLS_PER_SECOND": "1000",
           "PLAYGROUND_SESSIONS_PER_ADDRESS": "100000",
           "PLAYGROUND_MAX_SEARCHES": str(max(2, args.searches)),
           "PLAYGROUND_SEARCH_SECONDS": "3600", "PLAYGROUND_SEARCH_TRIES": "100000000"}
    scenario = args.scenario
    if scenario == "toy":
        env["PLAYGROUND_EXTRA_MODELS"] = "tests.engine.toy"
        scenario = {"model": "toy", "seed": 1, "nodes": 5, "duration_ms": 3_600_000}
    procs, urls, redis = [], [], None
    try:
        if args.server_processes > 1:
            redis, redis_url = _start_redis()
            env["MESSAGE_QUEUE"] = redis_url
        for _ in range(args.server_processes):
            proc, url = start_server(env=env)
            procs.append(proc)
            urls.append(url)
        pids = [p.pid for p in procs]
        print(f"servers {', '.join(urls)}, scenario {args.scenario}, "
              f"{args.searches} searches running")
        searching = start_searches(urls[0], args.searches)
        for n in (int(x) for x in args.sessions.split(",") if x):
            figures = latency(urls, scenario, n, args.seconds, pids)
            print(json.dumps({"latency": figures}), flush=True)
        if args.watchers:
            print(json.dumps({"fanout": fanout(urls, scenario, args.watchers, args.seconds,
                                               args.watcher_processes, pids)}),
                  flush=True)
        for owner in searching:
            owner.close()
    finally:
        for proc in procs:
            stop(proc)
        if redis is not None:
            stop(redis)


def _start_redis():
    """A throwaway redis-server on 127.0.0.1 for several server processes."""
    import subprocess

    from tests.web.serve import free_port, wait_port

    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, f"redis://127.0.0.1:{port}/0"


if __name__ == "__main__":
    main()
