"""The deterministic step engine: one queue, simulated time, one seed.

Theory of operation
-------------------
A :class:`Simulation` runs one model over a set of nodes in simulated time (integer
microseconds). Everything that can happen is an entry in one binary heap ordered by
``(time, seq)``: the sequence number is unique and increasing, so ties break in the
order events were scheduled, identically in every process. Commands (faults and client
requests) live in a separate list sorted by time and run *after* every event of their
time, which is what a live user acting "now" sees; that makes a recorded session and
its replay identical.

* **Nodes** are alive, crashed or paused. A crash rebuilds the state from the model's
  durable fields and forgets timers and queued input; a restart calls ``on_start``. A
  paused node processes nothing: deliveries and timer firings queue in its backlog and
  run, in order, when it resumes.
* **Clocks**: node ``i`` reads ``offset + true_time × rate_ppm / 10⁶``. Timers are set in
  local time and converted to a true due time; when a clock is skewed, drifted or jumped
  the node's armed timers are re-converted, so a fast clock times out early in true time.
* **Timers re-armed later** (an election timer reset by every heartbeat) do not each add
  a heap entry: the entry already queued carries the new arming and, when it comes up,
  re-queues itself at the new due time under the new arming's sequence number. Events
  come out in exactly the order one entry per arming would give, with a fraction of the
  heap traffic.
* **Network**: directed links with a latency range, loss and duplication, drawn from one
  random stream per directed link; cuts are directed pairs; a partition assigns each node
  a group. A cut is checked when a message is sent and again when it arrives, so cutting
  a link loses what is on the wire. Every message in flight is visible and droppable.
* **Trace**: an append-only list of records ``(time, kind, node, cause, data)``; ``cause``
  is the index of the record that caused this one (the delivery or timer whose handler
  sent a message, the send of a delivered message), enough for a space-time diagram.
  A message's id is the index of its ``send`` record.
* **Invariants**: after each event the model's ``check`` runs with the node that changed;
  each distinct violation is recorded once, with time, event index and detail.
* **Checkpoints**: ``save``/``load`` pickle the whole dynamic state (not the model, the
  command list or the trace, which is append-only and truncated on load), so the history
  layer can seek and fork.

Per event the work is a heap pop, a dictionary look-up or two and the handler: O(log n)
in the number of queued events, never a scan of all nodes or messages.
"""

from __future__ import annotations

import bisect
import dataclasses
import gc
import io
import pickle
import zlib
import inspect
import itertools
from contextlib import contextmanager
from dataclasses import dataclass
from heapq import heappop, heappush
from operator import attrgetter

from ..models.base import Status
from ..stats import summarize
from . import commands as C
from .errors import ScenarioError
from .rng import GAMMA, MASK, TWO64, Stream
from .trace import Trace

INF = float("inf")
PPM = 1_000_000

DELIVER = 0
TIMER = 1
BACKLOG = 2  # a queued delivery or timer re-run after a resume
WAKE = 3  # in a BACKLOG entry: the end of a pause with a duration



ALIVE, CRASHED, PAUSED = Status.ALIVE, Status.CRASHED, Status.PAUSED


@dataclass(frozen=True, slots=True)
class Violation:
    """One distinct invariant violation, as the checker saw it."""

    invariant: str
    at: int  # true time, µs
    event: int  # trace index of the record after which it was seen
    node: str | None
    detail: str


