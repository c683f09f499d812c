"""Turn matches into governed secrets: one Secret per fingerprint, with all its exposures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from sprawlguard.detect.rules import Rule
from sprawlguard.govern import owasp
from sprawlguard.govern.remediation import age_days, owner_hints, remediate
from sprawlguard.model import Confidence, Exposure, Match, Secret, Verdict, VerdictStatus
from sprawlguard.redact import redact

_KIND_WEIGHT = {
    "service_account_key": 30, "private_key": 25, "signing_key": 25, "ssh_key": 25,
    "personal_access_token": 25, "static_api_key": 20, "oauth_client_secret": 20, "bot_token": 20,
    "db_password": 20, "connection_string": 20, "ci_token": 20, "registry_token": 20,
    "deploy_token": 15, "app_token": 15, "webhook_url": 10, "refresh_token": 15,
    "oauth_access_token": 10, "session_token": 5, "password": 15, "shared_secret": 15,
    "encryption_key": 20,
}
_CONF_WEIGHT = {Confidence.HIGH: 30, Confidence.MEDIUM: 15, Confidence.LOW: 5}
_VERDICT_WEIGHT = {VerdictStatus.LIVE: 40, VerdictStatus.UNKNOWN: 10, VerdictStatus.SKIPPED: 10,
                   VerdictStatus.DEAD: -30}


def risk_score(secret: Secret, now: datetime | None = None) -> int:
    """0-100: how urgently a person should act; orders reports (higher first).

    A plain sum, clamped to 0-100:
    - confidence of the best match: high 30, medium 15, low 5;
    - NHI kind (`_KIND_WEIGHT`): 30 for service-account keys down to 5 for session tokens;
    - breadth: +3 per extra place (item) up to +15, +5 per extra source system;
    - liveness: live +40, unknown/skipped +10, dead -30, not checked 0;
    - age (days since first seen, from the inventory or the commit date): +5 from 7 days, +10 from 90.
    """
    score = _CONF_WEIGHT[secret.confidence] + _KIND_WEIGHT.get(secret.nhi_kind, 5)
    places = {e.location.uri for e in secret.exposures}
    systems = {e.location.source for e in secret.exposures}
    score += min(15, 3 * (len(places) - 1)) + 5 * max(0, len(systems) - 1)
    if secret.verdict is not None:
        score += _VERDICT_WEIGHT[secret.verdict.status]
    age = age_days(secret.first_seen, now)
    if age is not None:
        score += 10 if age >= 90 else 5 if age >= 7 else 0
    return max(0, min(100, score))


def govern(secret: Secret, now: datetime | None = None) -> Secret:
    """Fill the derived fields (owner hints, OWASP ids, remediation, risk) from the secret's facts."""
    s = replace(secret, owner_hints=tuple(dict.fromkeys((*secret.owner_hints, *owner_hints(secret.exposures)))))
    s = replace(s, owasp_nhi=owasp.infer(s))
    s = replace(s, remediation=remediate(s, now))
    return replace(s, risk=risk_score(s, now))


def by_risk(secrets: Iterable[Secret]) -> list[Secret]:
    """Highest risk first; stable tie-break on rule and fingerprint."""
    return sorted(secrets, key=lambda s: (-s.risk, s.rule_id, s.fingerprint))


def _best(matches: list[Match], rules: Mapping[str, Rule]) -> Match:
    """The match whose rule says most about the secret: highest confidence, specific over generic."""
    return max(
        matches,
        # then the match with more context parts (a GCP key with its client_email beats a bare PEM)
        key=lambda m: (m.confidence.rank, rules[m.rule_id].issuer != "generic", len(m.parts), -len(m.decoders)),
    )


def classify(
    matches: Iterable[tuple[str, Match]],
    rules: Mapping[str, Rule],
    verdicts: Mapping[str, Verdict] | None = None,
) -> list[Secret]:
    """Group (fingerprint, match) pairs into Secrets, ordered by risk (highest first)."""
    groups: dict[str, list[Match]] = {}
    for fp, m in matches:
        groups.setdefault(fp, []).append(m)
    secrets: list[Secret] = []
    for fp, ms in groups.items():
        best = _best(ms, rules)
        rule = rules[best.rule_id]
        exposures = tuple(
            Exposure(fingerprint=fp, rule_id=m.rule_id, location=m.location, line=m.line,
                     column=m.column, confidence=m.confidence, decoders=m.decoders,
                     first_seen=m.location.when, last_seen=m.location.when,
                     historic=m.location.details.get("historic") == "true")  # sources flag old content
            for m in ms
        )
        whens = sorted(e.first_seen for e in exposures if e.first_seen)
        secret = Secret(
            fingerprint=fp, rule_id=rule.id, rule_name=rule.name, issuer=rule.issuer,
            nhi_kind=rule.nhi_kind, preview=redact(best.secret), confidence=best.confidence,
            exposures=exposures, owasp_nhi=rule.owasp_nhi, remediation=dict(rule.remediation),
            verdict=(verdicts or {}).get(fp), first_seen=whens[0] if whens else None,
            last_seen=whens[-1] if whens else None,
            value=best.secret, parts=dict(best.parts),
        )
        secrets.append(govern(secret))
    return by_risk(secrets)
