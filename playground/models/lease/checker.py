"""The lease model's invariants and metrics, judged from facts and beliefs in true time."""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import MS, Checker

from .messages import INF, LOCK, STORE
from .facts import LeaseGranted, LeaseRenewed, WriteAccepted
from .candidate import LeaseRole


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
