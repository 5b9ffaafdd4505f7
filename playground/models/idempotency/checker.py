"""The idempotency model's invariants and metrics, judged from the ledger's and the
clients' facts.

``at_most_one_charge``: the ledger holds at most one charge per payment. The observer
(``Observer``, the ghost) tallies the charge ids of each ``Charged`` fact by payment; a
payment with a second one is a violation, named with every charge id it has.

``paid_means_charged``: what a client sees as success is true. A ``Paid`` fact names the
charge its receipt carries; the ledger must have told a ``Charged`` of that id, for that
payment, the client's card and the amount it asked. A stored receipt handed to a request
it does not belong to (another client's, another amount's) breaks it. Together the two say that a
payment its client holds a receipt for was charged exactly once, as it asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import Checker

from .facts import Charged, Paid

METRICS = ("payments", "requests", "charges", "duplicate_charges", "retries",
           "double_submits", "replies_from_store", "conflicts", "server_timeouts",
           "late_charges", "paid", "gave_up", "rejected", "rejected_reuses", "takeovers",
           "processor_dedups")


@dataclass(slots=True)
class Observer:
    """Ghost: the charge ids the ledger recorded for each payment, and what each was."""

    charges: dict = field(default_factory=dict)  # payment -> [charge_id]
    charged: dict = field(default_factory=dict)  # charge_id -> (customer, payment, amount)


class PaymentChecker(Checker):
    def check(self, view, node_id):
        found = []
        ghost = view.ghost
        for fact in view.facts:
            kind = type(fact)
            if kind is Charged:
                ghost.charged[fact.charge_id] = (fact.customer, fact.payment, fact.amount)
                ids = ghost.charges.setdefault(fact.payment, [])
                ids.append(fact.charge_id)
                if len(ids) > 1:
                    found.append(("at_most_one_charge", f"payment {fact.payment} charged "
                                                        f"{len(ids)} times ({', '.join(ids)})"))
            elif kind is Paid:
                made = ghost.charged.get(fact.charge_id)
                if made != (node_id, fact.payment, fact.amount):
                    what = ("no such charge" if made is None else
                            f"{fact.charge_id} charged {made[0]} {made[2]} for {made[1]}")
                    found.append(("paid_means_charged", f"{node_id} was told {fact.payment} "
                                  f"is paid {fact.amount} by {fact.charge_id}, but {what}"))
        return found

    def metrics(self, view):
        charges = view.ghost.charges.values()
        out = {name: view.counters.get(name, 0) for name in METRICS}
        out["duplicate_charges"] = sum(len(ids) - 1 for ids in charges if len(ids) > 1)
        out["payments_double_charged"] = sum(1 for ids in charges if len(ids) > 1)
        out["outstanding"] = sum(len(view.nodes[c].state.outstanding)
                                 for c in self.model.clients)
        return out
