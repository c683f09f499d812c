"""OWASP Non-Human Identities Top 10 (2025): ids, names, and what one secret's record implies.

Ids and names are exactly those of the OWASP list (``2025/docs/top-10-2025.md``), as recorded in
``reference/issuers.md`` section 0. Every finding maps to NHI2; the other ids are inferred only
from what a scan can actually see (rule metadata, kind, paths, breadth, verdict).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sprawlguard.model import Secret, VerdictStatus

NHI_TOP10: dict[str, str] = {
    "NHI1": "Improper Offboarding",
    "NHI2": "Secret Leakage",
    "NHI3": "Vulnerable Third-Party NHI",
    "NHI4": "Insecure Authentication",
    "NHI5": "Overprivileged NHI",
    "NHI6": "Insecure Cloud Deployment Configurations",
    "NHI7": "Long-Lived Secrets",
    "NHI8": "Environment Isolation",
    "NHI9": "NHI Reuse",
    "NHI10": "Human Use of NHI",
}

_CLOUD_ISSUERS = {"aws", "gcp", "google", "azure", "microsoft"}
_CI_PATH = re.compile(r"(^|/)(\.github/workflows/|\.gitlab-ci\.ya?ml$|\.circleci/|Jenkinsfile$|"
                      r"azure-pipelines\.ya?ml$|\.buildkite/|bitbucket-pipelines\.yml$)")
_HUMAN_PATH = re.compile(r"(^|/)(\.bash_history|\.zsh_history|\.python_history|\.psql_history|"
                         r"[^/]+\.ipynb|home/[^/]+/|Users/[^/]+/|Downloads/|Desktop/)")
_DEV = re.compile(r"(^|[/._-])(dev|test|tests|staging|sandbox|local)([/._-]|$)", re.I)
_PROD = re.compile(r"(^|[/._-])(prod|production|live)([/._-]|$)", re.I)
_WEAK_KINDS = {"password", "db_password", "connection_string", "shared_secret"}
_THIRD_PARTY_KINDS = {"bot_token", "app_token", "webhook_url", "oauth_client_secret"}


def name(nhi_id: str) -> str:
    """`NHI2` -> `NHI2 Secret Leakage`; unknown ids are returned unchanged."""
    return f"{nhi_id} {NHI_TOP10[nhi_id]}" if nhi_id in NHI_TOP10 else nhi_id


def _order(ids: Iterable[str]) -> tuple[str, ...]:
    uniq = {i for i in ids if i in NHI_TOP10}
    return tuple(sorted(uniq, key=lambda i: int(i[3:])))


def infer(secret: Secret) -> tuple[str, ...]:
    """The rule's ids plus NHI2 and what this secret's exposures and verdict show, in list order."""
    ids = {"NHI2", *secret.owasp_nhi}
    paths = [e.location.path or e.location.uri for e in secret.exposures]
    systems = {(e.location.source, e.location.details.get("repo", "")) for e in secret.exposures}
    if secret.nhi_kind in _WEAK_KINDS:
        ids.add("NHI4")
    if secret.nhi_kind in _THIRD_PARTY_KINDS:
        ids.add("NHI3")
    if secret.issuer in _CLOUD_ISSUERS and any(_CI_PATH.search(p) for p in paths):
        ids.add("NHI6")
    if any(_DEV.search(p) for p in paths) and any(_PROD.search(p) for p in paths):
        ids.add("NHI8")
    if len(systems) > 1:
        ids.add("NHI9")
    if any(_HUMAN_PATH.search(p) for p in paths) and secret.nhi_kind in {
            "service_account_key", "bot_token", "ci_token", "deploy_token"}:
        ids.add("NHI10")
    if secret.verdict is not None and secret.verdict.status is VerdictStatus.LIVE:
        ids.add("NHI7")  # still accepted after leaking: treat as long-lived until proven otherwise
    return _order(ids)
