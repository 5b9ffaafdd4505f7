"""The outbox model's side panel: the service's tables, the relay, the broker, the consumer."""

from __future__ import annotations

from playground.models.base import Display

from .messages import BROKER, CONSUMER, RELAY, SERVICE


class OutboxDisplay(Display):
    def panel(self, view):
        service = view.nodes[SERVICE].state
        relay = view.nodes[RELAY].state
        broker = view.nodes[BROKER].state.db
        consumer = view.nodes[CONSUMER].state.db
        checker = self.model.checker
        return {
            "mode": self.v["mode"],
            "ordered_consumer": self.v["ordered_consumer"],
            "orders": [{"order": o, "item": item,
                        "consumed": consumer.reserved.get(o, 0)}
                       for o, item in service.db.orders.items()],
            "outbox": sorted(service.db.outbox),
            "unpublished": sorted(service.unpublished),
            "uncommitted": sorted(service.uncommitted),
            "relay": {"in_flight": sorted(relay.in_flight), "awaiting_delete":
                      sorted(relay.acked), "polls": relay.polls, "published": relay.published},
            "broker": {"log": [{"offset": i, "order": e.order} for i, e in
                               enumerate(broker.entries)],
                       "unacked": sorted(broker.unacked)},
            "consumer": {"stock": consumer.stock,
                         "applied": {str(o): n for o, n in consumer.reserved.items()},
                         "processed": sorted(consumer.processed),
                         "next_seq": consumer.next_seq, "held": sorted(consumer.held)},
            "lost": checker.lost(view),
            "phantoms": checker.phantoms(view),
        }
