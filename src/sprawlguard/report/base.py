"""The Formatter protocol and the finding record every machine-readable format shares."""

from __future__ import annotations

from typing import Any, Protocol, TextIO

from sprawlguard import __version__
from sprawlguard.model import Exposure, Location, ScanResult, Secret

SCHEMA_VERSION = "1.2"
TOOL = {"name": "sprawlguard", "version": __version__}


class Formatter(Protocol):
    """Renders a scan result; never decides exit codes."""

    name: str

    def __init__(self, show_secrets: bool = False) -> None: ...  # pragma: no cover

    def render(self, result: ScanResult, out: TextIO) -> None: ...  # pragma: no cover


def location_dict(loc: Location, exposure: Exposure | None = None) -> dict[str, Any]:
    """The `location` object: path/line/column plus the source's own fields."""
    d: dict[str, Any] = {"uri": loc.uri, "path": loc.path}
    if exposure is not None:
        d["line"] = exposure.line
        d["column"] = exposure.column
    for k in ("permalink", "author", "when"):
        v = getattr(loc, k)
        if v:
            d[k] = v
    d.update(dict(loc.details))
    return d


def verification_dict(secret: Secret) -> dict[str, Any]:
    """The `verification` object; `not_checked` when verification did not run."""
    v = secret.verdict
    if v is None:
        return {"status": "not_checked", "reason": "verification not run"}
    return {"status": v.status.value, "reason": v.reason, "checked_at": v.checked_at,
            "identity": dict(v.identity)}


def finding_dict(secret: Secret, exposure: Exposure, show_secrets: bool = False) -> dict[str, Any]:
    """One finding (an exposure joined with its secret), as documented in the README."""
    d: dict[str, Any] = {
        "rule_id": exposure.rule_id,
        "rule_name": secret.rule_name,
        "fingerprint": secret.fingerprint,
        "redacted": secret.preview,
        "confidence": exposure.confidence.value,
        "source": exposure.location.source,
        "location": location_dict(exposure.location, exposure),
        "decoders": list(exposure.decoders),
        "occurrences": len(secret.exposures),
        "new": secret.new,
        "status": secret.status,
        "risk": secret.risk,
        "verification": verification_dict(secret),
        "nhi": {"issuer": secret.issuer, "kind": secret.nhi_kind, "owasp": list(secret.owasp_nhi),
                "owner_hints": list(secret.owner_hints)},
        "remediation": dict(secret.remediation),
    }
    if show_secrets:
        d["secret"] = secret.value
        if secret.parts:
            d["parts"] = dict(secret.parts)
    return d


def findings(result: ScanResult, show_secrets: bool = False) -> list[dict[str, Any]]:
    """Every finding, secrets in risk order, each secret's exposures in location order."""
    return [
        finding_dict(s, e, show_secrets)
        for s in result.secrets
        for e in sorted(s.exposures, key=lambda e: (e.location.uri, e.line, e.column))
    ]


def stats_dict(result: ScanResult) -> dict[str, Any]:
    """Counters and problems of the scan."""
    st = result.stats
    return {
        "files": st.files, "bytes": st.bytes, "chunks": st.chunks,
        "skipped_binary": st.skipped_binary, "skipped_too_large": st.skipped_too_large,
        "allowed": st.allowed, "baselined": st.baselined, "secrets": len(result.secrets),
        "errors": [{"uri": e.location.uri, "reason": e.reason} for e in result.errors],
        "skipped": [{"uri": e.location.uri, "reason": e.reason} for e in result.skipped
                    if e.kind == "too_large"],
        "interrupted": result.interrupted,
    }
