"""Fake secrets of real shapes, made at run time from small templates (never real credentials).

Rule examples and test fixtures write ``{{gen:CLASS:N}}`` for N random characters of a class,
``{{checksum:NAME}}`` for an issuer checksum over what the template generated so far, and
``{{fake:NAME}}`` for a whole structured fake (a JWT, a PEM block). Generation is deterministic
for a given seed, so a failing example can be reproduced.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
import uuid
from collections.abc import Callable

from sprawlguard.detect.checksums import CHECKSUMS

CLASSES: dict[str, str] = {
    "alnum": string.ascii_letters + string.digits,
    "alpha": string.ascii_letters,
    "upper": string.ascii_uppercase,
    "lower": string.ascii_lowercase,
    "digit": string.digits,
    "hex": "0123456789abcdef",
    "HEX": "0123456789ABCDEF",
    "base32": string.ascii_uppercase + "234567",
    "base64": string.ascii_letters + string.digits + "+/",
    "base64url": string.ascii_letters + string.digits + "-_",
    "lowernum": string.ascii_lowercase + string.digits,
    "uppernum": string.ascii_uppercase + string.digits,
    "password": string.ascii_letters + string.digits + "!#%^*_-+=",
}

_TOKEN = re.compile(r"\{\{\s*(gen|checksum|fake):([^}]*?)\s*\}\}")


def _charset(spec: str) -> str:
    if spec in CLASSES:
        return CLASSES[spec]
    if spec.startswith("[") and spec.endswith("]"):
        out: list[str] = []
        body = spec[1:-1]
        i = 0
        while i < len(body):
            if i + 2 < len(body) and body[i + 1] == "-":
                out.extend(chr(c) for c in range(ord(body[i]), ord(body[i + 2]) + 1))
                i += 3
            else:
                out.append(body[i])
                i += 1
        return "".join(out)
    raise ValueError(f"unknown character class {spec!r}")


def _gen(rng: random.Random, spec: str) -> str:
    cls, _, n = spec.rpartition(":")
    alphabet = _charset(cls)
    # avoid runs that look like placeholders (xxxx, 1111): shuffle from a varied pool
    return "".join(rng.choice(alphabet) for _ in range(int(n)))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _fake_jwt(rng: random.Random) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64url(
        json.dumps(
            {"sub": str(rng.randint(10**6, 10**7)), "iat": 1700000000, "iss": "acme-auth"}
        ).encode()
    )
    sig = _b64url(bytes(rng.getrandbits(8) for _ in range(32)))
    return f"{header}.{payload}.{sig}"


def _pem_body(rng: random.Random, lines: int = 6) -> str:
    raw = bytes(rng.getrandbits(8) for _ in range(48 * lines))
    b64 = base64.b64encode(raw).decode()
    return "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))


def _fake_pem(kind: str) -> Callable[[random.Random], str]:
    def make(rng: random.Random) -> str:
        return f"-----BEGIN {kind}-----\n{_pem_body(rng)}\n-----END {kind}-----"

    return make


def _fake_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _fake_basic_auth(rng: random.Random) -> str:
    user = "".join(rng.choice(string.ascii_lowercase) for _ in range(6))
    password = "".join(rng.choice(CLASSES["alnum"]) for _ in range(14))
    return base64.b64encode(f"{user}:{password}".encode()).decode()


FAKES: dict[str, Callable[[random.Random], str]] = {
    "basic_auth": _fake_basic_auth,
    "jwt": _fake_jwt,
    "uuid": _fake_uuid,
    "pem_body": _pem_body,
    "rsa_private_key": _fake_pem("RSA PRIVATE KEY"),
    "ec_private_key": _fake_pem("EC PRIVATE KEY"),
    "private_key": _fake_pem("PRIVATE KEY"),
    "openssh_private_key": _fake_pem("OPENSSH PRIVATE KEY"),
    "encrypted_private_key": _fake_pem("ENCRYPTED PRIVATE KEY"),
    "dsa_private_key": _fake_pem("DSA PRIVATE KEY"),
    "pgp_private_key": _fake_pem("PGP PRIVATE KEY BLOCK"),
}


def expand(template: str, rng: random.Random) -> str:
    """Expand every ``{{...}}`` generator in `template`, left to right."""
    out: list[str] = []
    generated: list[str] = []  # random parts so far, for checksums
    pos = 0
    for m in _TOKEN.finditer(template):
        out.append(template[pos : m.start()])
        kind, arg = m.group(1), m.group(2)
        if kind == "gen":
            piece = _gen(rng, arg)
            generated.append(piece)
        elif kind == "checksum":
            if arg not in CHECKSUMS:
                raise ValueError(f"unknown checksum {arg!r}")
            piece = CHECKSUMS[arg].make("".join(generated))
        else:
            if arg not in FAKES:
                raise ValueError(f"unknown fake {arg!r}")
            piece = FAKES[arg](rng)
        out.append(piece)
        pos = m.end()
    out.append(template[pos:])
    return "".join(out)


def seeded(*parts: object) -> random.Random:
    """A random generator seeded from stable parts (rule id, example index)."""
    return random.Random("\x00".join(map(str, parts)))
