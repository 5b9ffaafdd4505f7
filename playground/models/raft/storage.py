"""The external storage that leaders write to, with their term as the fencing token.

A register with a fencing check, not a database: with ``fencing`` it rejects a token
below the highest it has accepted, and its answer tells the writer that highest token.
It is an external durable resource: everything it records survives a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import MS, Role, on

from .facts import WriteAccepted
from .messages import STORAGE, StorageWrite, StorageWriteResult


@dataclass(slots=True)
class StorageState:
    highest_token: int = 0
    accepted: int = 0
    rejected: int = 0
    stale_accepted: int = 0
    writes: list = field(default_factory=list)  # the latest few, for the panel


class Storage(Role):
    name = STORAGE
    State = StorageState
    durable = ("highest_token", "accepted", "rejected", "stale_accepted", "writes")
    helper = True

    @on(StorageWrite)
    def write(self, st: StorageState, m: StorageWrite, src: str, ctx) -> None:
        """Accept a write unless its token is below the highest accepted (with fencing)."""
        highest = st.highest_token
        if m.token < highest and self.model.fencing:
            st.rejected += 1
            ctx.count("fenced_writes")
            accepted = False
        else:
            st.accepted += 1
            if m.token < highest:
                st.stale_accepted += 1
                ctx.count("stale_writes_accepted")
            else:
                st.highest_token = m.token
            accepted = True
            ctx.tell(WriteAccepted(m.token, m.writer))
        writes = st.writes
        writes.append((ctx.now // MS, m.writer, m.token, accepted))
        if len(writes) > 12:
            del writes[0]
        ctx.send(src, StorageWriteResult(m.token, accepted, st.highest_token))

    def summary(self, node_id, st):
        return {"highest_token": st.highest_token, "accepted": st.accepted,
                "rejected": st.rejected, "stale_accepted": st.stale_accepted}
