"""What changed in the inventory between two scheduled runs: new secrets, new exposures, verdict flips.

A `Mark` is the inventory's high-water marks (largest rowid of secrets, exposures, verdicts and
scans) taken when a scheduled run ends; it is stored as a checkpoint (``scheduled:<name>``). The
next run compares against it, so "new" means "entered the inventory since the last completed
run": what intermediate commits of an earlier, killed run saved is announced too, exactly once,
and nothing in the write path has to know about runs. Rows are never renumbered (upserts keep
their rowid), so a rowid above the mark is a row added since.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from sprawlguard.store.inventory import SUPPRESSED, Inventory

MARK_PREFIX = "scheduled:"


@dataclass(frozen=True)
class Mark:
    secrets: int = 0
    exposures: int = 0
    verdicts: int = 0
    scans: int = 0
    at: str | None = None  # when it was taken (ISO 8601, UTC); None: no run before


@dataclass
class Changes:
    """Redacted facts only: fingerprints, rule ids, previews, places; never a value."""

    since: str | None
    new_secrets: list[dict[str, Any]] = field(default_factory=list)
    new_exposures: list[dict[str, Any]] = field(default_factory=list)
    became_live: list[dict[str, Any]] = field(default_factory=list)
    became_dead: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.new_secrets or self.new_exposures or self.became_live or self.became_dead)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def current_mark(inv: Inventory) -> Mark:
    one = inv.db.execute(
        "SELECT (SELECT IFNULL(MAX(rowid), 0) FROM secrets), (SELECT IFNULL(MAX(id), 0) FROM exposures), "
        "(SELECT IFNULL(MAX(id), 0) FROM verdicts), (SELECT IFNULL(MAX(id), 0) FROM scans)").fetchone()
    return Mark(int(one[0]), int(one[1]), int(one[2]), int(one[3]),
                datetime.now(timezone.utc).isoformat(timespec="seconds"))


def load_mark(inv: Inventory, name: str) -> Mark:
    state = inv.get_checkpoint(MARK_PREFIX + name) or {}
    return Mark(**{k: state[k] for k in ("secrets", "exposures", "verdicts", "scans", "at") if k in state})


def save_mark(inv: Inventory, name: str, mark: Mark) -> None:
    inv.put_checkpoint(MARK_PREFIX + name, asdict(mark))


def _exposure(r: Any) -> dict[str, Any]:
    details = json.loads(r["details"] or "{}")
    return {"source": r["source"], "uri": r["uri"], "path": r["path"], "line": r["line"],
            "column": r["column"], "rule_id": r["rule_id"], "historic": bool(r["historic"]),
            "permalink": details.get("permalink"), "author": details.get("author")}


def _verdict(inv: Inventory, fp: str, upto: int) -> dict[str, Any] | None:
    r = inv.db.execute("SELECT status, reason, checked_at FROM verdicts WHERE fingerprint = ? AND id <= ? "
                       "ORDER BY checked_at DESC, id DESC LIMIT 1", (fp, upto)).fetchone()
    return {"status": r["status"], "reason": r["reason"], "checked_at": r["checked_at"]} if r else None


def _secret(r: Any) -> dict[str, Any]:
    return {"fingerprint": r["fingerprint"], "rule_id": r["rule_id"], "rule_name": r["rule_name"],
            "preview": r["preview"], "risk": r["risk"], "status": r["status"]}


def between(inv: Inventory, old: Mark, new: Mark) -> Changes:
    """Everything that entered the inventory after `old` and up to `new` (both inclusive bounds)."""
    out = Changes(since=old.at)
    rows = inv.db.execute("SELECT rowid, * FROM secrets WHERE rowid > ? AND rowid <= ? ORDER BY risk DESC, "
                          "fingerprint", (old.secrets, new.secrets)).fetchall()
    for r in rows:
        if r["status"] in SUPPRESSED:
            continue
        places = inv.db.execute("SELECT * FROM exposures WHERE fingerprint = ? AND id <= ? ORDER BY id",
                                (r["fingerprint"], new.exposures)).fetchall()
        out.new_secrets.append({**_secret(r), "verification": _verdict(inv, r["fingerprint"], new.verdicts),
                                "exposures": [_exposure(e) for e in places]})
    rows = inv.db.execute(
        "SELECT e.*, s.rule_name, s.preview, s.risk, s.status FROM exposures e JOIN secrets s "
        "ON s.fingerprint = e.fingerprint WHERE e.id > ? AND e.id <= ? AND s.rowid <= ? ORDER BY s.risk DESC, e.id",
        (old.exposures, new.exposures, old.secrets)).fetchall()
    for r in rows:
        if r["status"] not in SUPPRESSED:
            out.new_exposures.append({**_secret(r), "rule_id": r["rule_id"], "exposure": _exposure(r)})
    rows = inv.db.execute(
        "SELECT DISTINCT s.* FROM verdicts v JOIN secrets s ON s.fingerprint = v.fingerprint "
        "WHERE v.id > ? AND v.id <= ? AND s.rowid <= ? ORDER BY s.risk DESC, s.fingerprint",
        (old.verdicts, new.verdicts, old.secrets)).fetchall()
    for r in rows:
        if r["status"] in SUPPRESSED:
            continue
        before = _verdict(inv, r["fingerprint"], old.verdicts)
        now = _verdict(inv, r["fingerprint"], new.verdicts)
        if now is None or now["status"] not in ("live", "dead"):
            continue
        if before is not None and before["status"] == now["status"]:
            continue
        entry = {**_secret(r), "previous": before["status"] if before else None,
                 "reason": now["reason"], "checked_at": now["checked_at"]}
        (out.became_live if now["status"] == "live" else out.became_dead).append(entry)
    return out
