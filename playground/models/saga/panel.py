"""The saga model's side panel: the steps, every saga beside its true effects, the tables."""

from __future__ import annotations

from playground.models.base import Display

from .checker import truth
from .messages import ORCHESTRATOR, SERVICES, STEPS
from .orchestrator import record_json
from .service import table_json


class SagaDisplay(Display):
    def panel(self, view):
        log = view.nodes[ORCHESTRATOR].state.db
        ghost = view.ghost
        return {
            "steps": [{"action": s.action, "service": s.service,
                       "compensation": s.compensation} for s in STEPS],
            "sagas": [{**record_json(r), "saga": s, "truth": _truth_json(truth(view, s)),
                       "inconsistent_since_us": ghost.window_open.get(s)}
                      for s, r in log.sagas.items()],
            "tables": {svc: table_json(svc, view.nodes[svc].state.db) for svc in SERVICES},
            "inconsistency_windows_ms": list(ghost.windows),
        }


def _truth_json(t: dict) -> dict:
    return {**t, "order": t["order"].value if t["order"] else None}
