"""The edge of the wire: what the Socket.IO and Engine.IO libraries must never see or say.

Theory of operation
-------------------
Requests reach the handlers of ``events.py`` through two libraries, and a client can send
them packets they were not written to survive. Three defences sit between the two:

* **Packets are made well-formed** by ``fanout.JsonPacket``: an event packet whose data is
  not a JSON array starting with a name becomes the event ``UNDECODABLE``, and one named
  like a reserved event (``connect``, ``disconnect``, ``*``, the internal ``playground:``
  names) becomes ``REFUSED``; both are answered with an error like any unknown event.
* **Binary is refused** (:class:`Guard`): the playground sends and accepts only JSON, so a
  binary Engine.IO message or a Socket.IO binary packet (``5…``/``6…``, whose attachments
  the library would otherwise hold until they all arrive) closes the connection at once.
  Nothing of it is buffered.
* **Whatever still raises** inside the library while handling one message is caught by
  :class:`Guard` and logged as one line, once per connection and at most
  ``LINES_PER_MINUTE`` a minute, instead of a traceback per packet. The libraries' own log goes to the logger ``playground.web.wire`` (at WARNING)
  through :class:`RateLimited`, which also drops tracebacks and lets at most
  ``LINES_PER_MINUTE`` lines through, then says how many it held back.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

WIRE_LOGGER = "playground.web.wire"
LINES_PER_MINUTE = 30  # library log lines let through per minute, process-wide
BINARY_TYPES = ("5", "6")  # Socket.IO BINARY_EVENT and BINARY_ACK


class RateLimited(logging.Filter):
    """Log records without tracebacks, at most ``per_minute`` a minute (see the module
    docstring); the first line after a held-back stretch says how many were held back."""

    def __init__(self, per_minute: int = LINES_PER_MINUTE):
        super().__init__()
        self.per_minute = per_minute
        self._lock = threading.Lock()
        self._window = 0.0
        self._count = 0
        self._held = 0

    def allow(self) -> tuple[bool, int]:
        """Whether one more line may be written now, and how many were held back
        since the last one written."""
        now = time.monotonic()
        with self._lock:
            if now - self._window >= 60:
                self._window, self._count = now, 0
            if self._count >= self.per_minute:
                self._held += 1
                return False, 0
            self._count += 1
            held, self._held = self._held, 0
        return True, held

    def filter(self, record: logging.LogRecord) -> bool:
        ok, held = self.allow()
        if not ok:
            return False
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {str(exc)[:200]}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        if held:
            record.msg = f"{record.getMessage()} ({held} earlier lines held back)"
            record.args = None
        return True


def wire_logger() -> logging.Logger:
    """The logger handed to the Socket.IO and Engine.IO servers (see the module
    docstring). Its records propagate to the application's handlers, once."""
    logger = logging.getLogger(WIRE_LOGGER)
    if not any(isinstance(f, RateLimited) for f in logger.filters):
        logger.addFilter(RateLimited())
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)
    return logger


class Guard:
    """Wraps the Socket.IO server's handler of Engine.IO messages (see the module
    docstring)."""

    def __init__(self, server):
        self.server = server
        self.eio = server.eio
        self.handle = self.eio.handlers["message"]
        self.noted: set[str] = set()  # Engine.IO sids whose failure was logged
        self.refused = {"binary": 0, "failed": 0}
        self.quota = RateLimited()  # lines about failing connections, per minute
        self.on_packet = None  # callable(eio_sid, packet) told of each packet first
        self.eio.handlers["message"] = self.on_message

    def on_message(self, eio_sid: str, data) -> None:
        if not isinstance(data, str) or data[:1] in BINARY_TYPES:
            self.refused["binary"] += 1
            self.eio.disconnect(eio_sid)
            return
        if self.on_packet is not None:
            self.on_packet(eio_sid, data)
        try:
            self.handle(eio_sid, data)
        except Exception as exc:
            self.refused["failed"] += 1
            self._note(eio_sid, exc)

    def _note(self, eio_sid: str, exc: Exception) -> None:
        if eio_sid in self.noted:
            return
        if len(self.noted) >= 10_000:
            self.noted = {s for s in self.noted if s in self.eio.sockets}
        self.noted.add(eio_sid)
        ok, held = self.quota.allow()
        if ok:
            log.warning("connection %s sent a packet the Socket.IO library could not handle "
                        "(%s: %s); further ones from this connection are not logged%s",
                        eio_sid, type(exc).__name__, str(exc)[:120],
                        f" ({held} other connections' lines held back)" if held else "")
