"""Hand-written mutants of the models, to show that their checks can fail.

A mutant is a small, plausible bug in one mechanism (a lock service that hands a lease
over early, a participant that releases its lock before the decision), applied by
replacing one method of a role or a checker for the duration of a test. The mutation
test runs the model's presets and random schedules against it: a mutant is *caught*
when a preset no longer matches its expectation or a schedule on a correct
configuration breaks an invariant. ``test_mutants.py`` prints the mutation score of
each model; every mutant must be caught.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Mutant:
    """One bug: its model, a name, what it breaks, and the replacements that make it."""

    model: str
    name: str
    description: str
    patches: tuple  # (class, attribute, replacement function)


def mutant(model: str, name: str, description: str, *patches) -> Mutant:
    return Mutant(model, name, description, tuple(patches))


def replacing(cls: type, attr: str) -> Callable:
    """Decorate a function as the replacement of ``cls.attr`` (it keeps the original's
    handler declarations, so the kit dispatches to it as it did to the original)."""
    def mark(fn):
        original = cls.__dict__[attr]
        fn.__dict__.update(getattr(original, "__dict__", {}))
        fn.__name__ = attr
        return (cls, attr, fn)
    return mark


@contextmanager
def applied(m: Mutant):
    """The mutant's replacements in place, and the originals back afterwards."""
    saved = [(cls, attr, cls.__dict__[attr]) for cls, attr, _fn in m.patches]
    try:
        for cls, attr, fn in m.patches:
            setattr(cls, attr, fn)
        yield m
    finally:
        for cls, attr, original in saved:
            setattr(cls, attr, original)
