"""Start real server processes for end-to-end tests and benchmarks, and clients for them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import socketio

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the process exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def start_server(port: int | None = None, env: dict | None = None, log=None):
    """``python app.py`` on 127.0.0.1:port (eventlet); returns (process, base URL)."""
    port = port or free_port()
    environment = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port),
                   "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING", **(env or {})}
    if "PLAYGROUND_ASYNC" not in (env or {}):
        environment.pop("PLAYGROUND_ASYNC", None)  # the production path: eventlet
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=environment,
                            stdout=log or subprocess.DEVNULL, stderr=log or subprocess.DEVNULL)
    try:
        wait_port(port, proc)
    except Exception:
        stop(proc)
        raise
    return proc, f"http://127.0.0.1:{port}"


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Client:
    """A python-socketio client that records the frames and failures it receives."""

    def __init__(self, url: str, transports=("websocket",)):
        self.sio = socketio.Client(reconnection=False)
        self.frames: list[dict] = []
        self.failures: list[dict] = []
        self.lock = threading.Lock()
        self.sio.on("frame", self._frame)
        self.sio.on("failure", self.failures.append)
        self.sio.connect(url, transports=list(transports), wait_timeout=10)

    def _frame(self, frame):
        frame["_received"] = time.monotonic()
        with self.lock:
            self.frames.append(frame)

    def call(self, event: str, *args, timeout: float = 10):
        return self.sio.call(event, *args, timeout=timeout)

    def take(self) -> list[dict]:
        with self.lock:
            out, self.frames = self.frames, []
        return out

    def wait_for(self, predicate, timeout: float = 10.0) -> list[dict]:
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen.extend(self.take())
            if any(predicate(f) for f in seen):
                return seen
            time.sleep(0.01)
        raise AssertionError(f"no matching frame within {timeout} s ({len(seen)} frames)")

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()
