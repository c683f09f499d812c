"""Remediation per secret: how to revoke it, what should replace it, who owns it, where every copy is.

The rule file says where and how to revoke (``remediation.revoke``), what to replace the secret with
(``replace_with``) and where the docs are (``docs``). This module adds what one scan can see:
owner hints (commit author, Slack poster or Jira reporter from the location, CODEOWNERS for files
on disk), exposure breadth, age, and an identity-bound replacement per issuer.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from sprawlguard.model import Exposure, Secret

if TYPE_CHECKING:
    import pathspec

#: What should replace a static secret of this issuer: an identity-bound, short-lived mechanism.
IDENTITY_BOUND: dict[str, str] = {
    "aws": "IAM roles: OIDC federation from CI (AssumeRoleWithWebIdentity), instance/task roles, IAM Roles Anywhere",
    "gcp": "Workload Identity Federation or attached service accounts instead of JSON keys",
    "google": "Workload Identity Federation or attached service accounts instead of API/JSON keys",
    "azure": "Managed identities or workload identity federation (federated credentials)",
    "github": "A GitHub App installation token or the workflow's GITHUB_TOKEN; OIDC for cloud access",
    "gitlab": "CI_JOB_TOKEN, project/group access tokens with expiry, or OIDC id_tokens",
    "npm": "Trusted publishing (OIDC from CI) instead of long-lived automation tokens",
    "pypi": "Trusted publishing (OIDC from CI) instead of API tokens",
    "slack": "A Slack app with token rotation and the narrowest scopes",
    "stripe": "Restricted keys per service, kept in a secrets manager",
    "openai": "Project-scoped keys from a secrets manager, rotated automatically",
}
_DEFAULT_IDENTITY = ("A short-lived, identity-bound credential (OIDC federation, workload identity, "
                     "mTLS or sender-constrained tokens) fetched at run time from a secrets manager")
_CODEOWNERS = ("CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS")
_OWNER_DETAIL_KEYS = ("reporter", "assignee", "poster", "user", "committer")


def _parse_time(text: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def age_days(first_seen: str | None, now: datetime | None = None) -> int | None:
    """Whole days since `first_seen` (ISO 8601), or None when unknown or unparseable."""
    if not first_seen:
        return None
    t = _parse_time(first_seen)
    if t is None:
        return None
    return max(0, ((now or datetime.now(timezone.utc)) - t).days)


@functools.lru_cache(maxsize=256)
def _codeowners_in(root: str) -> tuple[tuple[pathspec.PathSpec, tuple[str, ...]], ...] | None:
    for name in _CODEOWNERS:
        f = Path(root) / name
        if f.is_file():
            import pathspec  # lazy: most scans have no CODEOWNERS file

            rules = []
            try:
                lines = f.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                return None
            for line in lines:
                parts = line.split("#", 1)[0].split()
                if len(parts) >= 2:
                    rules.append((pathspec.PathSpec.from_lines("gitignore", [parts[0]]), tuple(parts[1:])))
            return tuple(rules)
    return None


def codeowners(path: str | None) -> tuple[str, ...]:
    """Owners of a file on disk from the nearest CODEOWNERS above it (last matching line wins)."""
    if not path:
        return ()
    p = Path(path)
    try:
        if not p.is_file():
            return ()
        p = p.resolve()
    except OSError:
        return ()
    for root in p.parents:
        rules = _codeowners_in(str(root))
        if rules is not None:
            rel = p.relative_to(root).as_posix()
            owners: tuple[str, ...] = ()
            for spec, who in rules:
                if spec.match_file(rel):
                    owners = who
            return owners
        if (root / ".git").exists():
            return ()
    return ()


def owner_hints(exposures: Iterable[Exposure]) -> tuple[str, ...]:
    """Who may own or know the secret: authors/posters, Jira people, CODEOWNERS; each labelled."""
    hints: list[str] = []
    for e in exposures:
        loc = e.location
        if loc.author:
            label = {"git": "commit author", "slack": "slack poster"}.get(loc.source, f"{loc.source} author")
            hints.append(f"{label}: {loc.author}")
        hints.extend(f"{loc.source} {k}: {loc.details[k]}" for k in _OWNER_DETAIL_KEYS if loc.details.get(k))
        if loc.source in ("file", "git", "staged"):
            hints += [f"CODEOWNERS: {o}" for o in codeowners(loc.path)]
    return tuple(dict.fromkeys(hints))


def breadth(exposures: Iterable[Exposure]) -> dict[str, int]:
    """How far the secret sprawled: places, distinct files/items, distinct source systems."""
    exps = list(exposures)
    return {
        "places": len({(e.location.uri, e.line, e.column) for e in exps}),
        "items": len({e.location.uri for e in exps}),
        "systems": len({e.location.source for e in exps}),
        "historic": sum(1 for e in exps if e.historic),
    }


def remediate(secret: Secret, now: datetime | None = None) -> dict[str, str]:
    """The remediation record: revoke, replace_with, identity_bound, docs, clean_up, owners, age."""
    rem = {k: str(v) for k, v in secret.remediation.items() if k in ("revoke", "replace_with", "docs")}
    rem.setdefault("revoke", f"Revoke or rotate it in the {secret.issuer} console or API, then "
                             "update every consumer")
    rem["identity_bound"] = IDENTITY_BOUND.get(secret.issuer.lower(), _DEFAULT_IDENTITY)
    rem.setdefault("replace_with", rem["identity_bound"])
    b = breadth(secret.exposures)
    places = sorted({e.location.path or e.location.uri for e in secret.exposures})
    shown = ", ".join(places[:10]) + (f" (+{len(places) - 10} more)" if len(places) > 10 else "")
    rem["clean_up"] = (f"{b['places']} place(s) in {b['items']} item(s) across {b['systems']} "
                       f"system(s): {shown}. Rotating first, then purge every copy "
                       "(history rewrite, message deletion) if the value must not stay readable.")
    if secret.owner_hints:
        rem["owners"] = "; ".join(secret.owner_hints)
    age = age_days(secret.first_seen, now)
    if age is not None:
        rem["age"] = f"first seen {age} day(s) ago"
    return rem
