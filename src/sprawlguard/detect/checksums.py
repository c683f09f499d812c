"""Offline checksums embedded in some issuers' tokens (GitHub, npm), checked before reporting."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(n: int, width: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = _BASE62[r] + out
    return out.rjust(width, "0")


def _crc32_base62(payload: str) -> str:
    return _base62(zlib.crc32(payload.encode()), 6)


def _is_prefixed_crc32(token: str) -> bool:
    """GitHub/npm scheme: `<prefix>_<30 random><6 base62 CRC32 of the random part>`."""
    body = token.rsplit("_", 1)[-1]
    if len(body) < 7:
        return False
    return _crc32_base62(body[:-6]) == body[-6:]


@dataclass(frozen=True, slots=True)
class Checksum:
    """A token checksum: `check` validates a whole secret, `make` computes one for fakes."""

    check: Callable[[str], bool]
    make: Callable[[str], str]


CHECKSUMS: dict[str, Checksum] = {
    "github": Checksum(check=_is_prefixed_crc32, make=_crc32_base62),
    "npm": Checksum(check=_is_prefixed_crc32, make=_crc32_base62),
}
