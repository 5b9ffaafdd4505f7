"""Test doubles shared by the model tests.

``FakeContext`` stands in for the engine when a test feeds one event to one handler and
asserts on the state and on what the handler did: messages sent, timers set, facts
told, notes.
It implements the whole ``playground.models.base.Context`` protocol.
"""

from __future__ import annotations

from playground.engine.rng import Stream


class FakeContext:
    """Records every effect of a handler; time and randomness are set by the test."""

    def __init__(self, node="n1", peers=(), params=None, variant=None, ghost=None,
                 now=0, seed=0):
        self.node = node
        self.peers = tuple(peers)
        self.params = params or {}
        self.variant = variant or {}
        self.ghost = ghost
        self.now = now
        self.rng = Stream.for_purpose(seed, f"test:{node}")
        self.sent: list[tuple[str, object]] = []
        self.timers: dict[str, int] = {}
        self.notes: list[tuple[str, dict]] = []
        self.facts: list = []
        self.counters: dict[str, int] = {}
        self.samples: dict[str, list] = {}

    def send(self, to, msg):
        self.sent.append((to, msg))

    def set_timer(self, name, delay):
        self.timers[name] = delay

    def cancel_timer(self, name):
        self.timers.pop(name, None)

    def timer_armed(self, name):
        return name in self.timers

    def tell(self, fact):
        self.facts.append(fact)

    def note(self, text, **fields):
        self.notes.append((text, fields))

    def count(self, metric, n=1):
        self.counters[metric] = self.counters.get(metric, 0) + n

    def observe(self, metric, value):
        self.samples.setdefault(metric, []).append(value)

    def sent_of(self, cls):
        """The (destination, message) pairs of one message class, in order."""
        return [(to, m) for to, m in self.sent if isinstance(m, cls)]

    def clear(self):
        self.sent.clear()
        self.notes.clear()
        self.facts.clear()
