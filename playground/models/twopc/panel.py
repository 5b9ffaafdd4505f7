"""The two-phase commit model's side panel: transactions, the lock table, the queues."""

from __future__ import annotations

from itertools import islice

from playground.models.base import Display

from .checker import per_second
from .messages import COMMIT, RECENT, ms


class TwoPCDisplay(Display):
    def panel(self, view):
        ledger = view.ghost
        now = view.now
        participants = self.model.participant_ids
        transactions = []
        recent = list(islice(reversed(ledger.txs), RECENT))
        for tx in reversed(recent):
            record = ledger.txs[tx]
            entry = None
            if view.alive(record.coordinator):
                entry = view.nodes[record.coordinator].state.active.get(tx)
            if tx in ledger.violated:
                status = "atomicity violated"
            elif record.outcome is not None:
                status = "committed" if record.outcome == COMMIT else "aborted"
            elif entry is not None:
                status = entry.phase.value
            else:
                status = "undecided; coordinator lost it"
            transactions.append({"tx": tx, "coordinator": record.coordinator,
                                 "rows": record.rows, "status": status,
                                 "votes": dict(record.votes),
                                 "outcomes": dict(record.outcomes),
                                 "began_ms": ms(record.began_at)})
        locks = [{"participant": p, "row": row, "tx": tx, "since_ms": ms(since),
                  "held_ms": ms(now - since)}
                 for p in participants
                 for row, (tx, since) in sorted(ledger.locks.get(p, {}).items())]
        queues = [{"participant": p, "row": row, "waiting": list(q)}
                  for p in participants
                  for row, q in sorted(view.nodes[p].state.queues.items())]
        return {"transactions": transactions, "locks": locks, "queues": queues,
                "commits_per_second": per_second(ledger.commits, now)}
