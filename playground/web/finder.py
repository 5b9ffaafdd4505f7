""""Find a counterexample" from the browser: the search in a worker process.

A :class:`Finder` runs ``playground.search`` on a session's scenario in a process of its
own (``multiprocessing``, spawned), never on the server's event loop, so the search's
minutes of CPU do not slow any session's frames; the worker also lowers its own CPU
priority (``os.nice``), so that on a machine short of cores the sessions come first. The
worker reports over a pipe: its progress every quarter of a second (tries, elapsed
seconds, and once something breaks, the size of the smallest counterexample so far while
it shrinks), then its result. The web layer polls a finder from a background task
(:class:`Searches`) and forwards what it reads; ``cancel`` ends the worker process at once.

A found counterexample comes back as a scenario whose narrative says it was found by
search and names each fault at its time, ready to open as a new session and share.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time

from ..engine.errors import ScenarioError
from ..scenarios import share
from ..scenarios.schema import validate

log = logging.getLogger(__name__)

PROGRESS_EVERY = 0.25  # s between progress reports
WORKER_NICE = 10  # how much lower the worker's CPU priority is than the server's


def _work(scenario: dict, invariants, tries: int, seconds: float, conn) -> None:
    """The worker process: search, shrink, report; never raises across the pipe."""
    from .. import search

    try:  # below the server: its sessions' frames come first when the cores are busy
        os.nice(WORKER_NICE)
    except OSError:
        pass

    start = time.monotonic()
    last = 0.0
    state = {"tries": 0, "phase": "searching", "best": None}
    parent = os.getppid()

    def report(force=False):
        nonlocal last
        now = time.monotonic()
        if force or now - last >= PROGRESS_EVERY:
            last = now
            send({"progress": {**state, "elapsed": round(now - start, 2)}})

    def orphaned() -> None:
        if os.getppid() != parent:  # the server is gone: nobody will read the answer
            os._exit(0)

    def send(msg: dict) -> None:
        try:
            conn.send(msg)
        except OSError:  # the server closed its end or died: end quietly
            os._exit(0)

    def deadline() -> bool:
        orphaned()
        state["tries"] += 1
        report()
        return time.monotonic() - start > seconds

    try:
        found = search.search(scenario, tries, invariants=invariants, deadline=deadline,
                              script=False, **search.BROAD)
        if found is None:
            state["tries"] = min(state["tries"], tries)
            report(force=True)
            send({"result": None})
            return
        state.update(tries=found.tries, phase="shrinking",
                     best=len(found.scenario["commands"]))
        report(force=True)

        def shrinking(runs, best):
            orphaned()
            state.update(shrink_runs=runs, best=len(best.scenario["commands"]))
            report()

        small = search.shrink(found, budget=200, progress=shrinking)
        state["best"] = len(small.scenario["commands"])
        report(force=True)
        send({"result": {"scenario": narrated(small.scenario, small.invariants,
                                                   found.tries),
                              "invariants": small.invariants,
                              "faults": small.scenario["commands"],
                              "violations": small.report["violations"][:5]}})
    except Exception as exc:  # a model bug the search tripped over: say so, plainly
        send({"error": f"the search stopped: {type(exc).__name__}: {exc}"[:300]})
    finally:
        conn.close()


def narrated(scenario: dict, invariants: list, tries: int) -> dict:
    """The counterexample with captions: found by search, then each fault at its time."""
    faults = scenario["commands"]
    captions = [{"at_ms": 0, "pause": True,
                 "text": f"Found by search in {tries} random fault schedules: these "
                         f"{len(faults)} command(s) break {', '.join(invariants)}. "
                         "Play to watch it happen."}]
    for cmd in faults[:40]:
        words = " ".join(f"{k}={v}" for k, v in cmd.items() if k not in ("at_ms", "type"))
        captions.append({"at_ms": cmd["at_ms"], "text": f"{cmd['type']} {words}"[:600]})
    title = f"Found by search: {', '.join(invariants)} broken in {len(faults)} step(s)"
    kept = {k: v for k, v in scenario.items() if k not in ("expected", "claims", "name")}
    return validate({**kept, "title": title[:200], "narrative": captions,
                     "description": captions[0]["text"],
                     "expected": {"violations": sorted(set(invariants))}})


class Finder:
    """One search in a worker process, and what it has reported so far."""

    def __init__(self, scenario: dict, *, invariants=None, tries: int = 5000,
                 seconds: float = 60.0):
        self.progress: dict = {"tries": 0, "phase": "starting", "best": None, "elapsed": 0}
        self.result: dict | None = None
        self.error: str | None = None
        self.done = False
        self._reaped = False
        self.limit = {"tries": tries, "seconds": seconds}
        ours, theirs = multiprocessing.Pipe(duplex=False)
        self._conn = ours
        ctx = multiprocessing.get_context("spawn")
        self.process = ctx.Process(target=_work, daemon=True, name="playground-search",
                                   args=(scenario, invariants, tries, seconds, theirs))
        self.process.start()
        theirs.close()

    def poll(self) -> bool:
        """Read what the worker sent (without waiting); True when something changed."""
        changed = False
        try:
            while not self.done and self._conn.poll():
                msg = self._conn.recv()
                changed = True
                if "progress" in msg:
                    self.progress = msg["progress"]
                elif "result" in msg:
                    self.result = msg["result"]
                    self.done = True
                elif "error" in msg:
                    self.error = msg["error"]
                    self.done = True
        except (EOFError, OSError):
            if not self.done:
                self.error = self.error or "the search worker ended without an answer"
                self.done = changed = True
        if self.done:
            self._reap()
        return changed

    def fraction(self) -> float:
        """How far along, 0 to 1: tries or time, whichever is further."""
        p = self.progress
        return 1.0 if self.done else min(1.0, max(p["tries"] / self.limit["tries"],
                                                  p["elapsed"] / self.limit["seconds"]))

    def cancel(self) -> None:
        """End the worker now."""
        if not self.done:
            self.done = True
            self.error = "cancelled"
        self._reap()

    def _reap(self) -> None:
        # Once: under eventlet a second greenlet waiting on the same process would be a
        # second simultaneous wait on its sentinel, which eventlet refuses.
        if self._reaped:
            return
        self._reaped = True
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(1)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(1)
        self._conn.close()


def check_limits(running: int, limit: int) -> None:
    """Refuse a search beyond the process's limit, with a clear error."""
    if running >= limit:
        raise ScenarioError(f"{running} searches are running on this server, its limit; try "
                            "again when one has finished")


