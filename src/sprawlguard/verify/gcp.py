"""GCP service-account keys: the secret-free certificate check.

Google publishes the certificates of a service account's keys at
``https://www.googleapis.com/robot/v1/metadata/x509/CLIENT_EMAIL``. The key is live when one of
them carries the same RSA modulus as the leaked private key; nothing secret is sent. The URL is
built from constants and the account email: the ``token_uri`` and ``*_x509_cert_url`` fields of a
key file come from the scanned text and are never used. A key that is *disabled* (not deleted)
still shows as published, which the reason says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from sprawlguard.detect.verifyspec import VerifySpec
from sprawlguard.verify.base import DEAD, LIVE, SKIPPED, Context, Result, unknown
from sprawlguard.verify.net import HttpResponse
from sprawlguard.verify.rsa import DerError, certificate_modulus, private_modulus

HOST = "www.googleapis.com"
CERTS_URL = "https://" + HOST + "/robot/v1/metadata/x509/"
_EMAIL = re.compile(r"^[a-z0-9._-]{1,100}@[a-z0-9.-]{1,100}\.gserviceaccount\.com$")


def _classify(email: str, modulus: int, resp: HttpResponse) -> Result | None:
    if resp.status == 404:
        return Result(DEAD, f"404 from {HOST}: service account {email} does not exist (deleted)")
    if resp.status != 200:
        return None
    certs = resp.json()
    if not isinstance(certs, dict):
        return unknown(f"unexpected_status: 200 from {HOST} without the certificate map")
    for kid, pem in certs.items():
        try:
            if isinstance(pem, str) and certificate_modulus(pem) == modulus:
                return Result(LIVE, f"200 from {HOST}: key {kid} is published for the account "
                              "(a disabled key also shows here)", {"client_email": email, "key_id": str(kid)})
        except DerError:
            continue
    return Result(DEAD, f"200 from {HOST}: none of the account's {len(certs)} published keys matches "
                  "(deleted)")


def check(value: str, parts: Mapping[str, str], spec: VerifySpec, ctx: Context) -> Result:
    email = parts.get("client_email", "").lower()
    if not _EMAIL.match(email):
        return unknown("not_attempted: needs the service account's client_email")
    try:
        modulus = private_modulus(value)
    except DerError:
        return unknown("not_attempted: the private key does not parse, so its public key cannot be compared")
    if ctx.offline:
        return Result(SKIPPED, "offline: issuer not contacted", {"client_email": email})
    return ctx.send("GET", CERTS_URL + quote(email, safe="@"), {"Accept": "application/json"}, None,
                    pin=False, classify=lambda r: _classify(email, modulus, r))
