"""The idempotency model's invariant and metrics, judged from the ledger's ``Charged`` facts.

``at_most_one_charge``: the ledger holds at most one charge per payment. The observer
(``Observer``, the ghost) tallies the charge ids of each ``Charged`` fact by payment; a
payment with a second one is a violation, named with every charge id it has.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import Checker

from .facts import Charged

METRICS = ("payments", "requests", "charges", "duplicate_charges", "retries",
           "double_submits", "replies_from_store", "conflicts", "server_timeouts",
           "late_charges", "paid", "gave_up", "takeovers", "processor_dedups")


@dataclass(slots=True)
class Observer:
    """Ghost: the charge ids the ledger recorded for each payment."""

    charges: dict = field(default_factory=dict)  # payment -> [charge_id]


class PaymentChecker(Checker):
    def check(self, view, node_id):
        found = []
        charges = view.ghost.charges
        for fact in view.facts:
            if type(fact) is not Charged:
                continue
            ids = charges.setdefault(fact.payment, [])
            ids.append(fact.charge_id)
            if len(ids) > 1:
                found.append(("at_most_one_charge", f"payment {fact.payment} charged "
                                                    f"{len(ids)} times ({', '.join(ids)})"))
        return found

    def metrics(self, view):
        charges = view.ghost.charges.values()
        out = {name: view.counters.get(name, 0) for name in METRICS}
        out["duplicate_charges"] = sum(len(ids) - 1 for ids in charges if len(ids) > 1)
        out["payments_double_charged"] = sum(1 for ids in charges if len(ids) > 1)
        out["outstanding"] = sum(len(view.nodes[c].state.outstanding)
                                 for c in self.model.clients)
        return out
