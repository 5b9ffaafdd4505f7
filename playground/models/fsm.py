"""Finite state machines as transition tables, shared by the protocol models.

Theory of operation
-------------------
Where a protocol is a finite state machine (a 2PC coordinator or participant, a saga
step), its phases are an ``Enum`` and the legal moves are a table ``{phase: (next, ...)}``
held by a :class:`Transitions`. Every change of phase goes through
:meth:`Transitions.move`, which returns the new phase or raises
:class:`IllegalTransition` naming the machine and both phases. A model bug then stops
the run at the faulty handler instead of quietly producing a wrong trace.
"""

from __future__ import annotations

from enum import Enum


class IllegalTransition(RuntimeError):
    """A phase change that the machine's transition table does not allow."""


class Transitions:
    """A transition table over one ``Enum`` of phases."""

    __slots__ = ("name", "table")

    def __init__(self, name: str, table: dict):
        phases = {type(p) for p in table}
        for targets in table.values():
            phases.update(type(t) for t in targets)
        if len(phases) != 1 or not issubclass(next(iter(phases)), Enum):
            raise TypeError(f"{name}: a transition table is over exactly one Enum")
        self.name = name
        self.table = {p: tuple(t) for p, t in table.items()}

    def move(self, current: Enum, new: Enum) -> Enum:
        """``new`` if the table allows ``current`` → ``new``; otherwise raise."""
        if new not in self.table.get(current, ()):
            raise IllegalTransition(f"{self.name}: illegal transition "
                                    f"{current.name} -> {new.name}")
        return new
