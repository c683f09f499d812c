"""A loopback emulator of the issuer endpoints sprawlguard's verifier calls.

One server answers for every issuer: the verifier sends the official ``Host`` header (it reaches
the emulator through ``SPRAWLGUARD_VERIFY_HOST_MAP``), and the emulator dispatches on host and
path, answering like the real API: GitHub ``/user`` (scopes header, 401 "Bad credentials"),
Slack ``auth.test`` (always 200, ``ok`` true/false), Datadog ``/api/v1/validate`` per site, Mailchimp
``/3.0/ping``, Vault ``lookup-self``, AWS STS ``GetCallerIdentity`` (it checks the SigV4 signature
itself, independently of sprawlguard's signer, and answers InvalidClientTokenId /
SignatureDoesNotMatch / IncompleteSignature in STS XML), Google's service-account certificate
endpoint and a JWKS. Faults (429 + Retry-After, 500, slow, HTML, redirects) come from the base
class: ``emu.fail(path, ...)``. ``emu.journal`` records every request with its Host.

Standalone: ``python -m tests.emulators.issuers --data DIR`` (DIR/issuers.json holds
``{"github": {TOKEN: {"login": ...}}, "slack": {...}, "aws": {KEY_ID: [SECRET, ARN]}}``).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any

from tests.emulators.base import Emulator, Request, Response

_SIGV4 = re.compile(r"^AWS4-HMAC-SHA256 Credential=(?P<kid>[A-Z0-9]{20})/(?P<day>\d{8})/(?P<region>[a-z0-9-]+)/"
                    r"(?P<service>[a-z0-9]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
                    r"Signature=(?P<sig>[0-9a-f]{64})$")
_STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


def _sts_error(status: int, code: str, message: str) -> Response:
    body = (f'<ErrorResponse xmlns="{_STS_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>emu</RequestId></ErrorResponse>")
    return Response(status, body, {"Content-Type": "text/xml"})


class IssuerEmulator(Emulator):
    """State is plain dicts that tests fill: a token absent from them is unknown to the issuer."""

    def __init__(self) -> None:
        super().__init__()
        self.github: dict[str, dict[str, str]] = {}  # token -> {"login", "scopes"}
        self.slack: dict[str, dict[str, str]] = {}  # token -> {"team", "user"}
        self.slack_revoked: set[str] = set()
        self.datadog: dict[str, str] = {}  # api key -> the one site host where it is valid
        self.mailchimp: set[str] = set()
        self.vault: dict[str, dict[str, Any]] = {}  # token -> lookup-self data
        self.aws: dict[str, tuple[str, str]] = {}  # key id -> (secret, arn)
        self.gcp: dict[str, dict[str, str]] = {}  # client_email -> {key id: certificate PEM}
        self.jwks: list[dict[str, str]] = []  # keys at www.googleapis.com/oauth2/v3/certs
        for method in ("GET", "POST", "HEAD", "PUT"):
            self.route(method, "/", self._dispatch)

    def hosts(self) -> set[str]:
        """Every Host the journal saw (without ports)."""
        return {r.host.rsplit(":", 1)[0] if not r.host.startswith("[") else r.host for r in self.journal}

    # --- dispatch ------------------------------------------------------------------------------

    def _dispatch(self, req: Request) -> Response:
        host = req.host.rsplit(":", 1)[0]
        if host == "api.github.com" and req.path == "/user":
            return self._github(req)
        if host == "slack.com" and req.path == "/api/auth.test" and req.method == "POST":
            return self._slack(req)
        if host.endswith(("datadoghq.com", "datadoghq.eu", "ddog-gov.com")) and req.path == "/api/v1/validate":
            return self._datadog(req, host)
        if host.endswith(".api.mailchimp.com") and req.path == "/3.0/ping":
            return self._mailchimp(req)
        if req.path == "/v1/auth/token/lookup-self":
            data = self.vault.get(req.headers.get("x-vault-token", ""))
            return Response(200, {"data": data}) if data else Response(403, {"errors": ["permission denied"]})
        if host == "sts.amazonaws.com" and req.method == "POST" and req.path == "/":
            return self._sts(req)
        if host == "www.googleapis.com" and req.path.startswith("/robot/v1/metadata/x509/"):
            certs = self.gcp.get(req.path.rsplit("/", 1)[1].replace("%40", "@"))
            return Response(200, certs) if certs is not None else Response(404, {"error": {"code": 404}})
        if host == "www.googleapis.com" and req.path == "/oauth2/v3/certs":
            return Response(200, {"keys": self.jwks})
        return Response(404, {"message": "Not Found", "host": host, "path": req.path})

    def _github(self, req: Request) -> Response:
        auth = req.headers.get("authorization", "")
        user = self.github.get(auth.removeprefix("Bearer ").removeprefix("token "))
        if user is None:
            return Response(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        return Response(200, {"login": user["login"], "id": 1},
                        {"X-OAuth-Scopes": user.get("scopes", ""), "X-RateLimit-Remaining": "4999"})

    def _slack(self, req: Request) -> Response:
        token = req.headers.get("authorization", "").removeprefix("Bearer ")
        if token in self.slack:
            return Response(200, {"ok": True, **self.slack[token]})
        return Response(200, {"ok": False, "error": "token_revoked" if token in self.slack_revoked else "invalid_auth"})

    def _datadog(self, req: Request, host: str) -> Response:
        if self.datadog.get(req.headers.get("dd-api-key", "")) == host:
            return Response(200, {"valid": True})
        return Response(403, {"errors": ["Forbidden"]})

    def _mailchimp(self, req: Request) -> Response:
        import base64

        auth = req.headers.get("authorization", "")
        try:
            _, key = base64.b64decode(auth.removeprefix("Basic ")).decode().split(":", 1)
        except ValueError:
            key = ""
        if key in self.mailchimp:
            return Response(200, {"health_status": "Everything's Chimpy!"})
        return Response(401, {"type": "about:blank", "title": "API Key Invalid", "status": 401})

    # --- AWS STS: an independent SigV4 check of what arrived ----------------------------------

    def _sts(self, req: Request) -> Response:
        m = _SIGV4.match(req.headers.get("authorization", ""))
        amz_date = req.headers.get("x-amz-date", "")
        if m is None or not re.fullmatch(r"\d{8}T\d{6}Z", amz_date):
            return _sts_error(400, "IncompleteSignature", "Authorization header or X-Amz-Date malformed")
        signed = m["signed"].split(";")
        if (m["day"] != amz_date[:8] or m["region"] != "us-east-1" or m["service"] != "sts"
                or not {"host", "x-amz-date"} <= set(signed) or signed != sorted(signed)):
            return _sts_error(400, "IncompleteSignature", "credential scope or signed headers are wrong")
        if req.form().get("Action") != ["GetCallerIdentity"]:
            return _sts_error(400, "InvalidAction", "only GetCallerIdentity is emulated")
        if m["kid"] not in self.aws:
            return _sts_error(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
        secret, arn = self.aws[m["kid"]]
        canonical = "\n".join([req.method, req.path, "", *(f"{h}:{req.headers.get(h, '').strip()}" for h in signed),
                               "", m["signed"], hashlib.sha256(req.body).hexdigest()])
        scope = f"{m['day']}/us-east-1/sts/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = ("AWS4" + secret).encode()
        for part in (m["day"], "us-east-1", "sts", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), m["sig"]):
            return _sts_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match")
        account = arn.split(":")[4]
        body = (f'<GetCallerIdentityResponse xmlns="{_STS_NS}"><GetCallerIdentityResult><Arn>{arn}</Arn>'
                f"<UserId>AIDAEMULATOR</UserId><Account>{account}</Account></GetCallerIdentityResult>"
                "<ResponseMetadata><RequestId>emu</RequestId></ResponseMetadata></GetCallerIdentityResponse>")
        return Response(200, body, {"Content-Type": "text/xml"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="directory with issuers.json")
    args = ap.parse_args()
    emu = IssuerEmulator()
    data = json.loads((args.data / "issuers.json").read_text()) if (args.data / "issuers.json").exists() else {}
    emu.github.update(data.get("github", {}))
    emu.slack.update(data.get("slack", {}))
    emu.aws.update({k: (v[0], v[1]) for k, v in data.get("aws", {}).items()})
    emu.serve_forever()


if __name__ == "__main__":
    main()
