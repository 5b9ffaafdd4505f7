"""Who a client is, and how often it may ask: rate limits per client address.

A limit belongs to the address a request comes from, not to its connection, so that
reconnecting (or opening many connections at once) does not reset it. The address is
the peer of the TCP connection, unless that peer is a proxy named in
``TRUSTED_PROXIES``: then it is the right-most address of ``X-Forwarded-For`` that is
not itself a trusted proxy (the left-most entries are whatever the client wrote there).
``TRUSTED_PROXIES`` is a comma-separated list of addresses and networks
(``127.0.0.1, 10.0.0.0/8``); empty by default, trusting no header.

:class:`Limiter` keeps one token bucket per (address, kind): ``rate`` requests per
``period`` seconds, in bursts of at most ``rate``. It forgets buckets that have filled
up again (the address has been quiet long enough that its bucket is full), so its size
follows the number of recently active addresses.
"""

from __future__ import annotations

import ipaddress
import threading
import time

UNKNOWN = "?"
MAX_BUCKETS = 10_000  # beyond this, buckets that have refilled are forgotten


def trusted_networks(setting) -> tuple:
    """The networks of a ``TRUSTED_PROXIES`` setting (a string or a list of strings)."""
    items = setting.split(",") if isinstance(setting, str) else list(setting or ())
    out = []
    for item in (str(i).strip() for i in items):
        if item:
            try:
                out.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"TRUSTED_PROXIES: '{item}' is not an address or a "
                                 "network") from None
    return tuple(out)


def _trusted(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(environ: dict, networks) -> str:
    """The address a request comes from (see the module docstring)."""
    peer = environ.get("REMOTE_ADDR") or UNKNOWN
    if not networks or not _trusted(peer, networks):
        return peer
    forwarded = [a.strip() for a in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for address in reversed([a for a in forwarded if a]):
        if not _trusted(address, networks):
            try:
                return str(ipaddress.ip_address(address))
            except ValueError:
                return UNKNOWN  # a proxy we trust passed on garbage: one shared bucket
    return peer


class Limiter:
    """Token buckets per (address, kind); see the module docstring."""

    def __init__(self):
        self._lock = threading.Lock()
        # (address, kind) -> [tokens, when counted, capacity, tokens gained per second]
        self._buckets: dict[tuple[str, str], list[float]] = {}

    def take(self, address: str, kind: str, rate: float, period: float = 1.0) -> bool:
        """Whether ``address`` may make one more request of ``kind`` now."""
        now = time.monotonic()
        key = (address, kind)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_BUCKETS:
                    self._buckets = {k: b for k, b in self._buckets.items()
                                     if _tokens(b, now) < b[2]}
                bucket = self._buckets[key] = [float(rate), now, 0.0, 0.0]
            bucket[2], bucket[3] = float(rate), rate / period
            bucket[0], bucket[1] = _tokens(bucket, now), now
            if bucket[0] >= 1:
                bucket[0] -= 1
                return True
            return False

    def __len__(self) -> int:
        return len(self._buckets)


def _tokens(bucket: list[float], now: float) -> float:
    return min(bucket[2], bucket[0] + (now - bucket[1]) * bucket[3])