class Node:
    """One simulated node: status, model state, clock and armed timers."""

    __slots__ = ("id", "status", "state", "offset", "rate", "timers", "backlog", "rng",
                 "peers", "paused_by")

    def __init__(self, node_id: str, state, rng: Stream, peers: tuple):
        self.id = node_id
        self.status = ALIVE
        self.state = state
        self.offset = 0  # µs
        self.rate = PPM  # parts per million of true speed
        # name -> (seq, local due, cause, seq of its heap entry, that entry's true due)
        self.timers: dict[str, tuple[int, int, int, int, float]] = {}
        self.backlog: list = []
        self.rng = rng
        self.peers = peers
        self.paused_by = -1  # the trace index of the command that paused it

    def __getstate__(self):
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, values):
        for slot, value in zip(self.__slots__, values):
            setattr(self, slot, value)

    def local(self, true_time: int) -> int:
        if self.rate == PPM:
            return self.offset + true_time
        return self.offset + true_time * self.rate // PPM

    def true_at(self, local_time: int) -> int:
        """The earliest true time at which this clock reads ``local_time``."""
        if self.rate == PPM:
            return local_time - self.offset
        return -((-(local_time - self.offset) * PPM) // self.rate)


class Link:
    """Parameters of one directed link (and, for the latency draw, the width of its
    latency range and that width's rejection limit; see ``Stream.randint``)."""

    __slots__ = ("lo", "hi", "loss", "duplicate", "span", "limit")

    def __init__(self, lo: int, hi: int, loss: float, duplicate: float):
        if hi < lo:
            raise ValueError(f"empty latency range [{lo}, {hi}]")
        self.lo, self.hi, self.loss, self.duplicate = lo, hi, loss, duplicate
        self.span = hi - lo + 1
        self.limit = TWO64 - TWO64 % self.span

    def __getstate__(self):
        return (self.lo, self.hi, self.loss, self.duplicate)

    def __setstate__(self, v):
        self.__init__(*v)


class Context:
    """The handler's view of the engine (see ``playground.models.base.Context``).

    Each node has its own, bound to it for good; the engine sets ``now``, the node's
    clock reading, before each of the node's events (time stands still during one).
    """

    __slots__ = ("sim", "node", "peers", "params", "variant", "ghost", "rng", "now", "_n")

    def __init__(self, sim: "Simulation", node: Node):
        self.sim = sim
        self.params = sim.params
        self.variant = sim.variant
        self.ghost = sim.ghost
        self._n = node
        self.node = node.id
        self.peers = node.peers
        self.rng = node.rng
        self.now = node.local(sim.now)

    def send(self, to: str, msg) -> None:
        """Record the send and put the message on the wire (or drop it: cut, lost)."""
        sim = self.sim
        src = self.node
        pair = (src, to)
        rng = sim.link_rngs.get(pair)
        if rng is None:
            if to not in sim.nodes:
                raise ValueError(f"model sent {type(msg).__name__} to unknown node {to!r}")
            rng = sim.link_rngs[pair] = Stream.for_purpose(sim.seed, f"net:{src}>{to}")
        now = sim.now
        mid = sim.trace.add(now, "send", src, sim.cause, (to, type(msg).__name__, msg))
        sim.sent += 1
        if sim.cuts and pair in sim.cuts or sim.groups and sim._parted(src, to):
            sim._drop(mid, src, to, msg, "link cut")
            return
        link = sim.links.get(pair, sim.default_link) if sim.links else sim.default_link
        if link.loss and rng.random() < link.loss:
            sim._drop(mid, src, to, msg, "lost")
            return
        # rng.randint(link.lo, link.hi), inlined with the link's precomputed limit: this
        # draw is a tenth of a run's time, and the call and the limit a third of that.
        span = link.span
        if span == 1:
            latency = link.lo
        else:
            limit = link.limit
            while True:
                rng.state = z = (rng.state + GAMMA) & MASK
                z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
                z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
                z ^= z >> 31
                if z < limit:
                    break
            latency = link.lo + z % span
        due = now + (latency if latency > 1 else 1)  # sim._enqueue, inlined
        sim.in_flight[mid] = (src, to, msg, now, due)
        sim.seq = seq = sim.seq + 1
        heappush(sim.queue, (due, seq, DELIVER, mid, None))
        if link.duplicate and rng.random() < link.duplicate:
            dup = sim.trace.add(now, "send", src, mid, (to, type(msg).__name__, msg))
            sim.sent += 1
            sim._enqueue(dup, src, to, msg, max(1, rng.randint(link.lo, link.hi)))

    def set_timer(self, name: str, delay: int) -> None:
        sim = self.sim
        node = self._n
        now = sim.now
        delay = int(delay)
        if delay < 1:
            delay = 1
        sim.seq = seq = sim.seq + 1
        if node.rate == PPM:  # node.local and node.true_at, inlined for a true-rate clock
            due_local = node.offset + now + delay
            due = now + delay
        else:
            due_local = node.local(now) + delay
            due = node.true_at(due_local)
            if due < now:
                due = now
        timers = node.timers
        old = timers.get(name)
        if old is not None and old[4] <= due:  # its queued entry comes up first: reuse it
            timers[name] = (seq, due_local, sim.cause, old[3], old[4])
            return
        timers[name] = (seq, due_local, sim.cause, seq, due)
        heappush(sim.queue, (due, seq, TIMER, node.id, name))

    def cancel_timer(self, name: str) -> None:
        self._n.timers.pop(name, None)

    def timer_armed(self, name: str) -> bool:
        return name in self._n.timers

    def tell(self, fact) -> None:
        sim = self.sim
        sim.trace.add(sim.now, "fact", self.node, sim.cause, fact)
        sim.facts.append(fact)

    def note(self, text: str, **fields) -> None:
        sim = self.sim
        sim.trace.add(sim.now, "note", self.node, sim.cause, (text, fields))

    def count(self, metric: str, n: int = 1) -> None:
        counters = self.sim.counters
        counters[metric] = counters.get(metric, 0) + n

    def observe(self, metric: str, value: float) -> None:
        self.sim.samples.setdefault(metric, []).append(value)


class Simulation:
    """One deterministic run of a model; see the module docstring."""

    def __init__(self, model, seed: int, *, latency=(10_000, 15_000), loss: float = 0.0,
                 duplicate: float = 0.0, commands=()):
        self.model = model
        self.seed = seed
        self.params = model.p
        self.variant = model.v
        self.ghost = model.init_ghost()
        self.now = 0
        self.seq = 0
        self.queue: list = []
        self.commands: list[tuple[int, object]] = sorted(commands, key=lambda c: c[0])
        self.cmd_pos = 0
        self.trace = Trace()
        self.cause = -1
        self.events = 0
        self.sent = self.delivered = self.dropped = 0
        self.counters: dict[str, int] = {}
        self.samples: dict[str, list] = {}
        self.violations: list[Violation] = []
        self.facts: list = []  # told by the event being handled; the checker reads them
        self._seen_violations: set = set()
        self.in_flight: dict[int, tuple] = {}  # id -> (src, dst, msg, sent_at, due_at)
        self.default_link = Link(latency[0], latency[1], loss, duplicate)
        self.links: dict[tuple[str, str], Link] = {}
        self.link_rngs: dict[tuple[str, str], Stream] = {}
        self.cuts: dict[tuple[str, str], bool] = {}
        self.groups: dict[str, int] | None = None
        ids = tuple(model.node_ids())
        if len(set(ids)) != len(ids):
            raise ValueError("model produced duplicate node ids")
        self.node_ids = ids
        self.nodes: dict[str, Node] = {
            nid: Node(nid, model.init_node(nid), Stream.for_purpose(seed, f"node:{nid}"),
                      model.peers_of(nid, ids))
            for nid in ids
        }
        self.contexts = {nid: Context(self, node) for nid, node in self.nodes.items()}
        for node in self.nodes.values():
            self._start(node, -1)

    # -- running ---------------------------------------------------------------------
    def next_time(self) -> float:
        """The time of the next event or command (inf when nothing is left)."""
        nt = self.queue[0][0] if self.queue else INF
        ct = self.commands[self.cmd_pos][0] if self.cmd_pos < len(self.commands) else INF
        return min(nt, ct)

    def run_until(self, t_end: int, limit: int | None = None) -> bool:
        """Process every event and command with time ≤ ``t_end``; the clock ends at ``t_end``.

        With ``limit``, stop after that many queue entries and commands if ``t_end`` is not
        reached by then: the clock stays at the last one run, possibly amid an instant,
        and a later call goes on exactly where this one stopped (the order of events is
        the queue's, whoever calls). True when ``t_end`` was reached.

        The cyclic garbage collector is paused meanwhile: events build no reference cycles,
        and its passes over the young trace records cost about a tenth of the run.
        """
        with _collector_paused():
            return self._run_until(t_end, -1 if limit is None else max(1, limit))

    def _run_until(self, t_end: int, limit: int) -> bool:
        queue = self.queue
        cmds = self.commands
        n_cmds = len(cmds)
        ct = cmds[self.cmd_pos][0] if self.cmd_pos < n_cmds else INF
        deliver, fire, rerun = self._deliver, self._fire, self._rerun
        while True:
            if not limit:
                return False
            limit -= 1
            nt = queue[0][0] if queue else INF
            if nt <= ct:
                if nt > t_end:
                    break
                time, seq, kind, a, b = heappop(queue)  # _dispatch, inlined
                self.now = time
                if kind == DELIVER:
                    deliver(a)
                elif kind == TIMER:
                    fire(seq, a, b)
                else:
                    rerun(a, b)
            else:
                if ct > t_end:
                    break
                self._run_command()
                n_cmds = len(cmds)
                ct = cmds[self.cmd_pos][0] if self.cmd_pos < n_cmds else INF
        if t_end > self.now:
            self.now = t_end
        return True

    def step(self) -> bool:
        """Process exactly one event or command; False when nothing is left."""
        nt = self.queue[0][0] if self.queue else INF
        ct = self.commands[self.cmd_pos][0] if self.cmd_pos < len(self.commands) else INF
        if nt == INF and ct == INF:
            return False
        if nt <= ct:
            self._dispatch(heappop(self.queue))
        else:
            self._run_command()
        return True

    def schedule(self, at: int, cmd) -> None:
        """Add a command at time ``at`` (not in the past), after any command already there."""
        if at < self.now:
            raise ScenarioError("a command cannot be scheduled in the past; fork instead")
        times = [c[0] for c in self.commands]
        pos = max(bisect.bisect_right(times, at), self.cmd_pos)
        self.commands.insert(pos, (at, cmd))

    def apply(self, cmd) -> None:
        """Apply a command now, after every event and command of the current instant (a
        live action; see ``History.act`` for one on a timeline with a past)."""
        self.schedule(self.now, cmd)
        self.run_until(self.now)

    def finish(self) -> None:
        """Run the model's end-of-run checks ("eventually" properties)."""
        for inv, detail in self.model.check_final(self):
            self._violation(inv, None, detail)

    # -- events ----------------------------------------------------------------------
    def _dispatch(self, entry) -> None:
        time, seq, kind, a, b = entry
        self.now = time
        if kind == DELIVER:
            self._deliver(a)
        elif kind == TIMER:
            self._fire(seq, a, b)
        else:
            self._rerun(a, b)

    def _deliver(self, mid: int) -> None:
        flight = self.in_flight.pop(mid, None)
        if flight is None:
            return  # dropped by a user while in flight
        src, dst, msg, _sent, _due = flight
        node = self.nodes[dst]
        if self.cuts and (src, dst) in self.cuts or self.groups and self._parted(src, dst):
            self._drop(mid, src, dst, msg, "link cut while in flight")
            return
        status = node.status
        if status is CRASHED:
            self._drop(mid, src, dst, msg, f"{dst} is crashed")
            return
        if status is PAUSED:
            node.backlog.append((DELIVER, mid, flight))
            return
        self._handle_message(node, mid, src, msg)

    def _handle_message(self, node: Node, mid: int, src: str, msg) -> None:
        nid = node.id
        self.cause = self.trace.add(self.now, "deliver", nid, mid, None)  # data: the send's
        self.delivered += 1
        self.events += 1
        ctx = self.contexts[nid]
        now = self.now  # self._context(node), inlined on the hot path
        ctx.now = node.offset + now if node.rate == PPM else node.local(now)
        model = self.model
        model.on_message(node.state, msg, src, ctx)
        found = model.check(self, nid)  # self._check(nid), inlined
        if self.facts:
            self.facts = []
        if found:
            for inv, detail in found:
                self._violation(inv, nid, detail)

    def _fire(self, seq: int, nid: str, name: str) -> None:
        node = self.nodes[nid]
        armed = node.timers.get(name)
        if armed is None:
            return  # cancelled
        if armed[0] != seq:
            if armed[3] == seq:  # re-armed later: this entry moves to the new due time
                due = node.true_at(armed[1])
                if due < self.now:
                    due = self.now
                node.timers[name] = (armed[0], armed[1], armed[2], armed[0], due)
                heappush(self.queue, (due, armed[0], TIMER, nid, name))
            return  # re-armed (an older entry of a timer armed anew)
        if node.status is PAUSED:
            parked = node.timers[name] = (seq, armed[1], armed[2], -1, INF)  # in no entry
            node.backlog.append((TIMER, name, parked))
            return
        del node.timers[name]
        self._handle_timer(node, name, armed[2])

    def _handle_timer(self, node: Node, name: str, cause: int) -> None:
        self.cause = self.trace.add(self.now, "timer", node.id, cause,
                                    self.trace.intern((name,)))
        self.events += 1
        self.model.on_timer(node.state, name, self._context(node))
        self._check(node.id)

    def _rerun(self, nid: str, item) -> None:
        """Run one backlog item of a resumed node, unless it crashed or paused again."""
        node = self.nodes[nid]
        kind, a, b = item
        if kind == WAKE:  # a pause with a duration ends, unless it already has
            if node.status is PAUSED and node.paused_by == a:
                self.cause = self.trace.add(self.now, "command", nid, a,
                                            ({"type": "resume", "node": nid, "after_ms": b},))
                self.events += 1
                self._resume(node)
                self._check(nid)
            return
        if node.status is PAUSED:
            node.backlog.append(item)
            return
        if kind == DELIVER:
            src, dst, msg, _s, _d = b
            if node.status is CRASHED:
                self._drop(a, src, dst, msg, f"{dst} is crashed")
            else:
                self._handle_message(node, a, src, msg)
        elif node.status is ALIVE:
            armed = node.timers.get(a)
            if armed is b:  # still the same arming
                del node.timers[a]
                self._handle_timer(node, a, b[2])

    def _context(self, node: Node) -> Context:
        """The node's handler context, its clock read for the event about to run."""
        ctx = self.contexts[node.id]
        ctx.now = node.local(self.now)
        return ctx

    def _check(self, nid: str | None) -> None:
        found = self.model.check(self, nid)
        if self.facts:
            self.facts = []
        if found:
            for inv, detail in found:
                self._violation(inv, nid, detail)

    def _violation(self, inv: str, nid: str | None, detail: str) -> None:
        key = (inv, detail)
        if key in self._seen_violations:
            return
        self._seen_violations.add(key)
        index = self.trace.add(self.now, "violation", nid, self.cause, (inv, detail))
        self.violations.append(Violation(inv, self.now, index, nid, detail))

    # -- effects ---------------------------------------------------------------------
    def _enqueue(self, mid: int, src: str, dst: str, msg, latency: int) -> None:
        due = self.now + latency
        self.in_flight[mid] = (src, dst, msg, self.now, due)
        self.seq += 1
        heappush(self.queue, (due, self.seq, DELIVER, mid, None))

    def _drop(self, mid: int, src: str, dst: str, msg, reason: str) -> None:
        self.trace.add(self.now, "drop", dst, mid,
                       self.trace.intern((src, type(msg).__name__, reason)))
        self.dropped += 1

    def _parted(self, src: str, dst: str) -> bool:
        return self.groups.get(src, -1) != self.groups.get(dst, -1)

    def _rearm_all(self, node: Node) -> None:
        """Re-convert a node's armed timers after its clock changed."""
        for name, (_seq, due_local, cause, _entry, _due) in list(node.timers.items()):
            self.seq += 1
            due = max(node.true_at(due_local), self.now)
            node.timers[name] = (self.seq, due_local, cause, self.seq, due)
            heappush(self.queue, (due, self.seq, TIMER, node.id, name))

    def _start(self, node: Node, cause: int) -> None:
        self.cause = self.trace.add(self.now, "start", node.id, cause, ())
        self.model.on_start(node.state, self._context(node))
        self._check(node.id)

    # -- commands --------------------------------------------------------------------
    def _run_command(self) -> None:
        at, cmd = self.commands[self.cmd_pos]
        self.cmd_pos += 1
        self.now = max(self.now, at)
        roles = C.roles_in(cmd) if type(cmd) is not C.ClientCommand else ()
        if not roles:
            wire = C.to_json(cmd)
        else:  # aimed at roles: whoever plays each now, recorded with the nodes it hit
            nodes = {role: self.model.resolve_role(self, role) for role in roles}
            missing = [role for role, nid in nodes.items() if nid is None]
            if missing:
                wire = {**C.to_json(cmd), "roles": nodes}
                self.cause = index = self.trace.add(self.now, "command", None, -1, (wire,))
                self.events += 1
                self.trace.add(self.now, "note", None, index,
                               (f"{wire['type']} skipped: no node is {' or '.join(missing)} "
                                "now", {}))
                return
            cmd = C.resolved(cmd, nodes)
            wire = {**C.to_json(cmd), "roles": nodes}
        self.cause = index = self.trace.add(self.now, "command", C.target(cmd), -1, (wire,))
        self.events += 1
        self._apply_command(cmd, index)

    def _apply_command(self, cmd, index: int) -> None:
        kind = type(cmd)
        if kind is C.ClientCommand:
            command = {"type": cmd.type, **cmd.fields}
            nid = self.model.command_target(command, self)
            node = self.nodes[nid]
            if node.status is not ALIVE:
                self.trace.add(self.now, "note", nid, index,
                               (f"{cmd.type} refused: {nid} is {node.status}", {}))
                return
            self.model.on_command(node.state, command, self._context(node))
            self._check(nid)
            return
        if kind is C.Crash:
            self._crash(self.nodes[cmd.node])
        elif kind is C.Restart:
            node = self.nodes[cmd.node]
            if node.status is CRASHED:
                node.status = ALIVE
                self._start(node, index)
        elif kind is C.Pause:
            node = self.nodes[cmd.node]
            if node.status is ALIVE:
                node.status = PAUSED
                node.paused_by = index
                if cmd.duration:
                    self.seq += 1
                    heappush(self.queue, (self.now + cmd.duration, self.seq, BACKLOG,
                                          node.id, (WAKE, index, cmd.duration / 1000)))
        elif kind is C.Resume:
            self._resume(self.nodes[cmd.node])
        elif kind is C.Cut:
            self.cuts[(cmd.src, cmd.dst)] = True
            if not cmd.oneway:
                self.cuts[(cmd.dst, cmd.src)] = True
        elif kind is C.Heal:
            if cmd.src is None:
                self.cuts.clear()
                self.groups = None
            else:
                self.cuts.pop((cmd.src, cmd.dst), None)
                self.cuts.pop((cmd.dst, cmd.src), None)
        elif kind is C.Partition:
            groups = {nid: -1 for nid in self.node_ids}
            for gid, group in enumerate(cmd.groups):
                for nid in group:
                    groups[nid] = gid
            self.groups = groups
        elif kind is C.DropMessage:
            flight = self.in_flight.pop(cmd.message, None)
            if flight is None:
                self.trace.add(self.now, "note", None, index,
                               (f"message {cmd.message} is not in flight", {}))
            else:
                self._drop(cmd.message, flight[0], flight[1], flight[2], "dropped by user")
        elif kind is C.SetLink:
            for pair in ((cmd.src, cmd.dst),) if cmd.oneway else ((cmd.src, cmd.dst),
                                                                    (cmd.dst, cmd.src)):
                old = self.links.get(pair, self.default_link)
                self.links[pair] = Link(
                    *(cmd.latency if cmd.latency is not None else (old.lo, old.hi)),
                    old.loss if cmd.loss is None else cmd.loss,
                    old.duplicate if cmd.duplicate is None else cmd.duplicate)
        elif kind is C.SetNetwork:
            old = self.default_link
            self.default_link = Link(
                *(cmd.latency if cmd.latency is not None else (old.lo, old.hi)),
                old.loss if cmd.loss is None else cmd.loss,
                old.duplicate if cmd.duplicate is None else cmd.duplicate)
        elif kind is C.SkewClock:
            node = self.nodes[cmd.node]
            node.offset = self.now + cmd.offset - node.local(self.now) + node.offset
            self._rearm_all(node)
        elif kind is C.DriftClock:
            node = self.nodes[cmd.node]
            reading = node.local(self.now)
            node.rate = max(1, int(round(cmd.rate * PPM)))
            node.offset = 0
            node.offset = reading - node.local(self.now)
            self._rearm_all(node)
        elif kind is C.JumpClock:
            node = self.nodes[cmd.node]
            node.offset += cmd.by
            self._rearm_all(node)
        else:
            raise TypeError(f"not a command: {cmd!r}")
        self._check(getattr(cmd, "node", None))

    def _crash(self, node: Node) -> None:
        if node.status is CRASHED:
            return
        for kind, a, b in node.backlog:
            if kind == DELIVER:
                self._drop(a, b[0], b[1], b[2], f"{node.id} crashed with it queued")
        node.backlog = []
        node.timers = {}
        node.status = CRASHED
        old = node.state
        fresh = self.model.init_node(node.id)
        for name in self.model.durable:  # a model with several node kinds names each
            if hasattr(old, name):  # kind's durable fields; a node keeps those it has
                setattr(fresh, name, getattr(old, name))
        node.state = fresh

    def _resume(self, node: Node) -> None:
        if node.status is not PAUSED:
            return
        node.status = ALIVE
        backlog, node.backlog = node.backlog, []
        for item in backlog:
            self.seq += 1
            heappush(self.queue, (self.now, self.seq, BACKLOG, node.id, item))

    # -- reading -----------------------------------------------------------------------
    def local_time(self, nid: str) -> int:
        return self.nodes[nid].local(self.now)

    def timeline(self) -> list[tuple[int, object]]:
        """Every command of this timeline as ``(at µs, command)``, in the order they run
        (those still to come included)."""
        return list(self.commands)

    def commands_applied(self) -> int:
        """How many commands of :meth:`timeline` have run so far."""
        return self.cmd_pos

    def armed_timers(self, nid: str) -> list[tuple[str, int]]:
        """The node's armed timers as ``(name, true due µs)``, by name."""
        node = self.nodes[nid]
        return sorted((name, node.true_at(armed[1])) for name, armed in node.timers.items())

    def messages_in_flight(self, limit: int | None = None) -> list[tuple]:
        """The messages on the wire as ``(id, from, to, kind, sent µs, due µs)``, in the
        order they were sent (the first ``limit`` of them)."""
        return [(mid, src, dst, type(msg).__name__, sent, due)
                for mid, (src, dst, msg, sent, due)
                in itertools.islice(self.in_flight.items(), limit)]

    def messages_count(self) -> int:
        """How many messages are on the wire."""
        return len(self.in_flight)

    def link_state(self) -> dict:
        """Cut directed links ``[(from, to)]``, the partition's groups (lists of node ids,
        the unassigned nodes together; None without a partition) and the links with
        settings of their own ``[(from, to, latency lo µs, hi µs, loss, duplicate)]``."""
        groups = None
        if self.groups:
            by_group: dict[int, list] = {}
            for nid in self.node_ids:
                by_group.setdefault(self.groups.get(nid, -1), []).append(nid)
            groups = [by_group[g] for g in sorted(by_group)]
        return {"cut": list(self.cuts), "groups": groups,
                "custom": [(a, b, link.lo, link.hi, link.loss, link.duplicate)
                           for (a, b), link in self.links.items()]}

    def is_cut(self, src: str, dst: str) -> bool:
        return (src, dst) in self.cuts or bool(self.groups) and self._parted(src, dst)

    def alive(self, nid: str) -> bool:
        return self.nodes[nid].status is ALIVE

    def metrics(self) -> dict:
        """Counters, distribution summaries and the model's derived metrics."""
        out: dict = {"messages_sent": self.sent, "messages_delivered": self.delivered,
                     "messages_dropped": self.dropped}
        out.update(self.counters)
        for name, values in self.samples.items():
            out[name] = summarize(values)
        out.update(self.model.metrics(self))
        return out

    # -- checkpoints -------------------------------------------------------------------
    _DYNAMIC = ("now", "seq", "queue", "cmd_pos", "cause", "events", "sent", "delivered",
                "dropped", "counters", "samples", "_seen_violations", "in_flight",
                "default_link", "links", "link_rngs", "cuts", "groups", "nodes", "ghost")

    def save(self) -> bytes:
        """The whole dynamic state, compressed; restore with :meth:`load`."""
        state = [getattr(self, name) for name in self._DYNAMIC]
        state.append(len(self.trace))
        state.append(len(self.violations))
        out = io.BytesIO()
        with _collector_paused():  # pickling allocates many objects and frees them all
            _StatePickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
        return zlib.compress(out.getbuffer(), 1)

    def load(self, blob: bytes, trace=None, violations=None) -> None:
        """Return to a saved state; the trace and violations are cut back to that moment.

        A state later than the current trace's end needs the records in between: pass the
        longer ``trace`` and ``violations`` of the same timeline to take them from.
        """
        with _collector_paused():  # unpickling builds many objects and no cycles
            state = pickle.loads(zlib.decompress(blob))
        n_violations = state.pop()
        n_trace = state.pop()
        for name, value in zip(self._DYNAMIC, state):
            setattr(self, name, value)
        self.trace.truncate(n_trace)
        del self.violations[n_violations:]
        for mine, longer, n in ((self.trace, trace, n_trace),
                                (self.violations, violations, n_violations)):
            if len(mine) < n:
                if longer is None or len(longer) < n:
                    raise ValueError("checkpoint is ahead of the records available")
                if isinstance(mine, Trace):
                    mine.extend_from(longer, n)
                else:
                    mine.extend(longer[len(mine):n])
        self.contexts = {nid: Context(self, node) for nid, node in self.nodes.items()}


class _StatePickler(pickle.Pickler):
    """Pickles a frozen dataclass (a message, a log entry) as its class and field values,
    rebuilt by calling the class. The dataclass module pickles frozen, slotted classes
    through its own state functions, which run in Python and look the fields up on every
    call: they made checkpoints of a long Raft run (tens of thousands of log entries)
    several times slower to save and load. Reference cycles through such values cannot
    be pickled this way; model state is plain data and has none."""

    def reducer_override(self, obj):
        cls = type(obj)
        values = _FROZEN_VALUES.get(cls, _UNSEEN)
        if values is _UNSEEN:
            values = _FROZEN_VALUES[cls] = _frozen_values(cls)
        if values is None:
            return NotImplemented
        return cls, values(obj)


_UNSEEN = object()
_FROZEN_VALUES: dict = {}  # class -> its field values getter, or None: pickled as usual


def _frozen_values(cls):
    """For a frozen dataclass that its own ``__init__`` rebuilds from its field values
    (its parameters are exactly its fields, in order and positional; no
    ``__post_init__``), a getter of those values as a tuple; None for any other class."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)
            and cls.__dataclass_params__.frozen and not hasattr(cls, "__post_init__")):
        return None
    names = [f.name for f in dataclasses.fields(cls)]
    params = inspect.signature(cls).parameters.values()
    if [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD] != names \
            or len(params) != len(names):
        return None
    if len(names) == 1:
        name = names[0]
        return lambda obj: (getattr(obj, name),)
    return attrgetter(*names) if names else (lambda obj: ())


@contextmanager
def _collector_paused():
    """Pause the cyclic garbage collector over a burst of work that builds no cycles.

    Its passes over the young objects of a long run cost a tenth of the run and put
    spikes into seeks. Only a collector this call switched off is switched back on.
    """
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
