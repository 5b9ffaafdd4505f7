"""The idempotency model's side panel: the key store, the ledger, the workers, the clients."""

from __future__ import annotations

from playground.models.base import MS, Display

from .client import outstanding_rows
from .messages import KEYS, LEDGER, SERVER

SHOWN = 50  # rows of the key store and ledger shown in the panel (the newest)


class PaymentDisplay(Display):
    def panel(self, view):
        keys = view.nodes[KEYS].state.disk
        items = keys.items
        entries = view.nodes[LEDGER].state.disk.entries
        server = view.nodes[SERVER].state
        charges = view.ghost.charges
        store_now = view.local_time(KEYS)
        return {
            "mode": self.model.mode.value,
            "recovery": self.model.recovery.value,
            "processor": self.model.processor.value,
            "key_store": [{"key": k, "status": r.status.value,
                           "charge_id": r.receipt.charge_id if r.receipt else None,
                           "amount": r.receipt.amount if r.receipt else None,
                           "locked_ms": (round((store_now - keys.locked_at[k]) / MS)
                                         if k in keys.locked_at else None)}
                          for k, r in list(items.items())[-SHOWN:]],
            "key_store_size": len(items),
            "ledger": [{"charge_id": e.charge_id, "payment": e.payment, "amount": e.amount,
                        "duplicate": charges.get(e.payment, [e.charge_id])[0] != e.charge_id}
                       for e in entries[-SHOWN:]],
            "ledger_size": len(entries),
            "workers": [None if j is None else
                        {"payment": j.payment, "client": j.client, "phase": j.phase.value}
                        for j in server.workers],
            "queue": [req.payment for _, req in server.queue[:SHOWN]],
            "clients": [{"client": c, "outstanding": outstanding_rows(view.nodes[c].state),
                         "paid": view.nodes[c].state.paid,
                         "gave_up": view.nodes[c].state.gave_up,
                         "rejected": view.nodes[c].state.rejected}
                        for c in self.model.clients],
            "double_charged": [p for p, ids in charges.items() if len(ids) > 1][:SHOWN],
        }
