"""Room figures: frames to a room's members, and how fast they follow a new session.

    python benchmarks/room_fanout.py [--members 200] [--seconds 8] [--switches 3]
                                     [--nodes 5]

Starts ``python app.py`` (eventlet, the production path) on a free port of 127.0.0.1,
with the per-address request limits raised (every member connects from 127.0.0.1,
where a lecture hall's phones would each have their own address). A presenter (a
python-socketio client) runs a Raft cluster of ``--nodes`` and opens a room; ``--members``
minimal Engine.IO websocket clients, read by ``--readers`` processes (one thread each,
so the load generator stays cheap), join the room and then the session it names, as
the page does.

* **Frames**: the presenter plays at speed 1 (the runner emits up to 30 frames a
  second); the figure is the frame rate each member received over ``--seconds``
  (min, p50) against what the presenter's session emitted.
* **Follow**: the presenter starts a new run (another seed), joins it (as the page
  does before it points the room) and points
  the room at it, ``--switches`` times; the figure is the wall time from the presenter's
  ``room_set`` to each member's first full frame of the new session (p50, p99, max over
  every member and switch). One frame interval is 33 ms.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import selectors
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playground.stats import percentile  # noqa: E402
from tests.web.serve import Client, RawClient, start_server, stop  # noqa: E402


def pct(values: list, p: float) -> float:
    return percentile(sorted(values), p)


class Member(RawClient):
    """A room member: ``room_join`` on connect, then ``join`` of the session it names;
    later sessions (``room`` events) it is moved to by the server, as the page is."""

    def __init__(self, host: str, port: int, room: str):
        self.room = room
        self.session = None
        self.asked: dict[int, str] = {}  # ack id -> what it answers
        self.followed: dict[str, float] = {}  # session -> arrival of its first full frame
        self.pending = None  # the session joined last, waiting for its first full frame
        super().__init__(host, port, session_id="")

    def message(self, start: bytes, now: float) -> None:
        if start.startswith(b"40") and self.state == "connecting":
            self.state = "joined"
            self.asked[self.send("room_join", {"room": self.room})] = "room_join"
            return
        if start.startswith(b'42["room"'):
            # only the message's first 120 bytes are read: the session id is among them
            # (the server moves this member itself, as the page expects: no join)
            self.session = self.pending = re.search(rb'"session":"([A-Za-z0-9_-]+)"',
                                                    start).group(1).decode()
            return
        super().message(start, now)
        if start.startswith(b'42["frame"') and self.pending and self.fulls[-1]:
            self.followed.setdefault(self.pending, now)
            self.pending = None

    def follow(self, session: str) -> None:
        self.session = session
        self.pending = session
        self.send("join", {"session": session})

    def answered(self) -> None:
        """Act on request answers: the room's current session once joined."""
        for ack in list(self.asked):
            answer = self.acks.pop(ack, None)
            if answer is not None and self.asked.pop(ack) == "room_join" and answer.get("ok"):
                self.follow(answer["session"])


def pump(sel, members, until: float) -> None:
    while time.monotonic() < until:
        for key, _ in sel.select(timeout=0.005):
            key.data.feed(time.monotonic())
        for m in members:
            if m.asked:
                m.answered()


def members_process(host: str, port: int, room: str, n: int, first: str, ready, until,
                    out) -> None:
    """``n`` members on one thread until ``until`` (wall clock, monotonic); then each
    member's frame arrival times and first full frame of each session, sent to ``out``."""
    members = [Member(host, port, room) for _ in range(n)]
    sel = selectors.DefaultSelector()
    for m in members:
        sel.register(m.sock, selectors.EVENT_READ, m)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all(first in m.followed for m in members):
        pump(sel, members, time.monotonic() + 0.05)
    ready.put(sum(first in m.followed for m in members))
    end = until.get()
    pump(sel, members, end)
    out.put([(m.times, m.followed) for m in members])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--members", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--switches", type=int, default=3)
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--readers", type=int, default=2, help="processes reading the members")
    args = ap.parse_args()
    limits = {"PLAYGROUND_CONTROLS_PER_SECOND": "100000", "PLAYGROUND_CREATES_PER_SECOND": "100"}
    proc, url = start_server(env=limits)
    host, port = url.rsplit("//", 1)[1].split(":")
    presenter = None
    workers = []
    try:
        presenter = Client(url)

        def scenario(seed):
            return {"model": "raft", "seed": seed, "nodes": args.nodes, "duration_ms": 120_000}

        def start(seed):
            made = presenter.call("create", {"scenario": scenario(seed)})
            ids = {"session": made["session"], "token": made["token"]}
            presenter.call("join", ids)  # as the page does before it points the room
            presenter.wait_for(lambda f: f.get("full") and f["session"] == made["session"])
            return ids

        ids = start(1)
        opened = presenter.call("room_open", {})
        room = {"room": opened["room"], "token": opened["token"]}
        presenter.call("room_set", {**room, "session": ids["session"],
                                    "session_token": ids["token"]})
        ctx = multiprocessing.get_context("fork")
        ready, until, out = ctx.Queue(), ctx.Queue(), ctx.Queue()
        share = [args.members // args.readers + (i < args.members % args.readers)
                 for i in range(args.readers)]
        for n in share:
            w = ctx.Process(target=members_process, args=(host, int(port), opened["room"], n,
                                                          ids["session"], ready, until, out))
            w.start()
            workers.append(w)
        joined = sum(ready.get(timeout=60) for _ in workers)
        plan = args.seconds + 2.5 * args.switches + 1
        end = time.monotonic() + plan
        for _ in workers:
            until.put(end)

        # Frames: play at speed 1 for --seconds.
        presenter.take()
        presenter.call("control", {**ids, "op": "play"})
        t0 = time.monotonic()
        time.sleep(args.seconds)
        t1 = time.monotonic()
        presenter.call("control", {**ids, "op": "pause"})
        emitted = sum(1 for f in presenter.take() if t0 <= f["_received"] <= t1)

        # Follow: a new run, the room pointed at it; time to each member's full frame.
        switches = []
        for k in range(args.switches):
            other = start(10 + k)
            sent = time.monotonic()
            presenter.call("room_set", {**room, "session": other["session"],
                                        "session_token": other["token"]})
            switches.append((other["session"], sent))
            time.sleep(2.0)
        results = [m for _ in workers for m in out.get(timeout=plan + 60)]
        rates = [sum(1 for t in times if t0 <= t <= t1) / (t1 - t0) for times, _ in results]
        follow_ms = [(followed[sid] - sent) * 1000 for sid, sent in switches
                     for _, followed in results if sid in followed]
        missed = len(switches) * len(results) - len(follow_ms)
        print(f"room of {args.members} members ({joined} joined, read by {args.readers} "
              f"processes), one server process (eventlet), Raft with {args.nodes} nodes")
        print(f"frames: presenter's session emitted {emitted / (t1 - t0):.1f}/s; members "
              f"received min {min(rates):.1f}/s, p50 {statistics.median(rates):.1f}/s")
        print(f"follow a new session ({args.switches} switches): p50 "
              f"{pct(follow_ms, 50):.0f} ms, p99 {pct(follow_ms, 99):.0f} ms, max "
              f"{max(follow_ms):.0f} ms (room_set to each member's first full frame)"
              + (f"; {missed} never followed" if missed else ""))
    finally:
        for w in workers:
            w.join(timeout=30)
            if w.is_alive():
                w.terminate()
        if presenter is not None:
            presenter.close()
        stop(proc)


if __name__ == "__main__":
    main()
