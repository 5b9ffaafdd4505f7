"""The registry of protocol models, by the name scenarios use.

A model is one module beside this file (see ``base.py`` for the interface); adding a
protocol to the playground is one import and one line here.
"""

from .base import Model

MODELS: dict[str, type[Model]] = {}


def register(cls: type[Model]) -> type[Model]:
    """Make a model class available to scenarios under ``cls.name``."""
    MODELS[cls.name] = cls
    return cls
from . import saga  # noqa: E402,F401
from . import idempotency  # noqa: E402,F401
from . import heartbeat  # noqa: E402,F401
from . import outbox  # noqa: E402,F401
from . import twopc  # noqa: E402,F401
from . import raft  # noqa: E402,F401
from . import lease  # noqa: E402,F401
