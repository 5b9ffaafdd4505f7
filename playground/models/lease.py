"""Leader leases: a lock service, candidates with their own clocks, and a fenced resource.

Theory of operation
-------------------
Node ``lock`` is the lock service, node ``store`` the shared resource, ``n1`` … ``nK`` the
candidates (``nodes`` = K + 2). Every time below is read on some node's own clock: clock
skew, drift and jumps come from the engine (``skew``, ``drift``, ``jump``), never from
the model.

* A candidate that holds nothing sends ``LeaseRequest(sent_at)`` every ``retry_ms``.
* The service keeps the truth: ``holder``, ``epoch`` and ``lease_expiry`` on *its* clock.
  It grants when nobody holds the lease or the holder's ``lease_expiry`` has passed on its
  clock: ``epoch`` + 1, ``lease_expiry = now + ttl``. A request from the current holder
  before expiry is a renewal (same epoch, expiry pushed out). Anyone else is denied.
* The holder counts its lease from the moment it *sent* the request (the grant echoes
  ``sent_at``), so network delay only shortens it: it believes it is leader until
  ``sent_at + ttl − drift_margin`` on its own clock. It renews every third of that, writes
  ``Write(epoch)`` to the store every ``write_ms``, checks its clock before each write, and
  steps down when its timer ``lease_expiry`` fires, or when the store refuses its epoch.
  With ``write_work_ms`` > 0 a write takes that long between the check and the send (the
  holder computes what to write) and is sent without a second look: a stop-the-world
  pause in between sends it after the lease has ended, which is Kleppmann's "How to do
  distributed locking" (2016) and why the store must fence.
* The store, with ``fencing``, refuses a write whose epoch is lower than the highest it
  has accepted (the epoch is the fencing token); without fencing it accepts everything.

Why a slow clock breaks it: the service waits ``ttl`` on its clock; the holder stops after
``ttl − margin`` on its own. If the holder's clock runs at rate r_h and the service's at
r_s, the holder's belief lasts (ttl − margin)/r_h of true time and the service's promise
ttl/r_s, so the lease is safe exactly when margin ≥ ttl·(1 − r_h/r_s) (TrueTime's
uncertainty wait). A clock *jump* needs its own margin. Fencing does not stop two nodes
from believing; it stops the old one's writes from landing once the new epoch has.

Simplifications: the lock service and the store are single durable nodes (their records
survive a crash, as a replicated lock service's would); candidates keep nothing durable.

Invariants
----------
``single_holder`` is promised only while clocks keep time (``assumes``): a skew, a drift
beyond the margin or a jump breaks it by design, which is what C22 shows. The soak judges
it only in runs without such faults; ``no_stale_write`` it judges under every fault.

* ``single_holder`` — at any true moment at most one candidate believes it holds the lease
  (its state says holder and its own clock reads before its ``lease_expiry``; with the
  broken ``step_down`` off, its state alone, since it never looks at its clock). Beliefs end
  by themselves as clocks advance, so the check runs when a belief *starts* (a grant, or a
  clock change that revives one), comparing with every other candidate at that instant.
* ``no_stale_write`` — the store never accepts a write whose epoch is older than one it
  has already accepted (the old leader's write overwriting the new leader's), judged from
  the ``WriteAccepted`` facts in order, not from the store's own highest epoch.
* ``lease_handover`` — the lock service grants to a new holder only a whole TTL, on its
  own clock, after the previous holder's last grant or renewal: judged from the
  ``LeaseGranted`` and ``LeaseRenewed`` facts and the ``ttl_ms`` parameter, not from the
  service's record of an expiry. ``handover_gap_ms`` is the shortest such gap (C21).

Facts told to the checker: ``LeaseGranted`` and ``LeaseRenewed`` (the service), ``BecameLeader`` and
``SteppedDown`` (candidates), ``WriteAccepted`` (the store).

Metrics: ``handovers`` (grants to a different node), ``renewals``, ``double_leadership_ms``
(true time during which two or more candidates believed), ``stale_writes_accepted``,
``stale_writes_rejected``, ``writes_accepted``.

Claims: C21 (the lease contract), C22 (clock drift breaks leases; margin or fencing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from playground.models import register
from playground.models.base import (MS, Checker, Display, Fact, Invariant, Model, Param,
                                    Role, Timer, Transitions, Variant, on, timer)

LOCK = "lock"
STORE = "store"
INF = float("inf")


# -- messages -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LeaseRequest:
    """Acquire or renew; ``sent_at`` is the requester's clock when it sent this."""

    sent_at: int


