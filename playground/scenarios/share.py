"""Share strings: a whole scenario in a URL, round-tripping exactly.

Format: ``1.`` followed by unpadded base64url of ``digest ‖ deflate(json)``, where
``json`` is the scenario in compact form with sorted keys and ``digest`` the first six
bytes of its SHA-256. The version prefix lets the format evolve; the digest refuses a
string that was truncated, mistyped or edited by hand. Decoding bounds both the string
and the inflated size before parsing, then validates the scenario like any other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import zlib

from ..engine.errors import ScenarioError
from .schema import MAX_BYTES, parse, validate

PREFIX = "1."
MAX_SHARE_CHARS = 16_000
_ALPHABET = re.compile(r"^[A-Za-z0-9_-]*$")
_LINK = re.compile(r"(?:^|/)s/([^/?#\s]+)")


def canonical(scenario: dict) -> bytes:
    return json.dumps(scenario, separators=(",", ":"), sort_keys=True,
                      ensure_ascii=False).encode()


def encode(scenario: dict) -> str:
    """The share string of a scenario (validated first, so only good ones are shared)."""
    return pack(validate(scenario))


def pack(scenario: dict, body: bytes | None = None) -> str:
    """The share string of a scenario exactly as ``validate`` returns it (not checked
    again: for callers that keep a validated scenario up to date themselves); ``body``:
    its ``canonical`` form, if the caller has it already."""
    if body is None:
        body = canonical(scenario)
    packed = hashlib.sha256(body).digest()[:6] + zlib.compress(body, 9)
    return PREFIX + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def link_path(scenario: dict) -> str:
    """The path of the page that opens a scenario: ``/s/<share string>``."""
    return "/s/" + encode(scenario)


def looks_like_share(text: str) -> bool:
    return text.startswith(PREFIX) or bool(_LINK.search(text))


def decode(text: str) -> dict:
    """The validated scenario in a share string or link, or a clear ScenarioError."""
    text = text.strip()
    match = _LINK.search(text)
    if match:
        text = match.group(1)
    if len(text) > MAX_SHARE_CHARS:
        raise ScenarioError(f"the share link is {len(text)} characters long; the limit is "
                            f"{MAX_SHARE_CHARS}")
    if not text.startswith(PREFIX):
        raise ScenarioError("this is not a share link of this playground (it should start "
                            f"with '{PREFIX}')")
    data = text[len(PREFIX):]
    if not _ALPHABET.match(data):
        raise ScenarioError("the share link contains characters that a share link never has")
    try:
        packed = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        raise ScenarioError("the share link is damaged (it is not valid base64url)") from None
    if len(packed) < 8:
        raise ScenarioError("the share link is too short to hold a scenario")
    digest, compressed = packed[:6], packed[6:]
    inflater = zlib.decompressobj()
    try:
        body = inflater.decompress(compressed, MAX_BYTES + 1)
    except zlib.error:
        raise ScenarioError("the share link is damaged (its data does not decompress)") from None
    if len(body) > MAX_BYTES or inflater.unconsumed_tail:
        raise ScenarioError(f"the scenario in the share link is larger than {MAX_BYTES} bytes")
    if hashlib.sha256(body).digest()[:6] != digest:
        raise ScenarioError("the share link was altered or truncated (its checksum does not "
                            "match)")
    return validate(parse(body, "the scenario in the share link"))
