"""What one session-frame costs the server, in CPU time, part by part.

    python benchmarks/frame_cost.py [--sessions 50] [--seconds 10] [--scenario raft-bench]
                                    [--actions-per-second 2] [--profile 30]

Runs the server's own code in this process, without sockets or an event loop, so the
figures are CPU time (``time.thread_time``) and do not depend on other work on the
machine: ``--sessions`` sessions of ``--scenario`` (made long, as in
``server_latency.py``) play at speed 1 for ``--seconds`` of simulated time, each turn
advancing every session by 1/30 s of wall time as its runner does (``Session._tick``,
then ``freeze_heap``), building its frame (``Session._frame``) and handing it to the
real fan-out (``socketio.emit`` → ``FanoutManager``: the mirror merge, the Socket.IO
packet, its JSON) for one watcher, whose Engine.IO socket is a stand-in that encodes the
packet as the websocket writer does and keeps nothing. Each session also gets
``--actions-per-second`` actions (the ``act`` handler itself, with its checks, the
frame it emits and the record it saves to the SQLite store), spread over the turns.

Prints the CPU per session-frame of each part (engine, heap freeze, frame build,
delivery, the actions' share) and the total, and the garbage collections that ran within
them (by generation: how many, and their wall time per session-frame); with
``--profile N``, the top N functions of a cProfile run of the same loop (by own time).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from server_latency import long_run  # noqa: E402
from tests.web.serve import ACTION  # noqa: E402

FPS = 30


class Collections:
    """Counts and times the garbage collector's runs (``gc.callbacks``)."""

    def __init__(self):
        self.runs: dict[int, list] = {}
        self._started = 0.0

    def __call__(self, phase, info):
        if phase == "start":
            self._started = time.perf_counter()
        else:
            run = self.runs.setdefault(info["generation"], [0, 0.0])
            run[0] += 1
            run[1] += time.perf_counter() - self._started


class Socket:
    """An Engine.IO socket that encodes what it is sent, as the websocket writer does,
    and drops it."""

    closed = False
    upgraded = True

    def __init__(self):
        self.bytes = 0
        self.packets = 0

        class Queue:
            def qsize(self):
                return 0

        self.queue = Queue()

    def send(self, pkt):
        self.bytes += len(pkt.encode().encode())
        self.packets += 1


def setup(n: int, scenario: str, data_dir: str):
    from playground import create_app, socketio
    from playground.web import events
    from playground.web.fanout import room_of
    from playground.web.session import Session, tune_collector

    app = create_app({"ASYNC": "threading", "TESTING": True, "DATA_DIR": data_dir,
                      "ACTIONS_PER_SECOND": 1e9, "MAX_SESSIONS": max(200, n)})
    registry = app.extensions["playground"]
    manager = registry.manager
    eio = socketio.server.eio
    sessions, sockets = [], []
    for i in range(n):
        sid = f"session{i:04d}xxxxxxxxxxxxxx"
        session = Session(sid, f"token{i}", long_run(scenario), **registry._session_args(sid))
        registry.sessions[sid] = session  # never started: this loop is its runner
        eio_sid = f"eio{i}"
        eio.sockets[eio_sid] = sock = Socket()
        client = manager.connect(eio_sid, "/")
        manager.enter_room(client, "/", room_of(sid), eio_sid=eio_sid)
        manager.watch(client, sid)
        session.playing = True
        sessions.append(session)
        sockets.append(sock)
    tune_collector()  # as the registry does when its first session starts
    act = dict(events._HANDLERS)["act"]
    return app, sessions, sockets, act


def run(app, sessions, act, seconds: float, actions_per_second: float, clock) -> dict:
    from playground.web.session import freeze_heap

    parts = dict.fromkeys(("engine", "freeze", "build", "deliver", "action"), 0.0)
    n = len(sessions)
    turns = int(seconds * FPS)
    act_every = FPS / actions_per_second if actions_per_second else None
    wall = 1000.0
    for s in sessions:
        s._wall = wall
    frames = actions = 0
    with app.test_request_context():
        for turn in range(turns):
            wall += 1 / FPS
            for k, s in enumerate(sessions):
                t0 = clock()
                with s.lock:
                    s._tick(wall)
                t1 = clock()
                freeze_heap()
                t2 = clock()
                frame = s._frame()
                t3 = clock()
                s.socketio.emit("frame", frame, to="s:" + s.id)
                t4 = clock()
                parts["engine"] += t1 - t0
                parts["freeze"] += t2 - t1
                parts["build"] += t3 - t2
                parts["deliver"] += t4 - t3
                frames += 1
                # Actions spread evenly: session k acts on turns k/n of an interval apart.
                if act_every and (turn + k * act_every / n) % act_every < 1:
                    t5 = clock()
                    answer = act({"session": s.id, "token": f"token{int(s.id[7:11])}",
                                  "action": ACTION})
                    parts["action"] += clock() - t5
                    assert answer["ok"], answer
                    actions += 1
    return {"frames": frames, "actions": actions, "parts": parts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--scenario", default="raft-bench")
    parser.add_argument("--actions-per-second", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=2.0,
                        help="seconds of the same loop run first and not counted")
    parser.add_argument("--profile", type=int, default=0,
                        help="print the top N functions of a cProfile run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        app, sessions, sockets, act = setup(args.sessions, args.scenario, data_dir)
        run(app, sessions, act, args.warmup, args.actions_per_second, time.thread_time)
        gc.collect()
        before = sum(s.bytes for s in sockets), sum(s.packets for s in sockets)
        if args.profile:
            profile = cProfile.Profile(time.thread_time)
            profile.enable()
        collections = Collections()
        gc.callbacks.append(collections)
        started = time.thread_time()
        out = run(app, sessions, act, args.seconds, args.actions_per_second,
                  time.thread_time)
        total = time.thread_time() - started
        gc.callbacks.remove(collections)
        if args.profile:
            profile.disable()
        sent = sum(s.bytes for s in sockets) - before[0]
        packets = sum(s.packets for s in sockets) - before[1]
        for s in sessions:
            s.close(0)
    frames = out["frames"]
    print(f"{args.sessions} sessions of {args.scenario}, {args.seconds:g} s at {FPS} "
          f"frames/s, {out['actions']} actions: {frames} frames, {packets} packets, "
          f"{sent / max(1, packets) / 1000:.2f} KB a packet")
    for name, cpu in out["parts"].items():
        print(f"  {name:8s} {cpu / frames * 1e6:7.1f} µs per session-frame")
    print(f"  {'total':8s} {total / frames * 1e6:7.1f} µs per session-frame "
          f"({total / args.seconds * 100:.0f} % of a core for these sessions in real time)")
    print("  garbage collections within them: " + ", ".join(
        f"generation {g} {n} × ({t / frames * 1e6:.1f} µs per session-frame)"
        for g, (n, t) in sorted(collections.runs.items())))
    if args.profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