@dataclass(frozen=True, slots=True)
class LeaseGrant:
    epoch: int
    ttl: int  # µs
    sent_at: int  # echoed from the request


@dataclass(frozen=True, slots=True)
class LeaseDenied:
    holder: str
    epoch: int


@dataclass(frozen=True, slots=True)
class Write:
    """A write to the shared resource; ``epoch`` is the fencing token."""

    epoch: int
    seq: int


@dataclass(frozen=True, slots=True)
class WriteAck:
    accepted: bool
    epoch: int  # the store's highest accepted epoch


# -- facts ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LeaseGranted(Fact):
    text = "granted epoch {epoch} to {holder}"
    holder: str
    epoch: int
    lease_expiry: int  # the service's clock, µs
    previous: str | None  # the holder whose lease expired, if another


@dataclass(frozen=True, slots=True)
class LeaseRenewed(Fact):
    text = "renewed epoch {epoch} of {holder}"
    holder: str
    epoch: int


@dataclass(frozen=True, slots=True)
class BecameLeader(Fact):
    text = "became leader, epoch {epoch}"
    epoch: int
    lease_expiry: int  # own clock, µs


@dataclass(frozen=True, slots=True)
class SteppedDown(Fact):
    text = "stepped down from epoch {epoch}: {why}"
    epoch: int
    why: str


@dataclass(frozen=True, slots=True)
class WriteAccepted(Fact):
    text = "accepted write {seq} of {writer} with epoch {epoch}"
    writer: str
    epoch: int
    seq: int


# -- states ---------------------------------------------------------------------------------
class LeaseRole(Enum):
    FOLLOWER = "follower"
    LEADER = "leader"


ROLE = Transitions("lease candidate", {LeaseRole.FOLLOWER: (LeaseRole.LEADER,),
                                       LeaseRole.LEADER: (LeaseRole.FOLLOWER,)})


class LeaseTimer(Enum):
    ACQUIRE = "acquire"
    RENEW = "renew"
    WRITE = "write"
    LEASE_EXPIRY = "lease_expiry"
    SEND_WRITE = "send_write"


ACQUIRE, RENEW, WRITE, LEASE_EXPIRY, SEND_WRITE = (Timer(kind) for kind in LeaseTimer)


@dataclass(slots=True)
class CandidateState:
    role: LeaseRole = LeaseRole.FOLLOWER
    epoch: int = 0
    lease_expiry: int = 0  # own clock, µs
    writes_sent: int = 0
    steps_down: int = 0
    pending_write: int | None = None  # the epoch of a write checked and not yet sent


@dataclass(slots=True)
class LeaseRecord:
    """The lock service's truth about the lease."""

    holder: str | None = None
    epoch: int = 0
    lease_expiry: int = 0  # the service's clock, µs


@dataclass(slots=True)
class LockState:
    record: LeaseRecord = field(default_factory=LeaseRecord)


@dataclass(slots=True)
class StoreState:
    max_epoch: int = 0
    last_writer: str | None = None
    last_seq: int = 0
    accepted: int = 0
    rejected: int = 0


@dataclass(slots=True)
class LeaseGhost:
    """The observer's notebook: belief intervals in true time, the newest accepted epoch."""

    open: dict = field(default_factory=dict)  # node -> [start, epoch, true end projected]
    closed: list = field(default_factory=list)  # (start, end, node, epoch)
    max_accepted: int = 0
    stale_accepted: int = 0
    promised: dict = field(default_factory=dict)  # holder -> the service's clock at its
    #                                               last grant or renewal
    handover_gaps: list = field(default_factory=list)  # ms on the service's clock


