"""The lease panel: the lock service's truth beside each candidate's belief, and the store."""

from __future__ import annotations

from playground.models.base import MS, Display

from .messages import LOCK, STORE
from .candidate import LeaseRole


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
