"""The app factory: ``create_app`` builds the web application; ``socketio`` is its
Socket.IO extension, bound to an app with ``init_app`` (the module holds no app and no
mutable state). ``playground.create_app`` and ``playground.socketio`` name these.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from flask_socketio import SocketIO

from ..models import import_models

ROOT = Path(__file__).resolve().parents[2]

socketio = SocketIO()

DEFAULTS = {
    "ASYNC": "eventlet",  # or "threading" (tests, PLAYGROUND_ASYNC=threading)
    "MESSAGE_QUEUE": None,  # a redis:// URL to share one audience between processes
    "MAX_SESSIONS": 200,  # live sessions per process
    "SESSION_IDLE_SECONDS": 900,  # a session nobody watches or drives expires after this
    "ROOM_TTL_SECONDS": 86_400,  # a room and its answers are deleted this long after last use
    "TAKEOVER_TTL_SECONDS": 300,  # how long the claim on an orphaned session is kept
    "SESSION_RECORD_TTL_SECONDS": 86_400,  # a session's record is deleted this long after its last save
    "COLLECT_EVERY": 600.0,  # s between full garbage collections (web/registry.py; 0: never)
    "MAX_SPEED": 100.0,  # simulated seconds per wall second (besides "max")
    "MAX_PAYLOAD_BYTES": 96 * 1024,  # one request's JSON (a scenario is at most 64 KB)
    "ACTIONS_PER_SECOND": 10,  # per client address
    "CONTROLS_PER_SECOND": 30,  # per client address (control, join and inspect)
    "CREATES_PER_SECOND": 2,  # per client address
    "TRACE_EXPORTS_PER_MINUTE": 6,  # trace downloads one client address may start
    "SESSION_MEMORY_MB": None,  # one session's memory budget (None: memory_budget_mb())
    "MAX_EVENT_RATE": 2_000_000,  # events per simulated second a scenario may run
    "MAX_HTTP_BUFFER_SIZE": 1_000_000,  # Engine.IO's hard limit per message
    "EXTRA_MODELS": "",  # comma-separated modules that register more models
    "DATA_DIR": None,  # the embedded store's folder (default: instance/ at the root)
    "LINKS_PER_MINUTE": 30,  # short links one client address may create
    "SESSIONS_PER_ADDRESS": 20,  # live sessions one client address may have created
    "TRUSTED_PROXIES": "",  # proxies whose X-Forwarded-For names the client (web/limits.py)
    "EMBED_ANCESTORS": "*",  # who may frame an ?embed=1 page (web/headers.py)
    "MAX_SEARCHES": 2,  # counterexample searches running at once in this process
    "SEARCH_SECONDS": 60.0,  # wall time one search may take (then a grace to shrink)
    "SEARCH_TRIES": 5000,  # random fault schedules one search may try
}


def create_app(test_config: dict | None = None) -> Flask:
    """The playground's Flask app with Socket.IO bound to it.

    Configuration comes from ``DEFAULTS``, then environment variables ``PLAYGROUND_<KEY>``
    (``PLAYGROUND_ASYNC=threading``, ``PLAYGROUND_MAX_SESSIONS=50``) and ``MESSAGE_QUEUE``,
    then ``test_config``.
    """
    app = Flask(__name__, template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "static"))
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_prefixed_env("PLAYGROUND")
        if os.environ.get("MESSAGE_QUEUE"):
            app.config["MESSAGE_QUEUE"] = os.environ["MESSAGE_QUEUE"]
    else:
        app.config.from_mapping(test_config)
    if app.config.get("TEMPLATE_FOLDER"):
        app.template_folder = app.config["TEMPLATE_FOLDER"]

    if app.config["SESSION_MEMORY_MB"] is None:
        app.config["SESSION_MEMORY_MB"] = memory_budget_mb(app.config["MAX_SESSIONS"])
    import_models(app.config["EXTRA_MODELS"])
    from . import events, rooms  # rooms declares its handlers with events' decorator
    from .fanout import FanoutManager, FanoutRedisManager, JsonPacket
    from .guard import Guard, wire_logger
    from .headers import SecurityHeaders
    from .registry import Registry
    from ..store import open_store
    from .views import bp

    queue = app.config["MESSAGE_QUEUE"]
    manager = (FanoutRedisManager(queue, channel="playground") if queue
               else FanoutManager())
    events.init_app(socketio)
    socketio.init_app(app, async_mode=app.config["ASYNC"], client_manager=manager,
                      serializer=JsonPacket, logger=wire_logger(), engineio_logger=wire_logger(),
                      max_http_buffer_size=app.config["MAX_HTTP_BUFFER_SIZE"])
    guard = app.extensions["playground_guard"] = Guard(socketio.server)
    guard.on_packet = manager.asked  # an action's answer goes out first (web/fanout.py)
    # The upkeep checkpoints the SQLite store in a thread, off the event loop.
    store = app.extensions["playground_store"] = open_store(queue, app.config["DATA_DIR"],
                                                            autocheckpoint=False)
    app.extensions["playground"] = Registry(socketio, manager, app.config, store)
    app.extensions["playground_rooms"] = rooms.Rooms(app.extensions["playground_store"],
                                                      app.config["ROOM_TTL_SECONDS"])
    app.register_blueprint(bp)
    app.wsgi_app = SecurityHeaders(app.wsgi_app, app.config["EMBED_ANCESTORS"])
    return app


MEMORY_SHARE = 0.75  # of the machine's memory, for the sessions of one process


def memory_budget_mb(max_sessions: int) -> int:
    """The default memory budget of one session: ``MEMORY_SHARE`` of the machine's memory
    shared by ``max_sessions`` sessions (92 MiB for 200 on 24 GiB), 16 MiB at least."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: assume 4 GiB
        total = 4 << 30
    return max(16, int(total * MEMORY_SHARE / max(1, int(max_sessions)) / 2**20))
