"""Security headers on every response: pages, the API, static files and Socket.IO's own.

The page loads only from its own origin (ES modules, one stylesheet, the vendored
Socket.IO client; the boot data is a JSON data block, not a script), so the Content
Security Policy allows ``'self'`` and nothing else: no inline script or style, no other
host, no plugin. ``X-Content-Type-Options: nosniff`` keeps a browser from reading a JSON
answer or an SVG as something else, and ``Referrer-Policy: no-referrer`` keeps a session's
watch link out of other sites' logs.

**Framing.** A page opened with ``?embed=1`` (a lecture slide, a course page) may be
framed by the origins in the setting ``EMBED_ANCESTORS`` (``frame-ancestors``; default
``*``, any site; set e.g. ``https://slides.example.org`` to narrow it, or ``'none'``). Every
other response refuses to be framed (``frame-ancestors 'none'`` and
``X-Frame-Options: DENY``), so the controlling page cannot be clickjacked.

A WSGI middleware rather than ``after_request``: Flask-SocketIO answers ``/socket.io/``
before Flask sees the request, and those answers get the headers too.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
          "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
          "form-action 'self'")
_SOURCE = re.compile(r"^(\*|'self'|'none'|[A-Za-z0-9*.:/_-]+)$")
COMMON = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer")]


def flag(value: str | None) -> bool:
    """Whether a query parameter such as ``embed`` is switched on."""
    return (value or "") in ("1", "true", "yes")


def embed_ancestors(setting) -> str:
    """The ``frame-ancestors`` sources of an ``EMBED_ANCESTORS`` setting (a string of
    space- or comma-separated sources, or a list)."""
    items = str(setting).replace(",", " ").split() if isinstance(setting, str) \
        else [str(s) for s in setting]
    for item in items:
        if not _SOURCE.match(item):
            raise ValueError(f"EMBED_ANCESTORS: {item!r} is not a frame-ancestors source "
                             "(*, 'self', 'none', a scheme such as https: or an origin "
                             "such as https://*.example.org)")
    return " ".join(items) or "'none'"


class SecurityHeaders:
    """WSGI middleware that adds the headers of the module docstring to every response."""

    def __init__(self, app, ancestors: str):
        self.app = app
        self.embed = [("Content-Security-Policy",
                       f"{POLICY}; frame-ancestors {embed_ancestors(ancestors)}"), *COMMON]
        self.framed_never = [("Content-Security-Policy", f"{POLICY}; frame-ancestors 'none'"),
                             ("X-Frame-Options", "DENY"), *COMMON]

    def __call__(self, environ, start_response):
        qs = environ.get("QUERY_STRING", "")
        embed = "embed=" in qs and flag((parse_qs(qs).get("embed") or [""])[0])
        extra = self.embed if embed else self.framed_never
        names = {name.lower() for name, _ in extra}

        def start(status, headers, exc_info=None):
            headers = [h for h in headers if h[0].lower() not in names] + extra
            return start_response(status, headers, exc_info)

        return self.app(environ, start)
