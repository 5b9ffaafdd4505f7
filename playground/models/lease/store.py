"""The store: the shared resource, which fences writes by epoch when told to."""

from __future__ import annotations

from dataclasses import dataclass

from playground.models.base import Role, on

from .messages import STORE, Write, WriteAck
from .facts import WriteAccepted


@dataclass(slots=True)
class StoreState:
    max_epoch: int = 0
    last_writer: str | None = None
    last_seq: int = 0
    accepted: int = 0
    rejected: int = 0


class Store(Role):
    """The shared resource; with fencing, the epoch is the fencing token."""

    name = STORE
    State = StoreState
    durable = ("max_epoch", "last_writer", "last_seq", "accepted", "rejected")
    helper = True

    @on(Write)
    def write(self, state: StoreState, msg: Write, src: str, ctx) -> None:
        if self.model.v["fencing"] and msg.epoch < state.max_epoch:
            state.rejected += 1
            ctx.count("stale_writes_rejected")
            ctx.note(f"refused write {msg.seq} of {src}: epoch {msg.epoch} < "
                     f"{state.max_epoch}", epoch=msg.epoch)
            ctx.send(src, WriteAck(False, state.max_epoch))
            return
        state.accepted += 1
        state.max_epoch = max(state.max_epoch, msg.epoch)
        state.last_writer, state.last_seq = src, msg.seq
        ctx.tell(WriteAccepted(src, msg.epoch, msg.seq))
        ctx.send(src, WriteAck(True, state.max_epoch))

    def label(self, state):
        return "store"

    def summary(self, node_id, state):
        return {"max_epoch": state.max_epoch, "last_writer": state.last_writer,
                "accepted": state.accepted, "rejected": state.rejected}
