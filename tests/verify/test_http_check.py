"""Declarative HTTP checks (the rules' verify blocks) against the loopback issuer emulator."""

from __future__ import annotations

import contextlib
import socket
import time

from sprawlguard.model import Verdict, VerdictStatus
from sprawlguard.verify import Verifier, VerifyOptions
from sprawlguard.verify.net import Http, address_problem
from tests.conftest import fake
from tests.verify.conftest import make_secret, verifier

GH = "ghp_{{gen:alnum:30}}{{checksum:github}}"
LIVE, DEAD, UNKNOWN, SKIPPED = (VerdictStatus.LIVE, VerdictStatus.DEAD, VerdictStatus.UNKNOWN,
                                VerdictStatus.SKIPPED)


def gh(seed: object):
    return make_secret("sg.github.classic_pat", fake(GH, seed))


def one(v: Verifier, secret) -> Verdict:
    (s,) = v.verify([secret])
    assert s.verdict is not None
    assert secret.value not in s.verdict.reason + repr(s.verdict.identity)  # never echoes the secret
    return s.verdict


def test_github_live_records_identity_and_scopes(issuers, rules) -> None:
    s = gh(1)
    issuers.github[s.value] = {"login": "octo-bot", "scopes": "repo, admin:org"}
    v = one(verifier(rules), s)
    assert (v.status, v.reason) == (LIVE, "200 from api.github.com")
    assert v.identity == {"login": "octo-bot", "scopes": "repo, admin:org"}
    (req,) = issuers.journal
    assert req.headers["authorization"] == f"Bearer {s.value}" and req.path == "/user"
    assert issuers.hosts() == {"api.github.com"}


def test_github_revoked_is_dead(issuers, rules) -> None:
    v = one(verifier(rules), gh(2))
    assert (v.status, v.reason) == (DEAD, "401 from api.github.com")


def test_429_honours_retry_after_then_succeeds(issuers, rules) -> None:
    s = gh(3)
    issuers.github[s.value] = {"login": "x"}
    issuers.rate_limit("/user", retry_after=1)
    t0 = time.monotonic()
    v = one(verifier(rules), s)
    assert v.status is LIVE
    assert len(issuers.journal) == 2 and time.monotonic() - t0 >= 1.0


def test_persistent_429_is_unknown_after_two_retries(issuers, rules) -> None:
    issuers.rate_limit("/user", retry_after=0, times=5)
    v = one(verifier(rules), gh(4))
    assert v.status is UNKNOWN and v.reason.startswith("rate_limited: 429 from api.github.com")
    assert len(issuers.journal) == 3


def test_5xx_is_unknown_never_dead(issuers, rules) -> None:
    issuers.fail("/user", 503, times=5, headers={"Retry-After": "0"})
    v = one(verifier(rules), gh(5))
    assert (v.status, v.reason) == (UNKNOWN, "server_error: 503 from api.github.com")
    assert len(issuers.journal) == 3


def test_timeout_is_unknown(issuers, rules) -> None:
    issuers.fail("/user", 200, delay=1.5, body={"login": "late"})
    v = one(verifier(rules, timeout=0.3, retries=0), gh(6))
    assert v.status is UNKNOWN and v.reason.startswith("timeout: no answer from api.github.com")


def test_html_login_page_is_blocked_not_live(issuers, rules) -> None:
    issuers.fail("/user", 200, body="<!DOCTYPE html><html><body>Sign in</body></html>",
                 headers={"Content-Type": "text/html"})
    v = one(verifier(rules), gh(7))
    assert v.status is UNKNOWN and v.reason.startswith("blocked: HTML page from api.github.com")
    assert len(issuers.journal) == 1  # not retried


def test_redirect_to_another_host_is_not_followed(issuers, rules, no_internet) -> None:
    issuers.fail("/user", 302, headers={"Location": "https://collector.evil.example/steal"})
    v = one(verifier(rules), gh(8))
    assert v.status is UNKNOWN
    assert v.reason == "unexpected_status: 302 redirect from api.github.com to collector.evil.example, not followed"
    assert issuers.hosts() == {"api.github.com"} and no_internet == []


