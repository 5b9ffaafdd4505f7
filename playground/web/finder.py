""""Find a counterexample" from the browser: the search in a worker process.

A :class:`Finder` runs ``playground.search`` on a session's scenario in a process of its
own (``multiprocessing``, spawned), never on the server's event loop, so the search's
minutes of CPU do not slow any session's frames. The worker reports over a pipe: its
progress every quarter of a second (tries, elapsed seconds, and once something breaks,
the size of the smallest counterexample so far while it shrinks), then its result. The
web layer polls a finder from a background task and forwards what it reads; ``cancel``
ends the worker process at once.

A found counterexample comes back as a scenario whose narrative says it was found by
search and names each fault at its time, ready to open as a new session and share.
"""

from __future__ import annotations

import multiprocessing
import time

from ..engine.errors import ScenarioError
from ..scenarios.schema import validate

PROGRESS_EVERY = 0.25  # s between progress reports


def _work(scenario: dict, invariants, tries: int, seconds: float, conn) -> None:
    """The worker process: search, shrink, report; never raises across the pipe."""
    from .. import search

    start = time.monotonic()
    last = 0.0
    state = {"tries": 0, "phase": "searching", "best": None}

    def report(force=False):
        nonlocal last
        now = time.monotonic()
        if force or now - last >= PROGRESS_EVERY:
            last = now
            conn.send({"progress": {**state, "elapsed": round(now - start, 2)}})

    def deadline() -> bool:
        state["tries"] += 1
        report()
        return time.monotonic() - start > seconds

    try:
        found = search.search(scenario, tries, invariants=invariants, deadline=deadline,
                              script=False, **search.BROAD)
        if found is None:
            state["tries"] = min(state["tries"], tries)
            report(force=True)
            conn.send({"result": None})
            return
        state.update(tries=found.tries, phase="shrinking",
                     best=len(found.scenario["commands"]))
        report(force=True)

        def shrinking(runs, best):
            state.update(shrink_runs=runs, best=len(best.scenario["commands"]))
            report()

        small = search.shrink(found, budget=200, progress=shrinking)
        state["best"] = len(small.scenario["commands"])
        report(force=True)
        conn.send({"result": {"scenario": narrated(small.scenario, small.invariants,
                                                   found.tries),
                              "invariants": small.invariants,
                              "faults": small.scenario["commands"],
                              "violations": small.report["violations"][:5]}})
    except Exception as exc:  # a model bug the search tripped over: say so, plainly
        conn.send({"error": f"the search stopped: {type(exc).__name__}: {exc}"[:300]})
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
