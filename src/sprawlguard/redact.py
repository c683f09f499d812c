"""The only place a raw secret value is turned into a preview that is safe to show."""

from __future__ import annotations

import re

_MIN_HIDDEN = 8


def redact(value: str, keep: int = 4) -> str:
    """Keep at most `keep` leading characters (fewer for short values) and hide the rest.

    Short values keep nothing, so a password like ``hunter22`` becomes ``********``; long tokens keep
    their issuer prefix (``ghp_…``), which is public knowledge and helps triage. The length is not
    revealed beyond a coarse bucket.
    """
    if not value:
        return ""
    shown = min(keep, max(0, len(value) - _MIN_HIDDEN - 4))
    return value[:shown] + "*" * 8 if shown else "*" * 8


def scrub(text: str, secrets: list[str] | tuple[str, ...] | set[str]) -> str:
    """Replace every occurrence of each secret in free text (messages, exceptions) by its preview."""
    for s in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(s, redact(s))
    return text


_URL_CRED = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]+):(?P<pw>[^@/\s]+)@")


def scrub_url_credentials(text: str) -> str:
    """Hide passwords embedded in URLs (``scheme://user:pass@host``) in free text."""
    return _URL_CRED.sub(lambda m: f"{m['scheme']}{m['user']}:********@", text)
