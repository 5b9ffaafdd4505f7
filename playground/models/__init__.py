"""The registry of protocol models, by the name scenarios use.

A model is one module beside this file (see ``base.py`` for the interface) whose class is
decorated with :func:`register`; adding a protocol to the playground is that module and
one line in ``_MODULES``. A model's module is imported the first time its class is asked
for, so a run of one model loads only that model.

A model may also live outside the package: :func:`import_models` imports the modules
named in ``PLAYGROUND_EXTRA_MODELS`` (comma-separated dotted paths), and the command
line and the web app call it at start, so a model written elsewhere joins without
touching any file here.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping

from .base import Model

_MODULES = {  # model name -> module beside this file
    "raft": "raft",
    "twopc": "twopc",
    "saga": "saga",
    "outbox": "outbox",
    "idempotency": "idempotency",
    "heartbeat": "heartbeat",
    "lease": "lease",
}


class Registry(Mapping):
    """Model classes by name; a listed model's module loads on first look-up."""

    def __init__(self, modules: dict[str, str]):
        self._modules = dict(modules)
        self._classes: dict[str, type[Model]] = {}

    def add(self, cls: type[Model]) -> None:
        self._classes[cls.name] = cls

    def __getitem__(self, name: str) -> type[Model]:
        cls = self._classes.get(name)
        if cls is None and name in self._modules:
            importlib.import_module(f"{__name__}.{self._modules[name]}")
            cls = self._classes.get(name)
            if cls is None:
                raise LookupError(f"module {self._modules[name]!r} registers no model "
                                  f"named {name!r}")
        if cls is None:
            raise KeyError(name)
        return cls

    def __contains__(self, name) -> bool:
        return name in self._classes or name in self._modules

    def __iter__(self):
        return iter(sorted(set(self._modules) | set(self._classes)))

    def __len__(self) -> int:
        return len(set(self._modules) | set(self._classes))


MODELS = Registry(_MODULES)


def register(cls: type[Model]) -> type[Model]:
    """Make a model class available to scenarios under ``cls.name``."""
    MODELS.add(cls)
    return cls


class ModelImportError(ImportError):
    """A module named to register more models could not be imported."""


def import_models(modules: str | None = None) -> list[str]:
    """Import the comma-separated ``modules`` (default: the environment variable
    ``PLAYGROUND_EXTRA_MODELS``), whose models then register themselves; the names of
    the models that joined."""
    if modules is None:
        modules = os.environ.get("PLAYGROUND_EXTRA_MODELS", "")
    before = set(MODELS)
    for module in filter(None, (m.strip() for m in str(modules).split(","))):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ModelImportError(f"PLAYGROUND_EXTRA_MODELS: cannot import {module!r} "
                                   f"({exc})") from None
    return sorted(set(MODELS) - before)
