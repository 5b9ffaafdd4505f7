"""Deterministic random streams derived from one seed.

The engine needs randomness that is identical in every process and every Python
version, because a share link must replay a run exactly years later. ``random.Random``
gives no such promise for its derived methods, so the streams here are SplitMix64
(Steele, Lea and Flood, 2014) over plain integers, with documented derivations:

* ``derive(seed, purpose)`` hashes the seed and a purpose name ("net:n1>n2",
  "node:n3", "workload", "faults") into an independent 64-bit state, so a fault that
  changes how many draws one purpose makes never shifts another purpose's draws.
* ``randint`` uses rejection sampling, so it is unbiased and its result depends only on
  the stream's state.
"""

from __future__ import annotations

import hashlib

MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15  # SplitMix64's increment
TWO64 = 1 << 64


def derive(seed: int, purpose: str) -> int:
    """A 64-bit stream state for ``purpose`` under ``seed``."""
    digest = hashlib.sha256(f"{seed}/{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class Stream:
    """One SplitMix64 stream: picklable, cheap, and the same everywhere."""

    __slots__ = ("state",)

    def __init__(self, state: int):
        self.state = state & MASK

    @classmethod
    def for_purpose(cls, seed: int, purpose: str) -> "Stream":
        return cls(derive(seed, purpose))

    def __getstate__(self):
        return self.state

    def __setstate__(self, state):
        self.state = state

    def next64(self) -> int:
        self.state = s = (self.state + GAMMA) & MASK
        z = ((s ^ (s >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def random(self) -> float:
        """A float in [0, 1) with 53 random bits."""
        return (self.next64() >> 11) * (1.0 / 9007199254740992.0)

    def randint(self, a: int, b: int) -> int:
        """An integer in [a, b], both ends included."""
        span = b - a + 1
        if span <= 0:
            raise ValueError(f"empty range [{a}, {b}]")
        if span == 1:
            return a
        limit = TWO64 - TWO64 % span
        while True:  # next64(), inlined (and inlined again in Context.send, for latency)
            self.state = s = (self.state + GAMMA) & MASK
            z = ((s ^ (s >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            x = z ^ (z >> 31)
            if x < limit:
                return a + x % span

    def choice(self, seq):
        """One element of a non-empty sequence."""
        return seq[self.randint(0, len(seq) - 1)]

    def shuffle(self, items: list) -> None:
        """Shuffle a list in place (Fisher-Yates)."""
        for i in range(len(items) - 1, 0, -1):
            j = self.randint(0, i)
            items[i], items[j] = items[j], items[i]
