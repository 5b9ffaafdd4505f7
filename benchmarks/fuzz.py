"""Fuzz the real server: generated and mutated Socket.IO packets and HTTP requests.

    python benchmarks/fuzz.py [--packets 10000] [--http 3000] [--seed 1]
                              [--default-limits] [--log server.log]

Starts ``python app.py`` (eventlet, the production path) on a free port of 127.0.0.1 and
sends it ``--packets`` Socket.IO packets over raw websocket connections and ``--http``
HTTP requests, from one seeded random stream (the same seed sends the same payloads):

* **generated** requests of every event (create from presets, scenario objects and share
  links; join, leave, control, act, inspect with the ids and tokens of sessions created
  on the way, and with wrong ones), with values drawn from the edges: empty, huge,
  negative, NaN and Infinity, lone surrogates, non-ASCII tokens, nesting deeper than the
  parser allows, reserved and unknown event names;
* **mutated** packets: a generated packet with bytes flipped, cut, repeated or inserted,
  a different packet type, a namespace, a long ack id, invalid UTF-8, the packets that
  used to raise inside the library (``42[]``, ``42{}``, ``42null``, ``42["*",…]``),
  binary attachments (``45999999-[…]`` then binary frames) and binary frames alone;
* **HTTP**: pages, share, short and watch links, QR codes and the JSON API with damaged
  ids and bodies, and Engine.IO polling requests with bad parameters.

It prints the answers by kind (ok, each error message with its ids blanked, no answer),
the connections the server closed and after what, HTTP statuses, the tracebacks found in
the server's log and the server's resident memory before and after. Rate limits apply as
configured: by default they are raised (50 creates, 500 requests a second, 1000 sessions
per address) so that requests get past them; ``--default-limits`` keeps the shipped ones.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.web.serve import start_server, stop, upgrade  # noqa: E402

EVENTS = ["create", "join", "leave", "control", "act", "inspect", "find", "find_cancel"]
# How often each is drawn: a search starts a worker process and runs for a minute, so
# few are asked for (MAX_SEARCHES bounds them anyway).
WEIGHTS = [15, 15, 5, 25, 25, 10, 1, 4]
ODD_EVENTS = ["connect", "disconnect", "connect_error", "*", "message", "json",
              "playground:watchers", "playground:frame_wanted", "playground:undecodable",
              "", " ", "frame", "x" * 300, "é", "\ud800"]
OPS = ["play", "pause", "step", "speed", "seek", "fork"]
FAULTS = ["crash", "restart", "pause", "resume", "cut", "heal", "partition", "skew", "drift",
          "link", "drop"]
BATCH = 40  # packets sent before the answers to them are read
ODD: list = []  # (request, answer) of answers that are neither ok nor an error


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


# -- websocket framing ---------------------------------------------------------------------

def ws_frame(data: bytes, opcode: int = 0x1) -> bytes:
    """One masked client frame of any length (text opcode 1, binary 2)."""
    mask = os.urandom(4)
    n = len(data)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 1 << 16:
        head = bytes([0x80 | opcode, 0xFE]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0xFF]) + n.to_bytes(8, "big")
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return head + mask + masked


class Closed(Exception):
    """The server closed the connection."""


class Conn:
    """A Socket.IO client over a raw websocket that sends exactly the bytes it is given."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            self.buf = upgrade(self.sock, "127.0.0.1", port)
        except OSError:
            raise Closed() from None
        self.acks: dict[int, object] = {}
        self.messages = 0
        self.send_text("40")
        deadline = time.monotonic() + 5
        self.connected = False
        while not self.connected and time.monotonic() < deadline:
            self.read(0.5)

    def _recv(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise Closed()
        self.buf += chunk

    def send_text(self, text: str) -> None:
        self.send_raw(ws_frame(text.encode("utf-8", "surrogatepass")))

    def send_raw(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError:
            raise Closed() from None

    def read(self, timeout: float) -> None:
        """Read and parse what arrives within ``timeout`` seconds."""
        self.sock.settimeout(timeout)
        try:
            self._recv()
        except (TimeoutError, socket.timeout):
            return
        except OSError:
            raise Closed() from None
        self._parse()

    def _parse(self) -> None:
        buf, pos = self.buf, 0
        while len(buf) - pos >= 2:
            opcode = buf[pos] & 0x0F
            n, head = buf[pos + 1] & 0x7F, 2
            if n == 126:
                if len(buf) - pos < 4:
                    break
                n, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif n == 127:
                if len(buf) - pos < 10:
                    break
                n, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            if len(buf) - pos < head + n:
                break
            body = buf[pos + head:pos + head + n]
            pos += head + n
            if opcode == 0x8:
                self.buf = b""
                raise Closed()
            self._message(body)
        self.buf = buf[pos:]

    def _message(self, body: bytes) -> None:
        self.messages += 1
        if body == b"2":
            self.send_raw(ws_frame(b"3"))
        elif body.startswith(b"40"):
            self.connected = True
        elif body.startswith(b"43"):
            match = re.match(rb"43(\d+)", body)
            if match:
                try:
                    args = json.loads(body[match.end():])
                except ValueError:
                    args = ["<undecodable answer>"]
                self.acks[int(match.group(1))] = args[0] if len(args) == 1 else args
        elif body.startswith(b"1"):
            raise Closed()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


# -- payloads ------------------------------------------------------------------------------

class Payloads:
    """Generated and mutated requests from one random stream (see the module docstring)."""

    def __init__(self, rng: random.Random, presets: list[str], models: dict):
        self.rng = rng
        self.presets = presets
        self.models = models
        self.sessions: list[tuple[str, str]] = []  # (id, token) of sessions created
        self.shares: list[str] = []

    def edge(self, depth: int = 0):
        """A value from the edges of what JSON can carry."""
        r = self.rng
        pick = r.randrange(16 if depth < 3 else 14)
        if pick == 14:
            return [self.edge(depth + 1) for _ in range(r.randrange(3))]
        if pick == 15:
            return {str(self.edge(depth + 1))[:10]: self.edge(depth + 1)
                    for _ in range(r.randrange(3))}
        return [None, True, 0, -1, 2**63, -2**70, 1e308, "", "x" * r.randrange(1, 3000),
                "\ud800", "é", "NaN", float("nan"), float("inf")][pick]

    def session(self) -> tuple[str, str]:
        r = self.rng
        if self.sessions and r.random() < 0.8:
            sid, token = r.choice(self.sessions)
            roll = r.random()
            if roll < 0.1:
                token = token[:-1] + ("A" if token[-1] != "A" else "B")
            elif roll < 0.15:
                token = "é" * len(token)
            elif roll < 0.2:
                token = "\ud800"
            return sid, token
        return r.choice(["A" * 22, "../etc/passwd", "", "x" * 70]), "t"

    def scenario(self):
        r = self.rng
        roll = r.random()
        if roll < 0.3 or not self.presets:
            return r.choice(self.presets + ["no-such-preset", ""])
        if roll < 0.45 and self.shares:
            share = r.choice(self.shares)
            return share if r.random() < 0.7 else self.mutate_text(share)
        name = r.choice(list(self.models))
        obj = {"model": name, "seed": r.randrange(2**31), "nodes": r.choice(
            [1, 3, 5, 101, 102, 0]), "duration_ms": r.choice([1000, 60_000, 3_600_001])}
        extra = r.random()
        if extra < 0.2:
            obj["title"] = self.edge()
        elif extra < 0.3:
            obj["params"] = {r.choice(self.models[name]["params"] or ["x"]): self.edge()}
        elif extra < 0.4:
            obj["commands"] = [{"type": r.choice(FAULTS), "node": "n1", "at_ms": self.edge()}]
        elif extra < 0.45:
            deep: object = 1
            for _ in range(r.choice([33, 200, 5000])):
                deep = [deep]
            obj["params"] = deep
        return obj

    def request(self) -> tuple[str, list]:
        """An event name and its arguments."""
        r = self.rng
        event = r.choices(EVENTS, WEIGHTS)[0]
        sid, token = self.session()
        if event == "create":
            payload = {"scenario": self.scenario()}
        elif event == "join":
            payload = {"session": sid} if r.random() < 0.5 else {"session": sid, "token": token}
        elif event == "leave":
            payload = {"session": sid}
        elif event == "control":
            op = r.choice(OPS + ["jump"])
            payload = {"session": sid, "token": token, "op": op}
            if r.random() < 0.7:
                payload["value"] = r.choice([self.edge(), r.uniform(0, 100), "max",
                                             r.randrange(0, 70_000)])
        elif event == "act":
            kind = r.choice(FAULTS)
            action = {"type": kind, "node": r.choice(["n1", "n2", "n9", "client", ""])}
            if kind in ("cut", "link"):
                action = {"type": kind, "from": "n1", "to": r.choice(["n2", "n1", "n7"])}
            if r.random() < 0.3:
                action[r.choice(["offset_ms", "rate", "at_ms", "loss", "for_ms"])] = self.edge()
            payload = {"session": sid, "token": token, "action": action}
        elif event == "inspect":
            payload = {"session": sid, "event": r.choice([0, 5, -1, 10**12, self.edge()])}
        else:
            payload = {"session": sid, "token": token}
        args = [payload]
        roll = r.random()
        if roll < 0.05:
            args = [self.edge()]
        elif roll < 0.08:
            args = [payload, self.edge()]
        elif roll < 0.1:
            args = []
        if r.random() < 0.05:
            event = r.choice(ODD_EVENTS)
        return event, args

    def mutate_text(self, text: str) -> str:
        r = self.rng
        chars = list(text)
        for _ in range(r.randrange(1, 4)):
            if not chars:
                break
            i = r.randrange(len(chars))
            op = r.randrange(5)
            if op == 0:
                chars[i] = chr(r.choice([0, 34, 44, 91, 93, 123, 125, 92, 0xD800, 0xE9,
                                         r.randrange(32, 127)]))
            elif op == 1:
                del chars[i:i + r.randrange(1, 20)]
            elif op == 2:
                chars[i:i] = chars[i:i + r.randrange(1, 40)]
            elif op == 3:
                chars[i:i] = list(r.choice(['"', "[", "{", "]]]]", "-1", "1e999", "null",
                                            "\\u", "\\ud800"]))
            else:
                del chars[i:]
        return "".join(chars)

    def packet(self, ack: int | None) -> tuple[str, object]:
        """(kind, what to send): a str is one text frame, bytes a raw write, a list of
        those several."""
        r = self.rng
        event, args = self.request()
        try:
            body = json.dumps([event, *args], separators=(",", ":"), allow_nan=True,
                              ensure_ascii=r.random() < 0.5)
            body.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: escaped, so the frame is UTF-8
            body = json.dumps([event, *args], separators=(",", ":"), allow_nan=True)
        except RecursionError:  # deeper than json.dumps goes: written by hand
            depth = r.choice([1000, 5000, 20_000])
            body = ('["create",{"scenario":{"model":"raft","seed":1,"params":{"x":'
                    + "[" * depth + "]" * depth + "}}}]")
        ack_part = "" if ack is None else str(ack)
        roll = r.random()
        if roll < 0.55:
            return "generated", "42" + ack_part + body
        if roll < 0.8:
            return "mutated", self.mutate_text("42" + ack_part + body)
        if roll < 0.9:
            return "library-breaking", r.choice([
                "42[]", "42{}", "42null", '42["*"]', '42["*",1,2]', "42" + ack_part + "[]",
                "42" + ack_part + "{}", "42" + ack_part + '["*"]', "42", "4", "49", "40",
                "41", "43", "43[]", "44", "44{}", "4/x," + body, "4/x?y=1," + body,
                "42" + "9" * 120 + body, "42" + ack_part + "[" * 100_000, "3", "6", "5",
                "9", "", "0", "1"])
        if roll < 0.95:
            return "binary", r.choice([
                ["45999999-" + body.replace("{}", '{"_placeholder":true,"num":0}'),
                 ws_frame(os.urandom(1000), 0x2), ws_frame(os.urandom(1000), 0x2)],
                ["451-" + ack_part + '["create",{"_placeholder":true,"num":0}]',
                 ws_frame(os.urandom(64), 0x2)],
                [ws_frame(b"\x04" + os.urandom(100), 0x2)],
                ["46" + ack_part + "1-[]"]])
        return "invalid-utf8", ws_frame(b"42" + ack_part.encode() + b'["create",{"scenario":"'
                                        + os.urandom(8) + b'"}]')

    def http(self, base: str) -> tuple[str, str, bytes | None]:
        """(method, url, body)."""
        r = self.rng
        sid, _token = self.session()
        share = r.choice(self.shares) if self.shares else "1.AAAA"
        path = r.choice([
            "/", "/?embed=1", "/?lecture=1&embed=true", f"/w/{sid}", f"/w/{sid}?embed=1",
            f"/s/{share}", f"/s/{self.mutate_text(share)}", f"/s/{share[:len(share) // 2]}",
            "/s/abcdefghijkl", "/s/" + "a" * 3000, "/api/presets", "/api/models",
            f"/api/share?scenario={r.choice(self.presets + ['nope', ''])}",
            f"/api/sessions/{sid}/trace.json", f"/api/sessions/{sid}/trace.json?token=x",
            "/qr.svg?text=" + "x" * r.choice([0, 1, 2000, 2001]), "/qr.svg",
            "/static/js/main.js", "/static/../app.py", "/%00", "/api/nothing",
            "/socket.io/?EIO=4&transport=polling", "/socket.io/?EIO=3&transport=polling",
            "/socket.io/?EIO=4&transport=polling&sid=nope", "/socket.io/?transport=x",
            "/socket.io/?EIO=4&transport=polling&t=" + "9" * 5000])
        if r.random() < 0.2:
            body = r.choice([json.dumps({"share": share}), json.dumps({"share": self.edge()}),
                             "{", "null", json.dumps({"share": self.mutate_text(share)}),
                             "[" * 10_000]).encode("utf-8", "surrogatepass")
            return "POST", base + "/api/links", body
        if path.startswith("/socket.io/") and r.random() < 0.3:
            return "POST", base + path, self.mutate_text('40{"x":1}').encode(
                "utf-8", "surrogatepass")
        return "GET", base + path, None


# -- the run -------------------------------------------------------------------------------

def normalise(answer) -> str:
    """An answer's kind: "ok", or its error with ids, numbers and quoted values blanked."""
    if answer == ["", 400]:
        # Flask-SocketIO's own answer to an event that arrives while its connection is
        # being closed (by a later packet of the same client): no handler runs.
        return "library: ('', 400) to a request of a connection being closed"
    if not isinstance(answer, dict):
        return f"not an object: {json.dumps(answer)[:60]}"
    if answer.get("ok") is True:
        return "ok"
    error = str(answer.get("error"))
    error = re.sub(r"'[^']*'", "'…'", error)
    error = re.sub(r"\b[A-Za-z0-9_-]{16,}\b", "<id>", error)
    error = re.sub(r"-?\d+(\.\d+)?(e[+-]?\d+)?", "N", error)
    return "error: " + error[:110]


def fuzz_socket(port: int, payloads: Payloads, count: int, tally: dict) -> None:
    rng = payloads.rng
    sent = 0
    conn = None
    while sent < count:
        if conn is None:
            try:
                conn = Conn(port)
            except (Closed, OSError):
                tally["connect failures"][""] += 1
                time.sleep(0.05)
                conn = None
                continue
            next_ack = 1
        expected: dict[int, str] = {}
        texts: dict[int, str] = {}
        closed_by = None
        spoiled = False
        for _ in range(min(BATCH, count - sent)):
            ack = next_ack if rng.random() < 0.85 else None
            if ack is not None:
                next_ack += 1
            kind, what = payloads.packet(ack)
            sent += 1
            tally["sent"][kind] += 1
            try:
                for part in what if isinstance(what, list) else [what]:
                    if isinstance(part, str):
                        conn.send_text(part)
                    else:
                        conn.send_raw(part)
            except Closed:
                closed_by = kind
                break
            if ack is not None and kind in ("generated", "mutated"):
                expected[ack] = kind
                texts[ack] = what if isinstance(what, str) else repr(what)
            if kind != "generated":
                # It may have left the namespace ("41", "40" again, another namespace)
                # or be about to close the connection: collect the answers, then go on
                # with a new connection.
                spoiled = True
                break
        deadline = time.monotonic() + 3
        while closed_by is None and time.monotonic() < deadline and \
                not set(expected) <= set(conn.acks):
            try:
                conn.read(0.2)
            except Closed:
                closed_by = kind if spoiled else "generated (while answering)"
        for ack, answer in conn.acks.items():
            kind_of = normalise(answer)
            tally["answers"][kind_of] += 1
            if not kind_of.startswith(("ok", "error: ", "library: ")) and len(ODD) < 5:
                ODD.append((texts.get(ack, "?")[:300], answer))
            if isinstance(answer, dict) and answer.get("ok") and "token" in answer:
                payloads.sessions.append((answer["session"], answer["token"]))
                payloads.shares.append(answer["share_url"][len("/s/"):])
                if len(payloads.sessions) > 200:
                    payloads.sessions.pop(0)
        for ack in set(expected) - set(conn.acks):
            why = "the connection closed first" if closed_by else "none within 3 s"
            tally["no answer"][f"to a {expected[ack]} request: {why}"] += 1
        conn.acks.clear()
        if closed_by is None and spoiled:
            try:  # did the server close it? (a binary packet must be refused so)
                conn.read(0.05)
            except Closed:
                closed_by = kind
        if closed_by is not None:
            tally["disconnects"][f"after a {closed_by} packet"] += 1
        if closed_by is not None or spoiled:
            conn.close()
            conn = None
    if conn is not None:
        conn.close()


def fuzz_http(base: str, payloads: Payloads, count: int, tally: dict) -> None:
    import requests

    with requests.Session() as http:
        for _ in range(count):
            method, url, body = payloads.http(base)
            try:
                response = http.request(method, url, data=body, timeout=10,
                                        headers={"Content-Type": "application/json"})
                tally["http"][f"{method} {response.status_code}"] += 1
                if "Content-Security-Policy" not in response.headers:
                    tally["http"]["without security headers"] += 1
            except requests.RequestException as exc:
                tally["http"][f"{method} failed: {type(exc).__name__}"] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=10_000)
    parser.add_argument("--http", type=int, default=3_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--default-limits", action="store_true")
    parser.add_argument("--log", default=None, help="keep the server's log in this file")
    args = parser.parse_args()

    env = {} if args.default_limits else {
        "PLAYGROUND_CREATES_PER_SECOND": "50", "PLAYGROUND_CONTROLS_PER_SECOND": "500",
        "PLAYGROUND_ACTIONS_PER_SECOND": "500", "PLAYGROUND_SESSIONS_PER_ADDRESS": "1000",
        "PLAYGROUND_MAX_SESSIONS": "1000", "PLAYGROUND_LINKS_PER_MINUTE": "100000"}
    env["LOG_LEVEL"] = "INFO"
    log_path = Path(args.log) if args.log else Path(f"/tmp/fuzz-server-{os.getpid()}.log")
    log = open(log_path, "w+")
    proc, base = start_server(env=env, log=log)
    port = int(base.rsplit(":", 1)[1])
    import requests

    try:
        presets = [p["name"] for p in requests.get(base + "/api/presets", timeout=10).json()]
        models = {name: {"params": [p["name"] for p in info["params"]]}
                  for name, info in requests.get(base + "/api/models", timeout=10).json().items()}
        time.sleep(1)
        rss_before = rss_kib(proc.pid)
        tally = collections.defaultdict(collections.Counter)
        payloads = Payloads(random.Random(args.seed), presets, models)
        started = time.monotonic()
        fuzz_socket(port, payloads, args.packets, tally)
        fuzz_http(base, payloads, args.http, tally)
        took = time.monotonic() - started
        alive = proc.poll() is None
        time.sleep(2)
        rss_after = rss_kib(proc.pid) if alive else -1
        answered = requests.get(base + "/api/presets", timeout=10).status_code if alive else None
    finally:
        stop(proc)
    log.seek(0)
    text = log.read()
    log.close()
    tracebacks = text.count("Traceback (most recent call last)")
    print(f"{args.packets} Socket.IO packets and {args.http} HTTP requests in {took:.0f} s "
          f"(seed {args.seed}, {'shipped' if args.default_limits else 'raised'} limits)")
    for section in ("sent", "answers", "no answer", "disconnects", "connect failures", "http"):
        if tally[section]:
            print(f"{section}:")
            for kind, n in tally[section].most_common():
                print(f"  {n:>6}  {kind}")
    print(f"sessions created: {len(payloads.shares)}")
    print(f"server alive at the end: {alive} (GET /api/presets -> {answered})")
    print(f"tracebacks in the server log: {tracebacks}; log lines: {len(text.splitlines())}; "
          f"warnings: {text.count(' WARNING ')}; errors: {text.count(' ERROR ')}")
    print(f"server RSS: {rss_before / 1024:.1f} MiB before, {rss_after / 1024:.1f} MiB after")
    print(f"server log: {log_path}")
    for request, answer in ODD:
        print(f"an answer that is neither ok nor an error: {answer!r} to {request!r}")
    if tracebacks:
        first = text.index("Traceback (most recent call last)")
        print(text[max(0, first - 300):first + 3000])


if __name__ == "__main__":
    main()
