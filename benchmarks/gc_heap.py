"""The frozen heap: what a long session leaves to the garbage collector, and what a full
collection costs.

    python benchmarks/gc_heap.py [--seconds 60] [--sessions 1] [--collect-every 0]
                                 [--scenario raft-bench]

The server runs in this process (threading mode, Werkzeug's server on a free port of
127.0.0.1, websockets) so that its heap can be read; ``--sessions`` sessions of
``--scenario`` play at speed 1, each to a python-socketio client in a child process
that acts (a link change that changes nothing) every 0.5 s and reads every frame. The
registry's own periodic collection is off (``COLLECT_EVERY`` 0); with
``--collect-every N`` this script calls ``session.collect_heap`` every N seconds instead,
the same call, and times each pause. ``--freeze-only`` freezes the heap as the server
did before it collected the young objects at each freeze. Each freeze is timed too.

Every 10 s it prints the objects frozen (``gc.get_freeze_count``) and the resident
memory. At the end it unfreezes and collects once and prints how many unreachable
objects that collection found (cyclic garbage the frozen heap held), the resident memory
after it, and the pauses of the periodic collections.
"""

from __future__ import annotations

import argparse
import gc
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from server_latency import long_run  # noqa: E402
from tests.web.serve import ACTION, Client, free_port, wait_port  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _play(url: str, scenario: str, seconds: float, out) -> None:
    """One client: create, join, play, act every 0.5 s, read every frame."""
    client = Client(url)
    made = client.call("create", {"scenario": long_run(scenario)})
    ids = {"session": made["session"], "token": made["token"]}
    client.call("join", ids)
    client.call("control", {**ids, "op": "play"})
    frames, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        client.call("act", {**ids, "action": ACTION})
        frames += len(client.take())
        time.sleep(0.5)
    client.close()
    out.put(frames)


def serve(port: int, data_dir: str):
    from playground import create_app, socketio

    app = create_app({"ASYNC": "threading", "DATA_DIR": data_dir, "COLLECT_EVERY": 0,
                      "CREATES_PER_SECOND": 50})
    thread = threading.Thread(target=socketio.run, args=(app,), daemon=True,
                              kwargs={"host": "127.0.0.1", "port": port,
                                      "allow_unsafe_werkzeug": True, "log_output": False})
    thread.start()
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--sessions", type=int, default=1)
    parser.add_argument("--collect-every", type=float, default=0)
    parser.add_argument("--scenario", default="raft-bench")
    parser.add_argument("--freeze-only", action="store_true",
                        help="freeze without collecting the young objects first (as before)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from playground.web import registry, session
    from playground.web.session import collect_heap

    freezes = []
    freeze = session.freeze_heap

    def timed_freeze():  # what each freeze of the heap costs (a pause too)
        before, started = session._frozen_at, time.perf_counter()
        freeze()
        if session._frozen_at != before:  # it froze (else it was too soon after the last)
            freezes.append(time.perf_counter() - started)

    session.freeze_heap = registry.freeze_heap = timed_freeze
    session.COLLECT_BEFORE_FREEZE = not args.freeze_only

    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        serve(port, data_dir)

        class Up:  # wait_port's process: this one, which is running
            returncode = None

            @staticmethod
            def poll():
                return None

        wait_port(port, Up)
        gc.collect()
        rss0 = rss_mib()
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        url = f"http://127.0.0.1:{port}"
        clients = [ctx.Process(target=_play, args=(url, args.scenario, args.seconds, out))
                   for _ in range(args.sessions)]
        for c in clients:
            c.start()
        print(f"{args.sessions} session(s) of {args.scenario} for {args.seconds:g} s, "
              f"{'freeze only' if args.freeze_only else 'collect young, freeze'}, full "
              f"collection every {args.collect_every or 'never'}; RSS {rss0:.1f} MiB at start")
        pauses = []
        t0 = last_collect = last_print = time.monotonic()
        while any(c.is_alive() for c in clients):
            time.sleep(0.2)
            now = time.monotonic()
            if now - last_print >= 10:
                last_print = now
                print(f"  t={now - t0:5.0f} s  frozen {gc.get_freeze_count():>9,}  "
                      f"RSS {rss_mib():7.1f} MiB")
            if args.collect_every and now - last_collect >= args.collect_every:
                last_collect = now
                pauses.append(collect_heap())
        frames = sum(out.get(timeout=30) for _ in clients)
        for c in clients:
            c.join()
        frozen, rss1 = gc.get_freeze_count(), rss_mib()
        gc.unfreeze()
        started = time.perf_counter()
        found = gc.collect()
        last = time.perf_counter() - started
        print(f"frames read: {frames}  ({frames / args.seconds / args.sessions:.1f}/s each)")
        print(f"at the end: frozen {frozen:,} objects, RSS {rss1:.1f} MiB; one full "
              f"collection found {found:,} unreachable objects in {last * 1000:.1f} ms, "
              f"RSS after it {rss_mib():.1f} MiB")
        freezes.sort()
        print(f"freezes: {len(freezes)} calls, p50 {freezes[len(freezes) // 2] * 1e3:.2f} ms, "
              f"p99 {freezes[int(len(freezes) * 0.99)] * 1e3:.2f} ms, "
              f"max {freezes[-1] * 1e3:.2f} ms")
        if pauses:
            print(f"periodic collections: {len(pauses)}, pause median "
                  f"{statistics.median(pauses) * 1000:.1f} ms, max {max(pauses) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
