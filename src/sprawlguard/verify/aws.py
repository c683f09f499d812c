"""AWS access keys: SigV4-signed `sts:GetCallerIdentity`, with canary accounts recognised offline.

GetCallerIdentity needs no IAM permission (it works even under an explicit deny), so `live` means
"authenticates", not "is privileged". The call shows in the owner's CloudTrail and would trip a
canary token, so keys whose embedded account id belongs to a known canary service are never sent.
The runner keeps one request at a time per key id (two calls signed with different secrets for the
same key id within seconds can make the second fail with SignatureDoesNotMatch).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime, timezone

from sprawlguard.detect.verifyspec import VerifySpec
from sprawlguard.verify.base import DEAD, LIVE, SKIPPED, UNKNOWN, Context, Result, unknown
from sprawlguard.verify.net import HttpResponse

HOST = "sts.amazonaws.com"
REGION, SERVICE = "us-east-1", "sts"
BODY = b"Action=GetCallerIdentity&Version=2011-06-15"
CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
#: Thinkst canarytokens.org accounts and known look-alike canary services (from TruffleHog's
#: pkg/detectors/aws/access_keys/canary.go). A key in these accounts is a tripwire.
CANARY_ACCOUNTS = frozenset({
    "052310077262", "171436882533", "534261010715", "595918472158", "717712589309", "819147034852",
    "992382622183", "730335385048", "266735846894", "893192397702",
    "044858866125", "251535659677", "344043088457", "351906852752", "390477818340", "426127672474",
    "427150556519", "439872796651", "445142720921", "465867158099", "637958123769", "693412236332",
    "732624840810", "735421457923", "959235150393", "982842642351",
})
_KEY_ID = re.compile(r"^(AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}$")
DEAD_CODES = {
    "InvalidClientTokenId": "the key id does not exist (deleted or never issued)",
    "SignatureDoesNotMatch": "the secret does not match the key id",
    "ExpiredToken": "the session has expired",
}


def account_id(key_id: str) -> str | None:
    """The 12-digit account embedded in a key id (offline); None for old AKIAI/AKIAJ-style ids."""
    if not _KEY_ID.match(key_id) or key_id[4] in "IJ":
        return None
    try:
        raw = base64.b32decode(key_id[4:])
    except (binascii.Error, ValueError):
        return None
    z = int.from_bytes(raw[:6], "big")
    return f"{(z & 0x7FFFFFFFFF80) >> 7:012d}"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign(key_id: str, secret: str, when: datetime, body: bytes = BODY, host: str = HOST,
         session_token: str | None = None) -> dict[str, str]:
    """SigV4 headers for POST https://HOST/ with `body` (AWS General Reference, Signature V4)."""
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    headers = {"content-type": CONTENT_TYPE, "host": host, "x-amz-date": amz_date}
    if session_token:
        headers["x-amz-security-token"] = session_token
    signed = ";".join(sorted(headers))
    canonical = "\n".join(["POST", "/", "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", signed,
                           hashlib.sha256(body).hexdigest()])
    scope = f"{day}/{REGION}/{SERVICE}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), day), REGION), SERVICE), "aws4_request")
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {"Content-Type": CONTENT_TYPE, "X-Amz-Date": amz_date,
           "Authorization": f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={signed}, "
                            f"Signature={signature}"}
    if session_token:
        out["X-Amz-Security-Token"] = session_token
    return out


def _xml(resp: HttpResponse) -> dict[str, str]:
    """Leaf elements of an STS XML answer by local name (Arn, Account, UserId, Code...)."""
    try:
        root = ET.fromstring(resp.body)
    except ET.ParseError:
        return {}
    return {el.tag.rsplit("}", 1)[-1]: (el.text or "").strip() for el in root.iter() if len(el) == 0}


def classify(resp: HttpResponse) -> Result | None:
    fields = _xml(resp)
    if resp.status == 200 and fields.get("Arn"):
        ident = {k.lower(): fields[k] for k in ("Account", "Arn", "UserId") if fields.get(k)}
        return Result(LIVE, f"200 from {HOST} (GetCallerIdentity)", ident)
    code = fields.get("Code", "")
    if resp.status in (400, 403) and code in DEAD_CODES:
        return Result(DEAD, f"{resp.status} {code} from {HOST}: {DEAD_CODES[code]}")
    if code in ("Throttling", "ThrottlingException", "RequestLimitExceeded"):
        return Result(UNKNOWN, f"rate_limited: {resp.status} {code} from {HOST}", transient=True)
    if code:
        return unknown(f"unexpected_status: {resp.status} {code} from {HOST}")
    return None


def check(value: str, parts: Mapping[str, str], spec: VerifySpec, ctx: Context) -> Result:
    key_id = parts.get("key_id", "")
    account = account_id(key_id)
    offline_identity = {"account": account} if account else {}
    if not _KEY_ID.match(key_id):
        return unknown("not_attempted: needs the access key id (AKIA...) next to the secret")
    if account in CANARY_ACCOUNTS:
        return Result(SKIPPED, f"canary token (account {account}): not contacted, so it does not fire; "
                      "someone planted it as a tripwire", offline_identity)
    if key_id.startswith("ASIA") and not parts.get("session_token"):
        return Result(UNKNOWN, "not_attempted: a temporary ASIA key needs its session token",
                      offline_identity)
    if ctx.offline:
        return Result(SKIPPED, "offline: issuer not contacted", offline_identity)

    def headers() -> dict[str, str]:  # signed again for each attempt: x-amz-date must be fresh
        return sign(key_id, value, datetime.now(timezone.utc), session_token=parts.get("session_token"))

    result = ctx.send("POST", f"https://{HOST}/", headers, BODY, pin=False, classify=classify)
    if not result.identity and offline_identity:
        result = Result(result.status, result.reason, offline_identity, result.transient, result.retry_after)
    return result