# -- roles ------------------------------------------------------------------------------------
class LockService(Role):
    """The lock service: the truth about who holds the lease, on its own clock."""

    name = LOCK
    State = LockState
    durable = ("record",)
    helper = True

    @on(LeaseRequest)
    def request(self, lock: LockState, msg: LeaseRequest, src: str, ctx) -> None:
        """Renew for the holder, grant if free or expired on this clock, else deny."""
        state = lock.record
        now = ctx.now
        ttl = self.model.ttl
        live = state.holder is not None and now < state.lease_expiry
        if live and state.holder == src:
            state.lease_expiry = now + ttl
            ctx.count("renewals")
            ctx.tell(LeaseRenewed(src, state.epoch))
        elif not live:
            previous = None
            if state.holder is not None and state.holder != src:
                previous = state.holder
                ctx.count("handovers")
                ctx.note(f"lease of {state.holder} (epoch {state.epoch}) expired on the lock "
                         f"service's clock; granting to {src}", previous=state.holder)
            state.epoch += 1
            state.holder = src
            state.lease_expiry = now + ttl
            ctx.count("grants")
            ctx.tell(LeaseGranted(src, state.epoch, state.lease_expiry, previous))
        else:
            ctx.send(src, LeaseDenied(state.holder, state.epoch))
            return
        ctx.send(src, LeaseGrant(state.epoch, ttl, msg.sent_at))

    def label(self, state):
        return "lock service"

    def summary(self, node_id, state):
        rec = state.record
        return {"holder": rec.holder, "epoch": rec.epoch,
                "lease_expiry_ms": rec.lease_expiry / MS}


class Store(Role):
    """The shared resource; with fencing, the epoch is the fencing token."""

    name = STORE
    State = StoreState
    durable = ("max_epoch", "last_writer", "last_seq", "accepted", "rejected")
    helper = True

    @on(Write)
    def write(self, state: StoreState, msg: Write, src: str, ctx) -> None:
        if self.model.v["fencing"] and msg.epoch < state.max_epoch:
            state.rejected += 1
            ctx.count("stale_writes_rejected")
            ctx.note(f"refused write {msg.seq} of {src}: epoch {msg.epoch} < "
                     f"{state.max_epoch}", epoch=msg.epoch)
            ctx.send(src, WriteAck(False, state.max_epoch))
            return
        state.accepted += 1
        state.max_epoch = max(state.max_epoch, msg.epoch)
        state.last_writer, state.last_seq = src, msg.seq
        ctx.tell(WriteAccepted(src, msg.epoch, msg.seq))
        ctx.send(src, WriteAck(True, state.max_epoch))

    def label(self, state):
        return "store"

    def summary(self, node_id, state):
        return {"max_epoch": state.max_epoch, "last_writer": state.last_writer,
                "accepted": state.accepted, "rejected": state.rejected}


