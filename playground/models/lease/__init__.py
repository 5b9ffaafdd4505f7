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

Modules: ``messages`` (and the two fixed nodes), ``facts``, one per role (``service``,
``store``, ``candidate``), ``checker`` and ``panel``; this one holds the model.
"""

from __future__ import annotations

from playground.models import register
from playground.models.base import MS, Checker, Display, Invariant, Model, Param, Variant

from .messages import LOCK, STORE
from .candidate import Candidate, LeaseRole
from .service import LockService
from .store import Store
from .checker import LeaseChecker, LeaseGhost
from .panel import LeaseDisplay


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
