"""The Raft model's side panel: leaders per term (the truth), the committed index, the
storage's writes, the client's reads and the read leases held now."""

from __future__ import annotations

from playground.models.base import MS, Display

from .messages import CLIENT, LEADER, STORAGE


class RaftDisplay(Display):
    def panel(self, view) -> dict:
        """Leaders per term (truth), the committed index, the storage's writes, the client."""
        g = view.ghost
        store = view.nodes[STORAGE].state
        terms = sorted(g.leaders)[-10:]
        return {
            "leaders_by_term": [{"term": t, "leader": g.leaders[t]} for t in terms],
            "committed_index": len(g.committed) - 1,
            "storage": {"highest_token": store.highest_token, "fencing": self.model.fencing,
                        "writes": [{"at_ms": at, "writer": w, "token": tok, "accepted": ok}
                                   for at, w, tok, ok in store.writes]},
            "client_pending": len(view.nodes[CLIENT].state.pending),
            **self._configuration(view),
            "reads": self._reads_panel(view),
        }

    def _configuration(self, view) -> dict:
        """The leader's configuration, when the cluster is not simply every server."""
        leader = self.model.resolve_role(view, "leader")
        if leader is None:
            return {}
        st = view.nodes[leader].state
        if st.everyone and not st.learners:
            return {}
        out = {"configuration": " ".join(st.config) + (
            "" if st.config_index <= st.commit_index else " (not committed yet)")}
        if st.learners:
            out["learners"] = " ".join(st.learners)
        outside = [s for s in self.model.servers if s not in st.config]
        if outside:
            out["outside"] = " ".join(outside)
        return out

    def _reads_panel(self, view) -> dict:
        """How reads are answered, the leases held now, and the client's latest read."""
        client = view.nodes[CLIENT].state
        leases = {}
        for s in self.model.servers:
            st = view.nodes[s].state
            if st.role is LEADER and st.lease_until is not None:
                left = st.lease_until - view.local_time(s)
                if left > 0:
                    leases[s] = f"{left / MS:.1f} ms left on its clock"
        out = {"read_mode": self.v["read_mode"], "client_sessions": self.model.sessions,
               "reads_pending": len(client.reads)}
        if leases:
            out["leases"] = leases
        if client.last_read:
            rid, key, value, server = client.last_read
            out["last_read"] = f"read {rid}: {key} = {value}, answered by {server}"
        return out
