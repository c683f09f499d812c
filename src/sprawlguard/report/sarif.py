"""SARIF 2.1.0 for code scanning: one result per exposure, partialFingerprints from our fingerprint."""

from __future__ import annotations

import json
from typing import Any, TextIO

from sprawlguard.model import SUPPRESSED, Confidence, Exposure, ScanResult, Secret
from sprawlguard.report.base import TOOL, verification_dict

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Confidence.HIGH: "error", Confidence.MEDIUM: "warning", Confidence.LOW: "note"}
_SEVERITY = {Confidence.HIGH: "8.5", Confidence.MEDIUM: "6.0", Confidence.LOW: "3.0"}


def _help(secret: Secret) -> dict[str, str]:
    rem = secret.remediation
    text = (f"Revoke or rotate: {rem.get('revoke', 'see issuer docs')}\n"
            f"Replace with: {rem.get('replace_with', '-')}\nDocs: {rem.get('docs', '-')}")
    md = (f"**Revoke or rotate:** {rem.get('revoke', 'see issuer docs')}\n\n"
          f"**Replace with:** {rem.get('replace_with', '-')}\n\n**Docs:** {rem.get('docs', '-')}")
    return {"text": text, "markdown": md}


def _rule(secret: Secret) -> dict[str, Any]:
    return {
        "id": secret.rule_id,
        "name": secret.rule_name,
        "shortDescription": {"text": f"{secret.rule_name} ({secret.issuer})"},
        "fullDescription": {"text": f"A {secret.nhi_kind.replace('_', ' ')} issued by {secret.issuer} "
                                    f"was found in plain text. OWASP NHI: {', '.join(secret.owasp_nhi)}."},
        "help": _help(secret),
        "helpUri": secret.remediation.get("docs") or "https://owasp.org/www-project-non-human-identities-top-10/",
        "properties": {"tags": ["security", "secret", *secret.owasp_nhi],
                       "security-severity": _SEVERITY[secret.confidence]},
    }


def _location(e: Exposure) -> dict[str, Any]:
    loc = e.location
    if loc.source in ("file", "git", "staged", "stdin") and loc.path:
        return {"physicalLocation": {
            "artifactLocation": {"uri": loc.path},
            "region": {"startLine": max(1, e.line), "startColumn": max(1, e.column)},
        }}
    return {"physicalLocation": {"artifactLocation": {"uri": loc.permalink or loc.uri},
                                 "region": {"startLine": max(1, e.line)}}}


class SarifFormatter:
    """SARIF 2.1.0 log with one run."""

    name = "sarif"

    def __init__(self, show_secrets: bool = False) -> None:
        self.show_secrets = show_secrets  # SARIF never carries raw values; kept for the protocol

    def render(self, result: ScanResult, out: TextIO) -> None:
        rules: dict[str, dict[str, Any]] = {}
        results = []
        for s in result.secrets:
            for e in sorted(s.exposures, key=lambda e: (e.location.uri, e.line)):
                rules.setdefault(e.rule_id, _rule(s) if e.rule_id == s.rule_id else {
                    **_rule(s), "id": e.rule_id, "name": e.rule_id})
                props: dict[str, Any] = {"confidence": e.confidence.value, "risk": s.risk,
                                         "redacted": s.preview, "issuer": s.issuer,
                                         "nhi_kind": s.nhi_kind, "occurrences": len(s.exposures),
                                         "verification": verification_dict(s)["status"],
                                         "status": s.status}
                if e.location.details.get("commit"):
                    props["commit"] = e.location.details["commit"]
                result_obj: dict[str, Any] = {
                    "ruleId": e.rule_id,
                    "level": _LEVEL[e.confidence],
                    "message": {"text": f"{s.rule_name} {s.preview} found "
                                        f"({len(s.exposures)} place(s)). Revoke it, then remove it."},
                    "locations": [_location(e)],
                    "partialFingerprints": {"sprawlguardFingerprint/v1": s.fingerprint},
                    "properties": props,
                }
                if s.status in SUPPRESSED:
                    result_obj["suppressions"] = [{
                        "kind": "external", "status": "accepted",
                        "justification": f"triaged as {s.status.replace('_', '-')} in the sprawlguard inventory"}]
                results.append(result_obj)
        ids = list(rules)
        for r in results:
            r["ruleIndex"] = ids.index(r["ruleId"])
        log = {
            "$schema": SARIF_SCHEMA,
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {"name": TOOL["name"], "version": TOOL["version"],
                                    "informationUri": "https://github.com/sprawlguard/sprawlguard",
                                    "rules": list(rules.values())}},
                "results": results,
                "invocations": [{"executionSuccessful": not result.errors}],
            }],
        }
        json.dump(log, out, indent=2)
        out.write("\n")
