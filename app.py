"""The production entry point: ``python app.py`` serves the playground on HOST:PORT.

Eventlet is patched in before anything else is imported, here and nowhere else. One
process serves one port; Socket.IO needs every request of a client to reach the same
process, so several processes sit behind a proxy with sticky sessions and share their
audience through Redis (``MESSAGE_QUEUE``). See docs/deployment.md.

Environment: ``HOST`` (127.0.0.1), ``PORT`` (5000), ``MESSAGE_QUEUE`` (redis://...),
``SEND_BUFFER_BYTES`` (the kernel send buffer of each connection, 128 KiB),
``PLAYGROUND_ASYNC=threading`` (Werkzeug's threaded server instead of eventlet, for
debugging), and any ``PLAYGROUND_<SETTING>`` of ``playground.DEFAULTS``.
"""

import os

THREADING = os.environ.get("PLAYGROUND_ASYNC", "eventlet") == "threading"

if not THREADING:
    import eventlet

    eventlet.monkey_patch()

import logging  # noqa: E402
import socket  # noqa: E402

from playground import create_app, socketio  # noqa: E402


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    app = create_app()
    if THREADING:
        socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True)
        return
    import eventlet.wsgi

    listener = eventlet.listen((host, port))
    # Accepted connections inherit both options from the listening socket on Linux.
    # Frames are small and frequent: send each at once instead of waiting to coalesce.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # A bounded kernel send buffer, so a client that stops reading backs up into the
    # server's per-client queue, where stale frames are skipped (playground.web.fanout),
    # instead of into megabytes of old frames held by the kernel.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF,
                        int(os.environ.get("SEND_BUFFER_BYTES", 128 * 1024)))
    logging.getLogger("playground").info("serving on http://%s:%d", host, port)
    eventlet.wsgi.server(listener, app, log_output=False, max_size=10_000)


if __name__ == "__main__":
    main()
