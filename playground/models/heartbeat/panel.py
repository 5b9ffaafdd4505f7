"""The heartbeat model's side panel: the detector's view of each worker beside the truth."""

from __future__ import annotations

from playground.models.base import MS, Display

from .messages import REGISTRY


class HeartbeatDisplay(Display):
    def panel(self, view):
        reg = view.nodes[REGISTRY].state
        now = view.local_time(REGISTRY)
        detector = self.model.detector
        rows = []
        for w, v in reg.views.items():
            failed = view.ghost.failed_since.get(w)
            rows.append({"worker": w, "health": v.health.value,
                         "last_heard_ms_ago": (now - v.last_heard) / MS,
                         "misses": v.misses, "successes": v.successes,
                         "phi": round(v.phi, 3),
                         "truth": failed[0] if failed else "alive"})
        return {"mode": self.v["mode"], "detector": self.v["detector"],
                "k": detector.k, "m": detector.m,
                "registry": {"queue": len(reg.queue), "queue_max": reg.queue_max,
                             "round": reg.round, "outstanding": list(reg.outstanding)},
                "views": rows,
                "false_suspicions": [{"worker": w, "at_ms": t / MS}
                                     for w, t in view.ghost.false_suspicions[-20:]]}
