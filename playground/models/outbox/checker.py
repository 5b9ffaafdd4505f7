"""The outbox model's invariants and metrics, from the handlers' facts and the final states.

The observer (``OutboxGhost``) stamps facts with true time as they come: a commit
(``OrderCommitted``) and the first time the broker stored the order's event
(``EventStored``) give ``relay_lag_ms`` in true time, whatever the node clocks say;
``EventDelivered`` counts deliveries per order; ``EventApplied`` carries how many items
the consumer has reserved for its order, and a second one breaks
``exactly_once_effect``. ``no_lost_event`` and ``no_phantom_event`` are judged at the end
of a run from the service's tables, the consumer's reservations and the stored events.

Order: the commits (``OrderCommitted``) give each order its place in commit order; an
order's first ``EventApplied`` is *out of order* when an order committed after it was
applied before it (a lost event skipped is not: what was applied is still in commit
order). ``out_of_order_applies`` counts them in every variant; where the consumer
promises order (``ordered_consumer``) each one breaks ``events_in_commit_order``. An
order applied before it was committed (publish first) has no place yet and is not
judged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import MS, Checker
from playground.stats import summarize

from .facts import EventApplied, EventDelivered, EventStored, OrderCommitted
from .messages import BROKER, CONSUMER, SERVICE

COUNTERS = ("orders_placed", "duplicate_deliveries", "relay_retries", "broker_redeliveries",
            "held_events")


@dataclass(slots=True)
class OutboxGhost:
    """The observer's notebook, written by the checker from the facts."""

    committed_at: dict = field(default_factory=dict)  # order -> true µs
    stored_at: dict = field(default_factory=dict)  # order -> true µs first stored
    relay_lag: list = field(default_factory=list)  # ms, commit -> stored at the broker
    deliveries: dict = field(default_factory=dict)  # order -> deliveries to the consumer
    commit_rank: dict = field(default_factory=dict)  # order -> its place in commit order
    applied_rank: int = -1  # the latest commit place among the orders applied so far
    last_applied: int | None = None  # the order of that place
    out_of_order: int = 0  # first applications after an order committed later


class OutboxChecker(Checker):
    def check(self, view, node_id):
        ghost = view.ghost
        found = []
        for fact in view.facts:
            kind = type(fact)
            if kind is OrderCommitted:
                ghost.committed_at[fact.order] = view.now
                ghost.commit_rank[fact.order] = len(ghost.commit_rank)
            elif kind is EventStored:
                if fact.order not in ghost.stored_at:
                    ghost.stored_at[fact.order] = view.now
                    committed = ghost.committed_at.get(fact.order)
                    if committed is not None:  # None: published before it was committed
                        ghost.relay_lag.append((view.now - committed) / MS)
            elif kind is EventDelivered:
                ghost.deliveries[fact.order] = ghost.deliveries.get(fact.order, 0) + 1
            elif kind is EventApplied and fact.times > 1:
                found.append(("exactly_once_effect", f"order {fact.order}: the consumer "
                              f"applied its event {fact.times} times (reserved {fact.times} "
                              f"items)"))
            elif kind is EventApplied:
                found += self._judge_order(ghost, fact.order)
        return found

    def _judge_order(self, ghost, order) -> list:
        """A first application: out of order if an order committed later came first."""
        rank = ghost.commit_rank.get(order)
        if rank is None:
            return []
        if rank > ghost.applied_rank:
            ghost.applied_rank, ghost.last_applied = rank, order
            return []
        ghost.out_of_order += 1
        if not self.model.v["ordered_consumer"]:
            return []
        return [("events_in_commit_order", f"order {order}'s event was applied after order "
                 f"{ghost.last_applied}'s, which was committed after it")]

    def lost(self, view) -> list:
        """Committed orders whose event no longer exists anywhere and was never consumed."""
        service = view.nodes[SERVICE].state
        reserved = view.nodes[CONSUMER].state.db.reserved
        stored = view.ghost.stored_at
        return [o for o in service.db.orders
                if o not in reserved and o not in stored and o not in service.db.outbox
                and o not in service.unpublished]

    def phantoms(self, view) -> list:
        """Orders with an event at the broker or consumer and no commit (nor one coming)."""
        service = view.nodes[SERVICE].state
        return [o for o in view.ghost.stored_at
                if o not in service.db.orders and o not in service.uncommitted]

    def check_final(self, view):
        out = []
        service = view.nodes[SERVICE].state
        reserved = view.nodes[CONSUMER].state.db.reserved
        for order in service.db.orders:
            if order in reserved:
                continue
            if order in view.nodes[CONSUMER].state.db.held:
                where = "the consumer holds it, waiting for an event committed before it"
            elif order in view.ghost.stored_at:
                where = "the broker has it but the consumer never applied it"
            elif order in service.db.outbox:
                where = "it is still in the outbox"
            else:
                where = "it was never published: the service failed between commit and publish"
            out.append(("no_lost_event", f"order {order} was committed but its OrderCreated "
                        f"event was never consumed ({where})"))
        for order in self.phantoms(view):
            applied = " and the consumer reserved an item for it" if order in reserved else ""
            out.append(("no_phantom_event", f"OrderCreated for order {order} reached the "
                        f"broker{applied}, but order {order} was never committed"))
        return out

    def metrics(self, view):
        ghost = view.ghost
        reserved = view.nodes[CONSUMER].state.db.reserved
        lag = summarize(ghost.relay_lag)
        out = {name: view.counters.get(name, 0) for name in COUNTERS}  # zeros shown too
        out["duplicate_deliveries"] = sum(n - 1 for n in ghost.deliveries.values() if n > 1)
        out["out_of_order_applies"] = ghost.out_of_order
        out |= {
            "orders_committed": len(view.nodes[SERVICE].state.db.orders),
            "events_consumed": len(reserved),
            "lost_events": len(self.lost(view)),
            "phantom_events": len(self.phantoms(view)),
            "duplicate_effects": sum(n - 1 for n in reserved.values() if n > 1),
            "outbox_rows": len(view.nodes[SERVICE].state.db.outbox),
            "broker_backlog": len(view.nodes[BROKER].state.db.unacked),
            "relay_lag_ms": lag,
        }
        for key in ("p50", "p99", "max"):
            out[f"relay_lag_{key}_ms"] = lag.get(key, 0)
        return out
