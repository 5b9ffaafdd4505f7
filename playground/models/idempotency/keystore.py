"""The key store: the database table (or KV store) of idempotency keys.

Every operation is one handler step, hence atomic: ``KeyInsert`` is an INSERT into a
table with a unique constraint on the key, ``KeyPutIfAbsent`` a put with the condition
``attribute_not_exists(key)``, ``KeyTakeOver`` locks a STARTED row anew once its lock is
``older_than`` old on this node's clock. A row keeps the fingerprint of the request that
created it (who asked, for how much) and every answer carries it, so the server can tell a
retry from a reuse of the key for another request. The naive path is three separate operations
(``KeyGet``, then later ``KeyPut``), which is its race. The table survives a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.models.base import Role, on

from .facts import KeyClaimed, KeyInserted, KeySaved, KeyTakenOver
from .messages import (KEYS, ConditionFailed, DuplicateKey, Fingerprint, KeyGet, KeyInsert,
                       KeyItem, KeyPut, KeyPutIfAbsent, KeyStatus, KeyTakeOver, KeyWritten,
                       Receipt)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    status: KeyStatus
    receipt: Receipt | None
    fingerprint: Fingerprint


@dataclass(slots=True)
class KeyTable:
    items: dict = field(default_factory=dict)  # idempotency_key -> KeyRecord
    locked_at: dict = field(default_factory=dict)  # STARTED key -> when it was locked (µs)


@dataclass(slots=True)
class KeyStoreState:
    disk: KeyTable = field(default_factory=KeyTable)


def item(op: int, key: str, record: KeyRecord | None) -> KeyItem:
    """The answer to a read of ``key``: its row, or a row of Nones."""
    if record is None:
        return KeyItem(op, key, None, None, None)
    return KeyItem(op, key, record.status, record.receipt, record.fingerprint)


class KeyStore(Role):
    name = KEYS
    State = KeyStoreState
    durable = ("disk",)
    helper = True

    @on(KeyGet)
    def get(self, state, msg, src, ctx):
        record = state.disk.items.get(msg.idempotency_key)
        ctx.send(src, item(msg.op, msg.idempotency_key, record))

    @on(KeyPut)
    def put(self, state, msg, src, ctx):
        state.disk.items[msg.idempotency_key] = KeyRecord(msg.status, msg.receipt,
                                                          msg.fingerprint)
        if msg.status is not KeyStatus.STARTED:
            state.disk.locked_at.pop(msg.idempotency_key, None)
        ctx.tell(KeySaved(msg.idempotency_key, msg.status.value,
                          msg.receipt.charge_id if msg.receipt else None))
        ctx.send(src, KeyWritten(msg.op, msg.idempotency_key))

    def _lock(self, state, msg, src, fact, ctx):
        """Write (key, STARTED, fingerprint), locked now, and tell the asker it is written."""
        key = msg.idempotency_key
        state.disk.items[key] = KeyRecord(KeyStatus.STARTED, None, msg.fingerprint)
        state.disk.locked_at[key] = ctx.now
        ctx.tell(fact)
        ctx.send(src, KeyWritten(msg.op, key))

    @on(KeyInsert)
    def insert(self, state, msg, src, ctx):
        """INSERT with a unique constraint on the key: a row already there refuses it."""
        if msg.idempotency_key in state.disk.items:
            ctx.send(src, DuplicateKey(msg.op, msg.idempotency_key))
        else:
            self._lock(state, msg, src, KeyInserted(msg.idempotency_key), ctx)

    @on(KeyPutIfAbsent)
    def put_if_absent(self, state, msg, src, ctx):
        """A conditional put: refused with the existing item if there is one."""
        record = state.disk.items.get(msg.idempotency_key)
        if record is not None:
            ctx.send(src, ConditionFailed(msg.op, msg.idempotency_key, record.status,
                                          record.receipt, record.fingerprint))
        else:
            self._lock(state, msg, src, KeyClaimed(msg.idempotency_key), ctx)

    @on(KeyTakeOver)
    def take_over(self, state, msg, src, ctx):
        """Lock a STARTED row of the same request anew if its lock is stale; otherwise
        return the row."""
        key = msg.idempotency_key
        record = state.disk.items.get(key)
        locked_at = state.disk.locked_at.get(key, ctx.now)
        if record is None or (record.status is KeyStatus.STARTED and
                              record.fingerprint == msg.fingerprint and
                              ctx.now - locked_at >= msg.older_than):
            held = None if record is None else ctx.now - locked_at
            self._lock(state, msg, src, KeyTakenOver(key, held), ctx)
        else:
            ctx.send(src, item(msg.op, key, record))

    def label(self, state):
        return "key store"

    def summary(self, node_id, state):
        return {"keys": len(state.disk.items)}
