"""A distributed-systems playground: protocols as deterministic, breakable simulations.

``create_app`` builds the web application and ``socketio`` is its Socket.IO extension
(both from ``playground.web.app``). They load on first use, so the command line and the
engine never import Flask.
"""

_WEB = ("create_app", "socketio", "DEFAULTS")


def __getattr__(name: str):
    if name in _WEB:
        from .web import app

        return getattr(app, name)
    raise AttributeError(f"module 'playground' has no attribute {name!r}")
