"""Small builders for engine tests: a toy-model simulation from keyword arguments."""

from __future__ import annotations

from playground.scenarios import build
from playground.scenarios.schema import validate


def toy_scenario(**overrides) -> dict:
    base = {"model": "toy", "seed": 7, "nodes": 3, "duration_ms": 5000}
    base.update(overrides)
    return validate(base)


def toy_sim(**overrides):
    return build(toy_scenario(**overrides))


def records(sim, kind, node=None):
    """The trace records of one kind (and node)."""
    return [r for r in sim.trace if r[1] == kind and (node is None or r[2] == node)]


def share_of(body: bytes) -> str:
    """A share string with a correct checksum around any bytes (``share.pack`` packs only
    validated scenarios): for feeding ``share.decode`` what a forger could send."""
    import base64
    import hashlib
    import zlib

    packed = hashlib.sha256(body).digest()[:6] + zlib.compress(body, 9)
    return "1." + base64.urlsafe_b64encode(packed).decode().rstrip("=")
