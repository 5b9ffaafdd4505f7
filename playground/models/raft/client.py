"""The Raft model's client: a workload of puts and gets, and the requests a user injects.

It sends each request to the server it believes leads (a random one at first), follows a
redirect to the leader a follower names, and retries an unanswered request at another
server after ``request_timeout_ms``. The request id counter is durable, so a restarted
client never reuses an id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import MS, Role, Timer, command, on, timer

from .facts import ReadAnswered, ReadIssued
from .messages import (CLIENT, ISSUE, READ, ClientReply, ClientRequest, RaftTimer, ReadReply,
                       ReadRequest)


@dataclass(slots=True)
class ClientState:
    next_request: int = 1
    leader_guess: str | None = None
    pending: dict = field(default_factory=dict)  # request_id -> (issued_at, key, value)
    answered: int = 0
    reads: dict = field(default_factory=dict)  # request_id -> (issued_at, key, asked)
    last_read: tuple = ()  # (request id, key, value, server that answered)


class Client(Role):
    name = CLIENT
    State = ClientState
    durable = ("next_request",)  # the client never reuses a request id, even after a crash
    helper = True

    def __init__(self, model):
        super().__init__(model)
        self.issue_every, self.read_every = model.issue_every, model.read_every
        self.request_timeout = model.request_timeout
        self.keys = model.keys

    def start(self, st, ctx):
        """Start the workload."""
        if self.issue_every:
            ctx.set_timer(ISSUE, self.issue_every)
        if self.read_every:
            ctx.set_timer(READ, self.read_every)

    # -- puts --------------------------------------------------------------------------------
    @timer(RaftTimer.ISSUE)
    def issue_due(self, st, _timer, ctx) -> None:
        ctx.set_timer(ISSUE, self.issue_every)
        self.issue(st, ctx.rng.choice(self.keys), st.next_request, ctx)

    @command("put")
    def put(self, st, cmd: dict, ctx) -> None:
        """A user's put, sent like any other request (to the server it names, if any)."""
        self.issue(st, cmd["key"], cmd["value"], ctx, cmd.get("node"))

    def issue(self, st, key: str, value: int, ctx, via: str | None = None) -> None:
        rid = st.next_request
        st.next_request += 1
        st.pending[rid] = (ctx.now, key, value)
        ctx.count("client_requests")
        target = via or st.leader_guess or ctx.rng.choice(ctx.peers)
        ctx.send(target, ClientRequest(rid, key, value))
        ctx.set_timer(Timer(RaftTimer.RETRY, rid), self.request_timeout)

    @on(ClientReply)
    def client_reply(self, st, m: ClientReply, src: str, ctx) -> None:
        """Success ends a request; a redirect resends it to the named leader."""
        pending = st.pending.get(m.request_id)
        if pending is None:
            return  # answered already (a request and its retry were both answered)
        if m.success:
            del st.pending[m.request_id]
            st.leader_guess = src
            st.answered += 1
            ctx.cancel_timer(Timer(RaftTimer.RETRY, m.request_id))
            ctx.count("client_ok")
            ctx.observe("client_latency_ms", (ctx.now - pending[0]) / MS)
            return
        ctx.count("client_redirects")
        hint = self.redirected(st, m.leader_hint, src)
        if hint is not None:
            ctx.send(hint, ClientRequest(m.request_id, pending[1], pending[2]))

    @staticmethod
    def redirected(st, hint: str | None, src: str) -> str | None:
        """Follow a redirect: the named leader becomes the client's guess. None when the
        server knows no leader (or names itself): the retry timer tries elsewhere."""
        st.leader_guess = None if hint is None or hint == src else hint
        return st.leader_guess

    @timer(RaftTimer.RETRY)
    def retry(self, st, t: Timer, ctx) -> None:
        pending = st.pending.get(t.arg)
        if pending is None:
            return
        ctx.count("client_retries")
        others = [s for s in ctx.peers if s != st.leader_guess]
        st.leader_guess = ctx.rng.choice(others)
        ctx.send(st.leader_guess, ClientRequest(t.arg, pending[1], pending[2]))
        ctx.set_timer(t, self.request_timeout)

    # -- gets --------------------------------------------------------------------------------
    @timer(RaftTimer.READ)
    def read_due(self, st, _timer, ctx) -> None:
        ctx.set_timer(READ, self.read_every)
        self.issue_read(st, ctx.rng.choice(self.keys), None, ctx)

    @command("get")
    def get(self, st, cmd: dict, ctx) -> None:
        """A user's get (to the server it names; default: the leader it believes in)."""
        self.issue_read(st, cmd["key"], cmd.get("node"), ctx)

    def issue_read(self, st, key: str, via: str | None, ctx) -> None:
        rid = st.next_request
        st.next_request += 1
        target = via or st.leader_guess or ctx.rng.choice(ctx.peers)
        st.reads[rid] = (ctx.now, key, target)
        ctx.tell(ReadIssued(rid, key))
        ctx.count("client_reads")
        ctx.send(target, ReadRequest(rid, key))
        ctx.set_timer(Timer(RaftTimer.READ_RETRY, rid), self.request_timeout)

    @on(ReadReply)
    def read_reply(self, st, m: ReadReply, src: str, ctx) -> None:
        """An answer ends a read; a redirect resends it to the named leader."""
        pending = st.reads.get(m.request_id)
        if pending is None:
            return  # answered already
        if m.success:
            del st.reads[m.request_id]
            st.leader_guess = src
            st.last_read = (m.request_id, pending[1], m.value, src)
            ctx.tell(ReadAnswered(m.request_id, pending[1], m.value, src))
            ctx.cancel_timer(Timer(RaftTimer.READ_RETRY, m.request_id))
            ctx.count("reads_ok")
            ctx.observe("read_latency_ms", (ctx.now - pending[0]) / MS)
            return
        ctx.count("read_redirects")
        hint = self.redirected(st, m.leader_hint, src)
        if hint is not None:
            st.reads[m.request_id] = (pending[0], pending[1], hint)
            ctx.send(hint, ReadRequest(m.request_id, pending[1]))

    @timer(RaftTimer.READ_RETRY)
    def read_retry(self, st, t: Timer, ctx) -> None:
        pending = st.reads.get(t.arg)
        if pending is None:
            return
        ctx.count("read_retries")
        target = ctx.rng.choice([s for s in ctx.peers if s != pending[2]])
        st.leader_guess = None
        st.reads[t.arg] = (pending[0], pending[1], target)
        ctx.send(target, ReadRequest(t.arg, pending[1]))
        ctx.set_timer(t, self.request_timeout)

    # -- display -----------------------------------------------------------------------------
    def summary(self, node_id, st):
        return {"pending": len(st.pending), "answered": st.answered,
                "leader_guess": st.leader_guess}
