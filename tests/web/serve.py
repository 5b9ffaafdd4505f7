"""Start real server processes for end-to-end tests and benchmarks, and clients for them."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import socketio

ROOT = Path(__file__).resolve().parents[2]
ACTION = {"type": "link", "from": "n1", "to": "n2", "loss": 0}  # recorded, changes nothing
# Every client of a test comes from 127.0.0.1: one address, whose limits (two new sessions
# a second, twenty live ones) a module of tests would otherwise reach.
LOCAL_LIMITS = {"PLAYGROUND_SESSIONS_PER_ADDRESS": "1000", "PLAYGROUND_CREATES_PER_SECOND": "50"}


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


def start_redis() -> tuple[subprocess.Popen, str]:
    """A throwaway redis-server on a free port (no persistence): its process and URL."""
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
    except BaseException:
        stop(proc)
        raise
    return proc, f"redis://127.0.0.1:{port}/0"


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

    def collect(self, count: int, timeout: float = 10.0) -> list[dict]:
        """At least ``count`` frames, however long they take up to ``timeout``."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen.extend(self.take())
            if len(seen) >= count:
                return seen
            time.sleep(0.01)
        raise AssertionError(f"{len(seen)} frames within {timeout} s, expected {count}")

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()


def _ws_frame(text: str) -> bytes:
    """One masked client-to-server websocket text frame."""
    data = text.encode()
    mask = os.urandom(4)
    n = len(data)
    head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0xFE]) + n.to_bytes(2, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


class RawClient:
    """A minimal Engine.IO websocket client, cheap enough to run hundreds per thread.

    It joins ``session_id`` (with ``token`` if given: then it also decodes the frames that
    carry ``ACTION`` commands and the answers to its requests) and records each frame's
    ``seq``, arrival time and whether it was full. Reading is up to the caller (``feed``
    when the socket is readable), so a test can stop reading to play a slow client.
    """

    def __init__(self, host: str, port: int, session_id: str, token: str | None = None,
                 rcvbuf: int | None = None):
        self.sock = socket.create_connection((host, port)) if rcvbuf is None else \
            _small_buffer_connection(host, port, rcvbuf)
        self.buf = upgrade(self.sock, host, port)
        self.session_id = session_id
        self.token = token
        self.state = "open"
        self.acks: dict[int, dict] = {}
        self.commands: dict[int, float] = {}  # command time (µs) -> arrival of its frame
        self.sizes: list[int] = []
        self.next_ack = 1
        self.seqs: list[int] = []
        self.times: list[float] = []
        self.fulls: list[bool] = []
        self.parse(time.monotonic())  # the open packet may have come with the handshake

    def feed(self, now: float) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk
        self.parse(now)

    def parse(self, now: float) -> None:
        buf = self.buf
        pos = 0
        while len(buf) - pos >= 2:
            n = buf[pos + 1] & 0x7F
            head = 2
            if n == 126:
                if len(buf) - pos < 4:
                    break
                n = int.from_bytes(buf[pos + 2:pos + 4], "big")
                head = 4
            elif n == 127:
                if len(buf) - pos < 10:
                    break
                n = int.from_bytes(buf[pos + 2:pos + 10], "big")
                head = 10
            if len(buf) - pos < head + n:
                break
            body = pos + head
            whole = self.token is not None or buf[body:body + 2] == b"43"
            self.message(buf[body:body + (n if whole else min(n, 120))], now)
            pos += head + n
        self.buf = buf[pos:]

    def message(self, start: bytes, now: float) -> None:
        if start.startswith(b'42["frame"'):
            i = start.find(b'"seq":')
            j = i + 6
            while start[j:j + 1].isdigit():
                j += 1
            self.seqs.append(int(start[i + 6:j]))
            self.times.append(now)
            self.fulls.append(b'"full":true' in start[:j + 12])
            if self.token is not None:
                self.sizes.append(len(start) - len('42["frame",]'))
                if b'"command"' in start:
                    frame = json.loads(start[2:])[1]
                    for e in frame.get("events", ()):
                        if e[2] == "command" and e[5] == ACTION:
                            self.commands.setdefault(e[1], now)
        elif start.startswith(b"43"):
            j = 2
            while start[j:j + 1].isdigit():
                j += 1
            self.acks[int(start[2:j])] = json.loads(start[j:])[0]
        elif start == b"2":
            self.sock.sendall(_ws_frame("3"))
        elif start.startswith(b"0{") and self.state == "open":
            self.sock.sendall(_ws_frame("40"))
            self.state = "connecting"
        elif start.startswith(b"40") and self.state == "connecting":
            ids = {"session": self.session_id}
            if self.token is not None:
                ids["token"] = self.token
            self.sock.sendall(_ws_frame('420["join",' + json.dumps(ids) + "]"))
            self.state = "joined"

    def send(self, event: str, payload: dict) -> int:
        """Send a request; its answer will be in ``acks`` under the returned id."""
        ack = self.next_ack
        self.next_ack += 1
        self.sock.sendall(_ws_frame(f"42{ack}" + json.dumps([event, payload])))
        return ack


def upgrade(sock: socket.socket, host: str, port: int) -> bytes:
    """Open an Engine.IO websocket on a connected socket; what came after the handshake."""
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                  f"Host: {host}:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed during the websocket handshake")
        buf += chunk
    return buf[buf.index(b"\r\n\r\n") + 4:]


def _small_buffer_connection(host: str, port: int, rcvbuf: int):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect((host, port))
    return sock
