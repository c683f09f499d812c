"""Code checks: AWS SigV4 STS, GCP service-account certificates, JWT - live, dead, each unknown class."""

from __future__ import annotations

import json
import threading
import time

from sprawlguard.model import VerdictStatus
from sprawlguard.verify.aws import account_id
from tests.conftest import fake
from tests.verify.conftest import make_secret, verifier

LIVE, DEAD, UNKNOWN, SKIPPED = (VerdictStatus.LIVE, VerdictStatus.DEAD, VerdictStatus.UNKNOWN,
                                VerdictStatus.SKIPPED)
KID = "AKIA{{gen:base32:16}}"
SECRET = "{{gen:base64:40}}"


def aws(seed: object, kid: str | None = None):
    return make_secret("sg.aws.secret_access_key", fake(SECRET, seed), key_id=kid or fake(KID, seed))


def test_aws_account_id_decodes_offline() -> None:
    assert account_id("AKIASP2TPHJSQH3FJRUX") == "171436882533"  # TruffleHog's canary fixture id (public test vector) sprawlguard:allow
    assert account_id("AKIAIOSFODNN7EXAMPLE") is None  # old AKIAI... ids carry no account


def test_aws_live_with_a_valid_signature(issuers, rules) -> None:
    s = aws(1)
    issuers.aws[s.parts["key_id"]] = (s.value, "arn:aws:iam::123456789012:user/ci-deployer")
    (out,) = verifier(rules).verify([s])
    assert (out.verdict.status, out.verdict.reason) == (LIVE, "200 from sts.amazonaws.com (GetCallerIdentity)")
    assert out.verdict.identity["arn"] == "arn:aws:iam::123456789012:user/ci-deployer"
    (req,) = issuers.journal
    assert req.host == "sts.amazonaws.com" and req.form()["Action"] == ["GetCallerIdentity"]
    assert req.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={s.parts['key_id']}/")
    assert s.value not in json.dumps(req.headers)  # only the signature travels


def test_aws_wrong_secret_and_unknown_key_are_dead(issuers, rules) -> None:
    wrong, unknown_key = aws(2), aws(3)
    issuers.aws[wrong.parts["key_id"]] = (fake(SECRET, "other"), "arn:aws:iam::123456789012:user/x")
    a, b = verifier(rules).verify([wrong, unknown_key])
    assert a.verdict.status is DEAD and "SignatureDoesNotMatch" in a.verdict.reason
    assert b.verdict.status is DEAD and "InvalidClientTokenId" in b.verdict.reason


def test_aws_unknown_classes(issuers, rules) -> None:
    issuers.fail("/", 500, times=3)
    (a,) = verifier(rules).verify([aws(4)])
    assert (a.verdict.status, a.verdict.reason) == (UNKNOWN, "server_error: 500 from sts.amazonaws.com")
    issuers.journal.clear()
    issuers.fail("/", 400, times=3, body="<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>",
                 headers={"Content-Type": "text/xml"})
    (b,) = verifier(rules, retries=0).verify([aws(5)])
    assert b.verdict.status is UNKNOWN and b.verdict.reason.startswith("rate_limited: 400 Throttling")
    issuers.fail("/", 200, body="<html><body>Access denied</body></html>", headers={"Content-Type": "text/html"})
    (c,) = verifier(rules).verify([aws(6)])
    assert c.verdict.status is UNKNOWN and c.verdict.reason.startswith("blocked: HTML page")


def test_aws_canary_and_asia_are_never_sent(issuers, rules) -> None:
    canary = aws(7, kid="AKIASP2TPHJSQH3FJRUX")  # public canary id sprawlguard:allow
    asia = aws(8, kid=fake("ASIA{{gen:base32:16}}", 8))
    a, b = verifier(rules).verify([canary, asia])
    assert a.verdict.status is SKIPPED and "canary token (account 171436882533)" in a.verdict.reason
    assert b.verdict.status is UNKNOWN and "session token" in b.verdict.reason
    assert issuers.journal == []


def test_aws_one_request_at_a_time_per_key_id(issuers, rules, monkeypatch) -> None:
    active, peak, lock = [0], [0], threading.Lock()
    real = issuers._sts

    def counting(req):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.1)
        with lock:
            active[0] -= 1
        return real(req)

    monkeypatch.setattr(issuers, "_sts", counting)
    kid = fake(KID, "shared")
    verifier(rules, workers=4, per_issuer=4).verify([aws(i, kid=kid) for i in range(4)])
    assert len(issuers.journal) == 4 and peak[0] == 1


# --- GCP --------------------------------------------------------------------------------------

EMAIL = "deployer@acme-prod.iam.gserviceaccount.com"


