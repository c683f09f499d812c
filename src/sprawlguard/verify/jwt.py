"""JSON Web Tokens: offline `exp`/`alg` analysis; signatures only for allow-listed issuers.

Offline: decode header and payload, report alg/iss/sub/aud/exp. A past `exp` is dead. `alg: none`
is called out. Fetching keys from the token's own `iss` would let scanned text choose the host
(SSRF), so signatures are checked only for the issuers below, with JWKS URLs that are constants
here. Even a valid signature only proves "issued and not expired": revocation is invisible.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from sprawlguard.detect.verifyspec import VerifySpec
from sprawlguard.verify.base import DEAD, LIVE, UNKNOWN, Context, Result, unknown
from sprawlguard.verify.net import HttpResponse
from sprawlguard.verify.rsa import verify_pkcs1_sha256

#: issuer (exact `iss`, or a regex for tenant-specific issuers) -> its published JWKS (constant).
JWKS_URLS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(https://)?accounts\.google\.com$"), "https://www.googleapis.com/oauth2/v3/certs"),
    (re.compile(r"^https://token\.actions\.githubusercontent\.com$"),
     "https://token.actions.githubusercontent.com/.well-known/jwks"),
    (re.compile(r"^https://login\.microsoftonline\.com/[0-9a-f-]{36}/v2\.0$"),
     "https://login.microsoftonline.com/common/discovery/v2.0/keys"),
)


def _b64(seg: str) -> bytes:
    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """(header, payload, signature); ValueError when it is not a JWS compact token."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not three segments")
    try:
        header, payload = json.loads(_b64(parts[0])), json.loads(_b64(parts[1]))
        sig = _b64(parts[2])
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValueError("segments do not decode") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise ValueError("header or payload is not an object")
    return header, payload, sig


def _when(ts: Any) -> str:
    try:
        return datetime.fromtimestamp(float(ts), timezone.utc).isoformat(timespec="seconds")
    except (OverflowError, ValueError, OSError):  # a claim far outside any calendar (or NaN)
        return f"timestamp {str(ts)[:32]} (out of range)"


def jwks_url(iss: Any) -> str | None:
    if not isinstance(iss, str):
        return None
    return next((url for rx, url in JWKS_URLS if rx.match(iss)), None)


def _classify_jwks(token: str, header: Mapping[str, Any], ident: dict[str, str], until: str,
                   resp: HttpResponse) -> Result | None:
    if resp.status != 200:
        return None
    keys = (resp.json() or {}).get("keys") if isinstance(resp.json(), dict) else None
    if not isinstance(keys, list):
        return unknown(f"unexpected_status: 200 from {resp.host} without a JWKS")
    key = next((k for k in keys if isinstance(k, dict) and k.get("kid") == header.get("kid")
                and k.get("kty") == "RSA"), None)
    if key is None:
        return unknown(f"not_attempted: signing key {header.get('kid')!r} is not published by {resp.host}")
    try:
        n, e = (int.from_bytes(_b64(str(key[x])), "big") for x in ("n", "e"))
    except (KeyError, binascii.Error, ValueError):
        return unknown(f"unexpected_status: malformed key in the JWKS from {resp.host}")
    signing_input, _, sig = token.rpartition(".")
    if verify_pkcs1_sha256(n, e, signing_input.encode(), _b64(sig)):
        return Result(LIVE, f"signature verified with {resp.host} keys; not expired until {until} "
                      "(revocation is not visible)", ident)
    return Result(DEAD, f"signature does not verify with the issuer's published key {header.get('kid')!r}",
                  ident)


def check(value: str, parts: Mapping[str, str], spec: VerifySpec, ctx: Context) -> Result:
    try:
        header, payload, _ = decode(value)
    except ValueError as exc:
        return unknown(f"not_attempted: not a decodable JWT ({exc})")
    ident = {k: str(v)[:200] for k, v in (("alg", header.get("alg")), ("iss", payload.get("iss")),
                                            ("sub", payload.get("sub")), ("aud", payload.get("aud")))
             if v is not None}
    exp, now = payload.get("exp"), time.time()
    if isinstance(exp, (int, float)) and not isinstance(exp, bool):
        ident["exp"] = _when(exp)
        if exp <= now:
            return Result(DEAD, f"expired at {ident['exp']} (offline)", ident)
    alg = str(header.get("alg", ""))
    if alg.lower() == "none":
        return Result(UNKNOWN, "not_attempted: alg none - an unsigned token anyone can forge "
                      "(insecure); liveness cannot be told offline", ident)
    nbf = payload.get("nbf")
    if isinstance(nbf, (int, float)) and not isinstance(nbf, bool) and nbf > now:
        return Result(UNKNOWN, f"not_attempted: not valid before {_when(nbf)}", ident)
    if "exp" not in ident:
        return Result(UNKNOWN, "not_attempted: no exp - the token never expires; revocation "
                      "cannot be seen offline", ident)
    url = jwks_url(payload.get("iss"))
    if url is None or alg != "RS256":
        why = "issuer not allow-listed" if url is None else f"alg {alg} is not checked"
        return Result(UNKNOWN, f"not_attempted: not expired until {ident['exp']}; signature "
                      f"not checked ({why})", ident)
    if ctx.offline:
        return Result(UNKNOWN, f"not_attempted: not expired until {ident['exp']}; offline, "
                      "signature not checked", ident)
    return ctx.send("GET", url, {"Accept": "application/json"}, None, pin=False,
                    classify=lambda r: _classify_jwks(value, header, ident, ident["exp"], r))