def test_connection_refused_is_unknown(issuers, rules, monkeypatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("SPRAWLGUARD_VERIFY_HOST_MAP", f"api.github.com=http://127.0.0.1:{port}")
    v = one(verifier(rules, retries=1), gh(9))
    assert v.status is UNKNOWN and v.reason.startswith("network_error: api.github.com")


def test_bad_checksum_is_never_sent(issuers, rules) -> None:
    token = fake(GH, 10)
    broken = token[:-1] + ("A" if token[-1] != "A" else "B")
    v = one(verifier(rules), make_secret("sg.github.classic_pat", broken))
    assert v.status is SKIPPED and "checksum" in v.reason
    assert issuers.journal == []


def test_slack_auth_test_ok_false_is_dead_and_ok_true_live(issuers, rules) -> None:
    live = make_secret("sg.slack.bot_token", fake("xoxb-{{gen:digit:11}}-{{gen:digit:12}}-{{gen:alnum:24}}", 1))
    dead = make_secret("sg.slack.bot_token", fake("xoxb-{{gen:digit:11}}-{{gen:digit:12}}-{{gen:alnum:24}}", 2))
    issuers.slack[live.value] = {"team": "Acme", "user": "deploy-bot"}
    issuers.slack_revoked.add(dead.value)
    a, b = verifier(rules).verify([live, dead])
    assert a.verdict.status is LIVE and a.verdict.identity["team"] == "Acme"
    assert (b.verdict.status, b.verdict.reason) == (DEAD, "200 from slack.com")


def test_fallback_sites_are_tried_before_calling_it_dead(issuers, rules) -> None:
    eu = make_secret("sg.datadog.api_key", fake("{{gen:hex:32}}", 1))
    gone = make_secret("sg.datadog.api_key", fake("{{gen:hex:32}}", 2))
    issuers.datadog[eu.value] = "api.datadoghq.eu"
    a = one(verifier(rules), eu)
    assert (a.status, a.reason) == (LIVE, "200 from api.datadoghq.eu")
    assert [r.host.split(":")[0] for r in issuers.journal] == [
        "api.datadoghq.com", "api.us3.datadoghq.com", "api.us5.datadoghq.com", "api.datadoghq.eu"]
    issuers.journal.clear()
    b = one(verifier(rules), gone)
    assert b.status is DEAD and b.reason.count("403 from") == 6


def test_host_derived_from_the_secret_must_match_the_issuer_suffix(issuers, rules) -> None:
    key = fake("{{gen:hex:32}}-us6", 1)
    issuers.mailchimp.add(key)
    v = one(verifier(rules), make_secret("sg.mailchimp.api_key", key))
    assert (v.status, v.reason) == (LIVE, "200 from us6.api.mailchimp.com")
    assert issuers.hosts() == {"us6.api.mailchimp.com"}


def test_side_effect_checks_never_run_by_default(issuers, rules) -> None:
    hook = fake("https://hooks.slack.com/services/T{{gen:upper:9}}/B{{gen:upper:9}}/{{gen:alnum:24}}", 1)
    app = fake("xapp-1-A{{gen:upper:10}}-{{gen:digit:13}}-{{gen:hex:64}}", 1)
    out = verifier(rules).verify([make_secret("sg.slack.webhook_url", hook),
                                  make_secret("sg.slack.app_level_token", app)])
    assert [s.verdict.status for s in out] == [SKIPPED, SKIPPED]
    assert "MUT" in out[0].verdict.reason and "MINT" in out[1].verdict.reason
    assert issuers.journal == []


def test_no_check_types_are_unknown_with_a_reason(rules) -> None:
    out = verifier(rules).verify([make_secret("sg.github.refresh_token", fake("ghr_{{gen:alnum:30}}{{checksum:github}}", 1)),
                                  make_secret("sg.private_key.rsa", "-----BEGIN RSA PRIVATE KEY-----x")])
    assert all(s.verdict.status is UNKNOWN and s.verdict.reason.startswith("not_attempted: no safe check")
               for s in out)


# --- hosts from the scanned text --------------------------------------------------------------

VAULT = "hvs.{{gen:alnum:95}}"


def vault(addr: str, seed: object = 1):
    return make_secret("sg.vault.service_token", fake(VAULT, seed), vault_addr=addr)


def test_text_host_is_not_contacted_without_opt_in(issuers, rules, no_internet) -> None:
    v = one(verifier(rules), vault("https://vault.corp.example:8200"))
    assert v.status is SKIPPED and v.reason.startswith("host from scanned text (vault.corp.example), not contacted")
    assert "--verify-host vault.corp.example" in v.reason
    assert issuers.journal == [] and no_internet == []


def test_text_host_is_contacted_after_opt_in(issuers, rules) -> None:
    s = vault("https://vault.corp.example:8200")
    issuers.vault[s.value] = {"policies": ["default", "deploy"], "ttl": 3600}
    v = one(verifier(rules, verify_hosts=["vault.corp.example"]), s)
    assert (v.status, v.reason) == (LIVE, "200 from vault.corp.example")
    assert v.identity["policies"] == "default,deploy"
    assert issuers.journal[0].host == "vault.corp.example:8200"


def test_private_loopback_and_metadata_addresses_are_refused(issuers, rules, no_internet) -> None:
    hosts = {"10.1.2.3": "a private address", "169.254.169.254": "a cloud metadata address",
             "localhost": "a loopback address", "[::1]": "a loopback address"}
    for host, problem in hosts.items():
        v = one(verifier(rules, verify_hosts=[host.strip("[]")]), vault(f"https://{host}:8200"))
        assert v.status is SKIPPED and v.reason.startswith("refused:") and problem in v.reason, v.reason
    assert issuers.journal == [] and no_internet == []


def test_http_text_hosts_are_refused(issuers, rules) -> None:
    v = one(verifier(rules, verify_hosts=["vault.corp.example"]), vault("http://vault.corp.example:8200"))
    assert v.status is SKIPPED and "not an https URL" in v.reason and issuers.journal == []


def test_resolved_address_is_checked_once_and_pinned(no_internet) -> None:
    answers = [["93.184.215.14"], ["127.0.0.1"]]  # a DNS rebind on the second lookup
    calls: list[str] = []

    def resolver(host, port, **_kw):
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[len(calls) - 1]]

    http = Http(timeout=1, resolver=resolver)
    with contextlib.suppress(Exception):  # the test guard refuses the public pinned address
        http.request("GET", "https://vault.example.org:8200/v1/sys", {}, pin=True)
    assert calls == ["vault.example.org"]
    assert http.dialled == [("vault.example.org", "93.184.215.14:8200")]
    assert no_internet == [("93.184.215.14", 8200)]