class Candidate(Role):
    """A node that wants the lease, and acts as leader while its own clock says it holds it."""

    name = "candidate"
    State = CandidateState

    def start(self, state, ctx):
        """Start asking for the lease after a random delay."""
        ctx.set_timer(ACQUIRE, ctx.rng.randint(1, int(self.model.p["retry_ms"] * MS)))

    @timer(LeaseTimer.ACQUIRE)
    def acquire(self, state, _timer, ctx):
        if state.role is LeaseRole.FOLLOWER:
            ctx.send(LOCK, LeaseRequest(ctx.now))
        ctx.set_timer(ACQUIRE, int(self.model.p["retry_ms"] * MS))

    @timer(LeaseTimer.RENEW)
    def renew(self, state, _timer, ctx):
        if state.role is LeaseRole.LEADER:
            ctx.send(LOCK, LeaseRequest(ctx.now))
            ctx.set_timer(RENEW, self.model.renew_every)

    @timer(LeaseTimer.WRITE)
    def write(self, state, _timer, ctx):
        """Check the clock, then write with the epoch as the fencing token."""
        if state.role is not LeaseRole.LEADER:
            return
        if self.model.v["step_down"] and ctx.now >= state.lease_expiry:
            self._step_down(state, "my clock says the lease expired", ctx)
            return
        if self.model.work:
            state.pending_write = state.epoch
            ctx.set_timer(SEND_WRITE, self.model.work)
        else:
            state.writes_sent += 1
            ctx.send(STORE, Write(state.epoch, state.writes_sent))
        ctx.set_timer(WRITE, int(self.model.p["write_ms"] * MS))

    @timer(LeaseTimer.SEND_WRITE)
    def send_write(self, state, _timer, ctx):
        """The work is done: send what was checked, without looking at the clock again."""
        if state.pending_write is None:
            return
        state.writes_sent += 1
        ctx.send(STORE, Write(state.pending_write, state.writes_sent))
        state.pending_write = None

    @timer(LeaseTimer.LEASE_EXPIRY)
    def lease_expiry(self, state, _timer, ctx):
        if state.role is LeaseRole.LEADER and self.model.v["step_down"]:
            self._step_down(state, "my clock says the lease expired", ctx)

    @on(LeaseGrant)
    def grant(self, state: CandidateState, msg: LeaseGrant, src: str, ctx) -> None:
        """Hold the lease until ``sent_at + ttl − margin`` on this node's clock."""
        expiry = msg.sent_at + msg.ttl - self.model.margin
        if expiry <= ctx.now:
            ctx.note(f"grant of epoch {msg.epoch} arrived already expired on my clock")
            return
        if state.role is LeaseRole.LEADER and msg.epoch == state.epoch:
            state.lease_expiry = max(state.lease_expiry, expiry)
        else:
            if msg.epoch < state.epoch:
                return  # a late grant of an epoch this node has already moved past
            if state.role is LeaseRole.LEADER:  # an older epoch's lease: this one replaces it
                ctx.note(f"epoch {msg.epoch} replaces epoch {state.epoch}")
            else:
                state.role = ROLE.move(state.role, LeaseRole.LEADER)
            state.epoch = msg.epoch
            state.lease_expiry = expiry
            ctx.tell(BecameLeader(msg.epoch, expiry))
            ctx.set_timer(RENEW, self.model.renew_every)
            ctx.set_timer(WRITE, 1)
        if self.model.v["step_down"]:
            ctx.set_timer(LEASE_EXPIRY, state.lease_expiry - ctx.now)

    @on(LeaseDenied)
    def denied(self, state, msg: LeaseDenied, src, ctx):
        if state.role is LeaseRole.LEADER and msg.epoch > state.epoch:
            self._step_down(state, f"the lock service says {msg.holder} holds epoch "
                                   f"{msg.epoch}", ctx)

    @on(WriteAck)
    def write_ack(self, state, msg: WriteAck, src, ctx):
        if not msg.accepted and state.role is LeaseRole.LEADER:
            self._step_down(state, f"the store is fenced at epoch {msg.epoch}", ctx)

    def _step_down(self, state: CandidateState, why: str, ctx) -> None:
        state.role = ROLE.move(state.role, LeaseRole.FOLLOWER)
        state.steps_down += 1
        ctx.cancel_timer(RENEW)
        ctx.cancel_timer(WRITE)
        ctx.cancel_timer(LEASE_EXPIRY)
        ctx.tell(SteppedDown(state.epoch, why))

    def label(self, state):
        return state.role.value

    def summary(self, node_id, state):
        return {"leader": state.role is LeaseRole.LEADER, "epoch": state.epoch,
                "lease_expiry_ms": state.lease_expiry / MS}


