"""Read the inventory back as governed secrets (for `sprawlguard report`) or export it (JSON/CSV).

Nothing here reads the raw `value` column: exports and reports carry redacted previews only, even
for an inventory filled with --store-values.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from typing import Any, TextIO

from sprawlguard.model import Confidence, Exposure, Location, Secret, Verdict, VerdictStatus
from sprawlguard.store.inventory import Inventory

EXPORT_VERSION = "1.0"
_LOCATION_KEYS = ("permalink", "author", "when")

CSV_COLUMNS = (
    "fingerprint", "preview", "rule_id", "issuer", "nhi_kind", "confidence", "status", "risk",
    "secret_first_seen", "secret_last_seen", "owasp_nhi", "owner_hints", "exposures",
    "source", "uri", "path", "line", "column", "commit", "author", "decoders", "historic",
    "first_seen", "last_seen", "revoke", "replace_with",
)


def records(inv: Inventory, statuses: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every secret (highest risk first) with its exposures, verdicts and status history."""
    return [inv.show(row["fingerprint"]) for row in inv.list_secrets(statuses)]


def to_secret(d: dict[str, Any]) -> Secret:
    """One inventory record as the model's Secret, with its exposures and latest verdict."""
    confidence = Confidence(d["confidence"])
    exposures = tuple(
        Exposure(
            fingerprint=d["fingerprint"], rule_id=e["rule_id"],
            location=Location(
                source=e["source"], uri=e["uri"], path=e["path"], line=e["line"] or None,
                **{k: e["details"].get(k) for k in _LOCATION_KEYS},
                details={k: str(v) for k, v in e["details"].items() if k not in (*_LOCATION_KEYS, "decoders")},
            ),
            line=e["line"], column=e["column"], confidence=confidence,
            decoders=tuple(x for x in e["details"].get("decoders", "").split(",") if x),
            first_seen=e["first_seen"], last_seen=e["last_seen"], historic=e["historic"],
        )
        for e in d["exposures"]
    )
    last = d["verdicts"][-1] if d["verdicts"] else None
    verdict = (Verdict(VerdictStatus(last["status"]), last["reason"], last["checked_at"], last["verifier"],
                       last["identity"]) if last else None)
    return Secret(
        fingerprint=d["fingerprint"], rule_id=d["rule_id"], rule_name=d["rule_name"], issuer=d["issuer"],
        nhi_kind=d["nhi_kind"], preview=d["preview"], confidence=confidence, exposures=exposures,
        owasp_nhi=tuple(d["owasp_nhi"]), remediation=d["remediation"], verdict=verdict, status=d["status"],
        first_seen=d["first_seen"], last_seen=d["last_seen"], owner_hints=tuple(d["owner_hints"]),
        risk=d["risk"], new=False,
    )


def write_json(recs: list[dict[str, Any]], out: TextIO, tool: dict[str, str]) -> None:
    json.dump({"export_version": EXPORT_VERSION, "tool": tool, "secrets": recs}, out, indent=2)
    out.write("\n")


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (scanned paths are untrusted)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_csv(recs: list[dict[str, Any]], out: TextIO) -> None:
    """One row per exposure, each with its secret's facts (a secret with no exposure gets one row)."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for d in recs:
        secret = [d["fingerprint"], d["preview"], d["rule_id"], d["issuer"], d["nhi_kind"], d["confidence"],
                  d["status"], d["risk"], d["first_seen"], d["last_seen"], " ".join(d["owasp_nhi"]),
                  "; ".join(d["owner_hints"]), len(d["exposures"])]
        rem = [d["remediation"].get("revoke", ""), d["remediation"].get("replace_with", "")]
        for e in d["exposures"] or [None]:
            place = [""] * 11 if e is None else [
                e["source"], e["uri"], e["path"], e["line"], e["column"], e["details"].get("commit", ""),
                e["details"].get("author", ""), e["details"].get("decoders", ""), str(e["historic"]).lower(),
                e["first_seen"], e["last_seen"]]
            w.writerow([_cell(v) for v in (*secret, *place, *rem)])