def test_any_private_answer_refuses_the_host() -> None:
    def resolver(host, port, **_kw):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in ("93.184.215.14", "10.0.0.7")]

    http = Http(timeout=1, resolver=resolver)
    try:
        http.request("GET", "https://mixed.example.org/", {}, pin=True)
        raise AssertionError("should be refused")
    except Exception as exc:
        assert "10.0.0.7" in str(exc) and "private" in str(exc)
    assert http.dialled == []
    assert address_problem("fd00:ec2::254") == "a cloud metadata address"
    assert address_problem("8.8.8.8") is None


# --- caps, cache, budget ------------------------------------------------------------------------

def test_fresh_cached_verdict_makes_no_request_and_stale_one_does(issuers, rules) -> None:
    from datetime import datetime, timedelta, timezone

    s = gh(20)
    fresh = Verdict(LIVE, "200 from api.github.com", datetime.now(timezone.utc).isoformat(), "http:api.github.com")
    v = Verifier(rules, VerifyOptions(), cache=lambda fp: fresh).verify([s])[0].verdict
    assert v is fresh and issuers.journal == []
    old = (datetime.now(timezone.utc) - timedelta(hours=2)).isoformat()
    stale = Verdict(LIVE, "200 from api.github.com", old, "http:api.github.com")
    v = Verifier(rules, VerifyOptions(), cache=lambda fp: stale).verify([s])[0].verdict
    assert v.status is DEAD and len(issuers.journal) == 1


def test_circuit_breaker_stops_calling_a_failing_issuer(issuers, rules) -> None:
    issuers.fail("/user", 500, times=100)
    out = verifier(rules, retries=0, workers=1, breaker_after=3).verify([gh(i) for i in range(30, 35)])
    reasons = [s.verdict.reason for s in out]
    assert reasons[:3] == ["server_error: 500 from api.github.com"] * 3
    assert all(r.startswith("circuit_open: github") for r in reasons[3:])
    assert len(issuers.journal) == 3


def test_wall_clock_budget(issuers, rules) -> None:
    out = verifier(rules, budget=0).verify([gh(40)])
    assert out[0].verdict.reason == "not_attempted: verification budget exhausted"
    assert issuers.journal == []


def test_per_issuer_concurrency_cap(issuers, rules, monkeypatch) -> None:
    import threading

    active, peak, lock = [0], [0], threading.Lock()
    real = issuers._github

    def counting(req):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.15)
        with lock:
            active[0] -= 1
        return real(req)

    monkeypatch.setattr(issuers, "_github", counting)
    verifier(rules, workers=8, per_issuer=2).verify([gh(i) for i in range(50, 56)])
    assert len(issuers.journal) == 6 and peak[0] == 2


def test_offline_sends_nothing(issuers, rules) -> None:
    v = one(verifier(rules, offline=True), gh(60))
    assert (v.status, v.reason) == (SKIPPED, "offline: issuer not contacted") and issuers.journal == []
