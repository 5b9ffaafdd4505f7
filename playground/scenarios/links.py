"""Short links: ``/s/<id>`` for a scenario kept in the store.

The id is derived from the scenario's canonical form (the same bytes a share string
packs), so the same run always gets the same link and saving it again changes nothing:
twelve characters of base32 (lower case, no padding) of its SHA-256, 60 bits. The store
keeps the share string itself; resolving a link decodes and validates it like any share
string, so what comes back is a scenario and nothing else. A long share link
(``/s/1.…``) needs no store at all and stays valid.
"""

from __future__ import annotations

import base64
import hashlib
import re

from ..engine.errors import ScenarioError
from . import share
from .schema import validate

ID_LENGTH = 12
_ID = re.compile(rf"^[a-z2-7]{{{ID_LENGTH}}}$")
PREFIX = "link:"


class UnknownLink(ScenarioError):
    """A well-formed short id that the store does not hold."""


def is_short_id(text: str) -> bool:
    return bool(_ID.match(text))


def short_id(scenario: dict) -> str:
    """The short id of a validated scenario."""
    digest = hashlib.sha256(share.canonical(scenario)).digest()
    return base64.b32encode(digest).decode().lower()[:ID_LENGTH]


def save(store, scenario: dict) -> str:
    """Keep ``scenario`` (validated first) in ``store``; its short id."""
    scenario = validate(scenario)
    sid = short_id(scenario)
    store.put(PREFIX + sid, share.pack(scenario).encode())
    return sid


def resolve(store, sid: str) -> dict:
    """The validated scenario a short id names, or ScenarioError / UnknownLink."""
    if not is_short_id(sid):
        raise ScenarioError(f"'{sid[:40]}' is not a short link id ({ID_LENGTH} letters "
                            "and digits)")
    packed = store.get(PREFIX + sid)
    if packed is None:
        raise UnknownLink(f"no scenario is stored under the short link {sid}: it was made "
                          "on another server, or its store was reset")
    return share.decode(packed.decode("ascii", "replace"))
