"""Real (small) RSA keys for tests, built without a crypto library: PKCS#8 PEM, a minimal X.509
certificate carrying the public key, a JWK, and RS256 signing. Generated at test time."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from dataclasses import dataclass

_RSA_ALG = bytes.fromhex("300d06092a864886f70d0101010500")  # rsaEncryption, NULL
_SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _int(n: int) -> bytes:
    return _tlv(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big"))


def _seq(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _pem(kind: str, der: bytes) -> str:
    b64 = base64.b64encode(der).decode()
    return f"-----BEGIN {kind}-----\n" + "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64)) + \
        f"\n-----END {kind}-----\n"


def _prime(rng: random.Random, bits: int) -> int:
    while True:
        n = rng.getrandbits(bits) | (1 << (bits - 1)) | 1
        if all(n % p for p in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)) and _probable_prime(n, rng):
            return n


def _probable_prime(n: int, rng: random.Random) -> bool:
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(20):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class RsaKey:
    n: int
    e: int
    d: int
    p: int
    q: int

    @classmethod
    def generate(cls, seed: object = 0, bits: int = 1024) -> RsaKey:
        rng = random.Random(str(seed))
        e = 65537
        while True:
            p, q = _prime(rng, bits // 2), _prime(rng, bits // 2)
            phi = (p - 1) * (q - 1)
            if p != q and phi % e:
                return cls(p * q, e, pow(e, -1, phi), p, q)

    def pkcs8_pem(self) -> str:
        rsa = _seq(_int(0), _int(self.n), _int(self.e), _int(self.d), _int(self.p), _int(self.q),
                   _int(self.d % (self.p - 1)), _int(self.d % (self.q - 1)), _int(pow(self.q, -1, self.p)))
        return _pem("PRIVATE KEY", _seq(_int(0), _RSA_ALG, _tlv(0x04, rsa)))

    def certificate_pem(self) -> str:
        spki = _seq(_RSA_ALG, _tlv(0x03, b"\x00" + _seq(_int(self.n), _int(self.e))))
        name = _seq()
        validity = _seq(_tlv(0x17, b"250101000000Z"), _tlv(0x17, b"350101000000Z"))
        tbs = _seq(_tlv(0xA0, _int(2)), _int(7), _SHA256_RSA, name, validity, name, spki)
        return _pem("CERTIFICATE", _seq(tbs, _SHA256_RSA, _tlv(0x03, b"\x00" + b"\x01" * 16)))

    def jwk(self, kid: str) -> dict[str, str]:
        return {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
                "n": b64url(self.n.to_bytes((self.n.bit_length() + 7) // 8, "big")),
                "e": b64url(self.e.to_bytes(3, "big"))}

    def sign_rs256(self, data: bytes) -> bytes:
        k = (self.n.bit_length() + 7) // 8
        t = _DIGEST_INFO + hashlib.sha256(data).digest()
        em = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
        return pow(int.from_bytes(em, "big"), self.d, self.n).to_bytes(k, "big")

    def jwt(self, payload: dict[str, object], kid: str = "k1", alg: str = "RS256") -> str:
        head = b64url(json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}).encode())
        body = b64url(json.dumps(payload).encode())
        signing_input = f"{head}.{body}".encode()
        return f"{head}.{body}.{b64url(self.sign_rs256(signing_input))}"
