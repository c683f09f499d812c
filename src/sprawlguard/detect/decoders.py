"""Decoders that reveal secrets hidden in base64, percent-encoding or backslash escapes.

Each decoder is a plain `Decoder` record: a cheap trigger (compiled into the engine's multi-pattern
database), a finder for candidate spans, and a function that returns decoded text or None.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

MAX_CANDIDATE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Decoder:
    """A decoder: `trigger` (hyperscan-compatible bytes pattern), `finder`, and `decode`.

    The candidate is the finder's group ``body`` when it has one, else the whole match.
    """

    name: str
    trigger: bytes
    finder: re.Pattern[str]
    decode: Callable[[str], str | None]


def _printable(text: str) -> bool:
    if not text:
        return False
    good = sum(1 for c in text if c.isprintable() or c in "\r\n\t")
    return good / len(text) >= 0.95


_HEX = re.compile(r"[0-9a-fA-F]+$")


def decode_base64(candidate: str) -> str | None:
    """Decode standard or URL-safe base64 into printable UTF-8 text, else None."""
    s = candidate.strip()
    if len(s) > MAX_CANDIDATE or _HEX.match(s):  # hex digests are not base64 of text
        return None
    s += "=" * (-len(s) % 4)
    try:
        raw = base64.b64decode(s.replace("-", "+").replace("_", "/"), validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return text if _printable(text) else None


def decode_percent(candidate: str) -> str | None:
    """Undo percent-encoding; None when nothing changes."""
    try:
        text = urllib.parse.unquote(candidate, errors="strict") if "%" in candidate else candidate
    except UnicodeDecodeError:  # percent-encoded bytes that are not UTF-8: not text, not a secret
        return None
    return text if text != candidate and _printable(text) else None


_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|([nrt\"'/\\]))")
_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "'": "'", "/": "/", "\\": "\\"}


def decode_escapes(candidate: str) -> str | None:
    """Undo JSON/backslash escapes (``\\n``, ``\\u0041``, ``\\x41``); None when nothing changes."""

    def one(m: re.Match[str]) -> str:
        if m.group(1):
            return chr(int(m.group(1), 16))
        if m.group(2):
            return chr(int(m.group(2), 16))
        return _SIMPLE[m.group(3)]

    text = _ESCAPE.sub(one, candidate)
    return text if text != candidate else None


DECODERS: tuple[Decoder, ...] = (
    Decoder(
        name="base64",
        # 32 characters of the standard alphabet, anywhere in a run (the matcher keeps the first
        # hit of a growing run, and the finder then takes the whole run, `_`/`-` of base64url
        # included). Anchoring the trigger at the run's start made hyperscan scan the whole rule
        # database at ~220 MB/s instead of ~460, and snake_case identifiers never trigger it.
        # A base64url value with no 32-character stretch free of `_` and `-` is not decoded.
        trigger=rb"[A-Za-z0-9+/]{32}",
        finder=re.compile(r"(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_-]{32,}={0,2}(?![A-Za-z0-9+/_=-])"),
        decode=decode_base64,
    ),
    Decoder(
        name="percent",
        trigger=rb"%[0-9A-Fa-f]{2}[^\s%]{0,64}%[0-9A-Fa-f]{2}",
        finder=re.compile(r"[^\s\"'<>]*%[0-9A-Fa-f]{2}[^\s\"'<>]*"),
        decode=decode_percent,
    ),
    Decoder(
        name="escape",
        trigger=rb"\\(?:u00[0-9a-fA-F]{2}|n[A-Za-z0-9+/]{16})",
        finder=re.compile(r"([\"'])(?P<body>(?:(?!\1)[^\\\r\n]|\\.){8,20000})\1"),
        decode=decode_escapes,
    ),
)