# -- checking -----------------------------------------------------------------------------------
class LeaseChecker(Checker):
    """single_holder from the candidates' beliefs; no_stale_write from the store's facts."""

    def check(self, view, node_id):
        if node_id == LOCK:
            return self._check_grants(view) if view.facts else ()
        if node_id is None:
            return ()
        if node_id == STORE:
            return self._check_writes(view)
        return self._check_belief(view, node_id)

    def _check_grants(self, view):
        """lease_handover, from what the service told: a grant to a new holder comes at
        least one TTL, on the service's clock, after every other holder's last grant or
        renewal (the TTL is the parameter, not the service's own record of an expiry)."""
        ghost = view.ghost
        now = view.local_time(LOCK)
        ttl = self.model.ttl
        found = []
        for fact in view.facts:
            kind = type(fact)
            if kind is LeaseGranted:
                for other, since in ghost.promised.items():
                    if other == fact.holder:
                        continue
                    ghost.handover_gaps.append((now - since) / MS)
                    if now - since < ttl:
                        found.append(("lease_handover", f"epoch {fact.epoch} granted to "
                                      f"{fact.holder} {(now - since) / MS:g} ms after {other}'s "
                                      f"lease was last granted or renewed, less than the TTL "
                                      f"of {ttl / MS:g} ms on the service's clock"))
                ghost.promised = {fact.holder: now}
            elif kind is LeaseRenewed:
                ghost.promised[fact.holder] = now
        return found

    def _check_writes(self, view):
        ghost = view.ghost
        found = []
        for fact in view.facts:
            if type(fact) is not WriteAccepted:
                continue
            if fact.epoch < ghost.max_accepted:
                ghost.stale_accepted += 1
                found.append(("no_stale_write", f"the store accepted write {fact.seq} of "
                                                f"{fact.writer} with epoch {fact.epoch} after "
                                                f"accepting epoch {ghost.max_accepted}"))
            ghost.max_accepted = max(ghost.max_accepted, fact.epoch)
        return found

    def believes(self, view, nid: str) -> bool:
        """Leader, and (unless it ignores its clock) its clock reads before the expiry."""
        st = view.nodes[nid].state
        if st.role is not LeaseRole.LEADER:
            return False
        return not self.v["step_down"] or view.local_time(nid) < st.lease_expiry

    def _belief_end(self, node) -> float:
        """The true time this node's belief ends by itself, at its clock's current rate."""
        return node.true_at(node.state.lease_expiry) if self.v["step_down"] else INF

    def _check_belief(self, view, nid: str):
        """Track ``nid``'s belief in true time; when one starts, look for another."""
        ghost = view.ghost
        now = view.now
        node = view.nodes[nid]
        st = node.state
        believes = self.believes(view, nid)
        rec = ghost.open.get(nid)
        if rec is not None:
            start, epoch, end = rec
            if end <= now or not believes:
                ghost.closed.append((start, min(end, now), nid, epoch))
                del ghost.open[nid]
                rec = None
            else:
                rec[1] = st.epoch
                rec[2] = self._belief_end(node)
        if not believes or rec is not None:
            return ()
        ghost.open[nid] = [now, st.epoch, self._belief_end(node)]
        found = []
        for other in view.node_ids[2:]:
            if other != nid and self.believes(view, other):
                o = view.nodes[other].state
                found.append(("single_holder", f"{nid} (epoch {st.epoch}) and {other} (epoch "
                                               f"{o.epoch}) both believe they hold the lease"))
        return found

    def metrics(self, view):
        ghost = view.ghost
        intervals = [(s, e) for s, e, _n, _ep in ghost.closed]
        intervals += [(s, min(e, view.now)) for s, _ep, e in ghost.open.values()]
        return {
            "handovers": view.counters.get("handovers", 0),
            "handover_gap_ms": min(ghost.handover_gaps) if ghost.handover_gaps else None,
            "renewals": view.counters.get("renewals", 0),
            "double_leadership_ms": overlap(intervals) / MS,
            "stale_writes_accepted": ghost.stale_accepted,
            "stale_writes_rejected": view.counters.get("stale_writes_rejected", 0),
            "writes_accepted": view.nodes[STORE].state.accepted,
            "epoch": view.nodes[LOCK].state.record.epoch,
        }


class LeaseDisplay(Display):
    """The lock service's truth beside each candidate's belief, and the store."""

    def panel(self, view):
        lock = view.nodes[LOCK].state.record
        lock_now = view.local_time(LOCK)
        truth = {"holder": lock.holder, "epoch": lock.epoch,
                 "lease_expiry_ms": lock.lease_expiry / MS,
                 "clock_ms": lock_now / MS,
                 "expired": lock.holder is None or lock_now >= lock.lease_expiry}
        believes = self.model.checker.believes
        beliefs = []
        for nid in view.node_ids[2:]:
            st = view.nodes[nid].state
            now = view.local_time(nid)
            beliefs.append({"node": nid, "believes_leader": believes(view, nid),
                            "epoch": st.epoch, "lease_expiry_ms": st.lease_expiry / MS,
                            "clock_ms": now / MS,
                            "remaining_ms": max(0, st.lease_expiry - now) / MS
                            if st.role is LeaseRole.LEADER else 0,
                            "clock_rate": view.nodes[nid].rate / 1_000_000})
        store = view.nodes[STORE].state
        return {"truth": truth, "beliefs": beliefs,
                "store": {"max_epoch": store.max_epoch, "last_writer": store.last_writer,
                          "accepted": store.accepted, "rejected": store.rejected,
                          "fencing": self.v["fencing"]}}


