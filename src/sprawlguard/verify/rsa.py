"""Just enough DER and RSA to compare and verify public keys without a crypto dependency.

- `private_modulus(pem)`: the modulus n of a PKCS#8 or PKCS#1 RSA private key (PEM text).
- `certificate_modulus(pem)`: the modulus of the RSA key in an X.509 certificate.
- `verify_pkcs1_sha256(n, e, message, signature)`: RS256 signature check (RFC 8017, 8.2.2).
Only public values leave these functions; nothing here signs or sends anything.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

_PEM = re.compile(r"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", re.S)
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


class DerError(ValueError):
    """Not the DER structure we expected."""


def _read(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """One TLV at `pos`: (tag, value, position after it)."""
    if pos + 2 > len(data):
        raise DerError("truncated")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):
            raise DerError("bad length")
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise DerError("truncated value")
    return tag, data[pos:pos + length], pos + length


def _children(value: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(value):
        tag, v, pos = _read(value, pos)
        out.append((tag, v))
    return out


def _seq(data: bytes) -> list[tuple[int, bytes]]:
    tag, value, _ = _read(data, 0)
    if tag != 0x30:
        raise DerError("not a SEQUENCE")
    return _children(value)


def _int(tlv: tuple[int, bytes]) -> int:
    if tlv[0] != 0x02:
        raise DerError("not an INTEGER")
    return int.from_bytes(tlv[1], "big")


def pem_der(text: str, kinds: tuple[str, ...]) -> bytes:
    """The DER bytes of the first PEM block of one of `kinds`; JSON-escaped newlines are accepted."""
    text = text.replace("\\n", "\n").replace("\\r", "")
    for m in _PEM.finditer(text):
        if m.group(1) in kinds:
            try:
                return base64.b64decode("".join(m.group(2).split()), validate=True)
            except (binascii.Error, ValueError):
                raise DerError("not base64") from None
    raise DerError("no PEM block")


def private_modulus(pem: str) -> int:
    der = pem_der(pem, ("PRIVATE KEY", "RSA PRIVATE KEY"))
    items = _seq(der)
    if len(items) >= 3 and items[1][0] == 0x30 and items[2][0] == 0x04:  # PKCS#8 PrivateKeyInfo
        items = _seq(items[2][1])
    if len(items) < 3:
        raise DerError("not an RSA private key")
    return _int(items[1])


def certificate_modulus(pem: str) -> int:
    cert = _seq(pem_der(pem, ("CERTIFICATE",)))
    if not cert:
        raise DerError("empty certificate")
    tbs = _children(cert[0][1])
    if tbs and tbs[0][0] == 0xA0:  # explicit version
        tbs = tbs[1:]
    if len(tbs) < 6:
        raise DerError("not a certificate")
    spki = _children(tbs[5][1])
    if len(spki) < 2 or spki[1][0] != 0x03:
        raise DerError("no subjectPublicKeyInfo")
    key = _seq(spki[1][1][1:])  # BIT STRING: skip the unused-bits byte
    if not key:
        raise DerError("empty public key")
    return _int(key[0])


def verify_pkcs1_sha256(n: int, e: int, message: bytes, signature: bytes) -> bool:
    k = (n.bit_length() + 7) // 8
    if len(signature) != k:
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    em = pow(s, e, n).to_bytes(k, "big")
    t = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(em, expected)