def sa(key) -> object:
    return make_secret("sg.gcp.service_account_key", key.pkcs8_pem().replace("\n", "\\n"), client_email=EMAIL)


def test_gcp_published_key_is_live_without_sending_the_key(issuers, rules, rsa_key) -> None:
    issuers.gcp[EMAIL] = {"0a1b2c": rsa_key.certificate_pem()}
    (out,) = verifier(rules).verify([sa(rsa_key)])
    assert out.verdict.status is LIVE and out.verdict.identity == {"client_email": EMAIL, "key_id": "0a1b2c"}
    (req,) = issuers.journal
    assert (req.host, req.method, req.path) == ("www.googleapis.com", "GET",
                                               "/robot/v1/metadata/x509/" + EMAIL)
    assert req.body == b"" and "PRIVATE" not in json.dumps(req.headers)


def test_gcp_deleted_key_and_deleted_account_are_dead(issuers, rules, rsa_key) -> None:
    from tests.verify.keys import RsaKey

    issuers.gcp[EMAIL] = {"other": RsaKey.generate("other-key", bits=512).certificate_pem()}
    (a,) = verifier(rules).verify([sa(rsa_key)])
    assert a.verdict.status is DEAD and "none of the account's 1 published keys" in a.verdict.reason
    del issuers.gcp[EMAIL]
    (b,) = verifier(rules).verify([sa(rsa_key)])
    assert b.verdict.status is DEAD and b.verdict.reason.startswith("404 from www.googleapis.com")


def test_gcp_unknown_classes(issuers, rules, rsa_key) -> None:
    issuers.rate_limit("/robot/", retry_after=0, times=3)
    (a,) = verifier(rules).verify([sa(rsa_key)])
    assert a.verdict.status is UNKNOWN and a.verdict.reason.startswith("rate_limited: 429")
    broken = make_secret("sg.gcp.service_account_key", "-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----",
                         client_email=EMAIL)
    issuers.journal.clear()
    (b,) = verifier(rules).verify([broken])
    assert b.verdict.status is UNKNOWN and "does not parse" in b.verdict.reason and issuers.journal == []


# --- JWT --------------------------------------------------------------------------------------

def jwt_secret(token: str):
    return make_secret("sg.jwt.token", token)


def test_jwt_expired_is_dead_offline(issuers, rules, rsa_key) -> None:
    t = rsa_key.jwt({"iss": "https://accounts.google.com", "sub": "1", "exp": int(time.time()) - 60})
    (out,) = verifier(rules).verify([jwt_secret(t)])
    assert out.verdict.status is DEAD and out.verdict.reason.startswith("expired at")
    assert out.verdict.identity["iss"] == "https://accounts.google.com" and issuers.journal == []


def test_jwt_without_exp_alg_none_and_unlisted_issuer_are_unknown(issuers, rules, rsa_key) -> None:
    from tests.verify.keys import b64url

    never = rsa_key.jwt({"iss": "https://accounts.google.com", "sub": "1"})
    none_alg = b64url(b'{"alg":"none"}') + "." + b64url(b'{"sub":"1","exp":9999999999}') + "."
    unlisted = rsa_key.jwt({"iss": "https://idp.evil.example", "exp": int(time.time()) + 600})
    out = verifier(rules).verify([jwt_secret(never), jwt_secret(none_alg), jwt_secret(unlisted)])
    reasons = [s.verdict.reason for s in out]
    assert all(s.verdict.status is UNKNOWN for s in out)
    assert "no exp" in reasons[0] and "alg none" in reasons[1] and "issuer not allow-listed" in reasons[2]
    assert issuers.journal == []  # the token's own iss is never fetched


def test_jwt_signature_checked_for_allow_listed_issuer(issuers, rules, rsa_key) -> None:
    from tests.verify.keys import RsaKey

    issuers.jwks = [rsa_key.jwk("k1")]
    good = rsa_key.jwt({"iss": "https://accounts.google.com", "exp": int(time.time()) + 600})
    forged = RsaKey.generate("forger", bits=512).jwt({"iss": "https://accounts.google.com",
                                                       "exp": int(time.time()) + 600})
    a, b = verifier(rules).verify([jwt_secret(good), jwt_secret(forged)])
    assert a.verdict.status is LIVE and "signature verified with www.googleapis.com keys" in a.verdict.reason
    assert b.verdict.status is DEAD and "does not verify" in b.verdict.reason
    assert issuers.hosts() == {"www.googleapis.com"}
    issuers.fail("/oauth2/v3/certs", 502, times=3)
    (c,) = verifier(rules).verify([jwt_secret(good)])
    assert (c.verdict.status, c.verdict.reason) == (UNKNOWN, "server_error: 502 from www.googleapis.com")