# -- the model ----------------------------------------------------------------------------------
@register
class Leases(Model):
    name = "lease"
    title = "Leader leases under clock drift"
    invariants = (
        Invariant("single_holder", "At any moment at most one node believes it holds the "
                                   "lease."),
        Invariant("no_stale_write", "The store never accepts a write older than one it has "
                                    "already accepted."),
        Invariant("lease_handover", "The lock service grants the lease to a new holder only "
                                    "once the previous holder's lease has run a whole TTL "
                                    "on the service's clock since its last grant or renewal."),
    )
    variants = (
        Variant("fencing", True, "The store refuses writes with an epoch below the highest it "
                "has accepted.", broken=(False,)),
        Variant("step_down", True, "The holder gives the lease up when its own clock says it "
                "expired; off, it keeps acting until someone tells it otherwise.",
                broken=(False,)),
    )
    params = (
        Param("ttl_ms", 1000, "Lease time-to-live granted by the lock service.",
              {"type": "number", "minimum": 10, "maximum": 600000}),
        Param("drift_margin_ms", 0, "The holder gives up this much early: the bound on clock "
              "drift over one lease (TrueTime-style uncertainty wait).",
              {"type": "number", "minimum": 0, "maximum": 600000}),
        Param("retry_ms", 200, "How often a node without the lease asks for it.",
              {"type": "number", "minimum": 1, "maximum": 600000}),
        Param("write_ms", 100, "How often the leader writes to the store.",
              {"type": "number", "minimum": 1, "maximum": 600000}),
        Param("write_work_ms", 0, "How long a write takes between checking the lease and "
              "sending (0: at once); a pause in between sends it after the lease ended.",
              {"type": "number", "minimum": 0, "maximum": 600000}),
    )
    addressable_roles = ("holder",)
    roles = (LockService, Store, Candidate)
    Checker = LeaseChecker
    Display = LeaseDisplay
    default_nodes = 5
    min_nodes = 3

    def setup(self):
        self.ttl = int(self.p["ttl_ms"] * MS)
        self.work = int(self.p["write_work_ms"] * MS)
        self.margin = int(self.p["drift_margin_ms"] * MS)
        # how long the holder trusts a grant, on its own clock; it renews every third of it
        self.renew_every = max(1, (self.ttl - self.margin) // 3)

    def node_ids(self):
        return [LOCK, STORE] + [f"n{i}" for i in range(1, self.n - 1)]

    def role_of(self, node_id):
        return node_id if node_id in (LOCK, STORE) else Candidate.name

    def assumes(self):
        """single_holder is promised only for clocks that keep time: a skew, a drift
        beyond the margin or a jump breaks it (C22); fencing keeps no_stale_write."""
        return {"single_holder": ("skew", "drift", "jump")}

    def resolve_role(self, view, role):
        """The holder: the candidate acting as leader of the newest epoch."""
        leaders = [(view.nodes[n].state.epoch, n) for n in view.node_ids[2:]
                   if view.nodes[n].state.role is LeaseRole.LEADER]
        return max(leaders)[1] if leaders else None

    def peers_of(self, node_id, all_ids):
        if node_id in (LOCK, STORE):
            return tuple(x for x in all_ids if x not in (LOCK, STORE))
        return (LOCK, STORE)

    def init_ghost(self):
        return LeaseGhost()


def overlap(intervals) -> int:
    """Total length of time covered by two or more of the ``[start, end)`` intervals."""
    events = sorted([(s, 1) for s, e in intervals if e > s] +
                    [(e, -1) for s, e in intervals if e > s])
    total, depth, last = 0, 0, None
    for t, d in events:
        if depth >= 2:
            total += t - last
        depth += d
        last = t
    return total