POLL_EVERY = 0.2  # s between two reads of a worker's pipe
SHRINK_GRACE = 30.0  # s a worker may shrink after its search time is up


class Searches:
    """The searches of one server process, at most one per session and ``MAX_SEARCHES``
    in all; each polled by a background task that forwards its progress to the session's
    room as ``search`` events and ends it after its time (and a grace to shrink)."""

    def __init__(self, socketio, config):
        self.socketio = socketio
        self.config = config
        self.running: dict[str, Finder] = {}  # session id -> its search

    def start(self, session_id: str, scenario: dict, invariant: str | None,
              room: str) -> Finder:
        """Start a search of ``scenario`` for ``session_id`` (ScenarioError over a limit)."""
        if session_id in self.running:
            raise ScenarioError("a search is already running for this session: cancel it or "
                                "wait for its answer")
        check_limits(len(self.running), self.config["MAX_SEARCHES"])
        finder = Finder(scenario, invariants=[invariant] if invariant else None,
                        tries=self.config["SEARCH_TRIES"],
                        seconds=self.config["SEARCH_SECONDS"])
        self.running[session_id] = finder
        self.socketio.start_background_task(self._follow, session_id, finder, room)
        return finder

    def cancel(self, session_id: str) -> bool:
        """End the session's search now; False when it has none."""
        finder = self.running.pop(session_id, None)
        if finder is None:
            return False
        finder.cancel()
        return True

    def _follow(self, session_id: str, finder: Finder, room: str) -> None:
        cutoff = time.monotonic() + finder.limit["seconds"] + SHRINK_GRACE
        try:
            while True:
                self.socketio.sleep(POLL_EVERY)
                changed = finder.poll()
                if not finder.done and time.monotonic() > cutoff:
                    finder.cancel()
                    finder.error = (f"the search ran out of its {finder.limit['seconds']:g} s "
                                    "(and the time to shrink what it found)")
                if finder.done:
                    break
                if changed:
                    self.socketio.emit("search", self.status(session_id, finder), to=room)
        except Exception:  # the worker's pipe broke: stop it, say so
            log.exception("search of session %s failed", session_id)
            finder.cancel()
            finder.error = "the search failed on the server (the error is in its log)"
        finally:
            if self.running.get(session_id) is finder:
                del self.running[session_id]
        self.socketio.emit("search", self.status(session_id, finder), to=room)

    @staticmethod
    def status(session_id: str, finder: Finder) -> dict:
        """A search as the browser sees it (the ``search`` event of docs/protocol.md)."""
        out = {"session": session_id, "progress": finder.progress,
               "fraction": round(finder.fraction(), 3), "limit": finder.limit,
               "done": finder.done, "error": finder.error}
        if finder.done and finder.error is None:
            found = finder.result
            out["found"] = None if found is None else {
                "invariants": found["invariants"], "faults": found["faults"],
                "violations": found["violations"], "title": found["scenario"]["title"],
                "share_url": share.link_path(found["scenario"])}
        return out
