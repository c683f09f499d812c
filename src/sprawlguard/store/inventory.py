"""The SQLite inventory: one row per governed secret, every place it was seen, verdicts, scans.

Created on first use at ``data_dir()/inventory.sqlite3`` (``--db PATH`` to choose, ``--no-db`` to
skip). Schema changes are versioned migrations tracked in ``PRAGMA user_version``. One scan's
results are written in a single transaction, so a scan killed half way leaves the previous state
intact and the next scan writes everything again (upserts: nothing is duplicated). Raw secret
values are never stored unless the caller opts in (``store_values=True``, ``--store-values``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sprawlguard.config import data_dir
from sprawlguard.errors import StoreError, UsageError
from sprawlguard.govern.classify import by_risk, govern
from sprawlguard.model import (
    STATUSES,
    SUPPRESSED,
    Exposure,
    ScanResult,
    ScanStats,
    Secret,
    Verdict,
    VerdictStatus,
)

DEFAULT_NAME = "inventory.sqlite3"
log = logging.getLogger(__name__)
__all__ = ["STATUSES", "SUPPRESSED", "Inventory", "default_path"]  # the statuses live in model


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def default_path() -> Path:
    return data_dir() / DEFAULT_NAME


def _script(db: sqlite3.Connection, script: str) -> None:
    """Run `;`-separated DDL inside the caller's transaction (executescript would commit first)."""
    for stmt in script.split(";"):
        if stmt.strip():
            db.execute(stmt)


def _m1_initial(db: sqlite3.Connection) -> None:
    _script(db, """
        CREATE TABLE secrets (
            fingerprint TEXT PRIMARY KEY,
            rule_id TEXT NOT NULL,
            rule_name TEXT NOT NULL DEFAULT '',
            issuer TEXT NOT NULL,
            nhi_kind TEXT NOT NULL,
            confidence TEXT NOT NULL DEFAULT 'high',
            preview TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'revoked', 'accepted_risk', 'false_positive')),
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            owner_hints TEXT NOT NULL DEFAULT '[]',
            owasp_nhi TEXT NOT NULL DEFAULT '[]',
            remediation TEXT NOT NULL DEFAULT '{}',
            risk INTEGER NOT NULL DEFAULT 0,
            value TEXT
        );
        CREATE TABLE exposures (
            id INTEGER PRIMARY KEY,
            fingerprint TEXT NOT NULL REFERENCES secrets(fingerprint) ON DELETE CASCADE,
            rule_id TEXT NOT NULL,
            source TEXT NOT NULL,
            uri TEXT NOT NULL,
            path TEXT,
            line INTEGER NOT NULL DEFAULT 0,
            "column" INTEGER NOT NULL DEFAULT 0,
            details TEXT NOT NULL DEFAULT '{}',
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            historic INTEGER NOT NULL DEFAULT 0,
            UNIQUE (fingerprint, uri, line, "column")
        );
        CREATE INDEX exposures_fp ON exposures(fingerprint);
        CREATE TABLE verdicts (
            id INTEGER PRIMARY KEY,
            fingerprint TEXT NOT NULL REFERENCES secrets(fingerprint) ON DELETE CASCADE,
            status TEXT NOT NULL,
            reason TEXT NOT NULL,
            checked_at TEXT NOT NULL,
            verifier TEXT,
            identity TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE scans (
            id INTEGER PRIMARY KEY,
            started TEXT NOT NULL,
            finished TEXT,
            source TEXT NOT NULL,
            stats TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL DEFAULT 'running'
        );
        CREATE TABLE checkpoints (
            source_key TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            updated TEXT NOT NULL
        );
    """)


def _m2_status_history(db: sqlite3.Connection) -> None:
    _script(db, """
        CREATE TABLE status_history (
            id INTEGER PRIMARY KEY,
            fingerprint TEXT NOT NULL REFERENCES secrets(fingerprint) ON DELETE CASCADE,
            status TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            changed_at TEXT NOT NULL
        );
    """)


def _m3_reported_in(db: sqlite3.Connection) -> None:
    # The finished scan that first reported a secret; NULL while only intermediate commits of a
    # running (or crashed) incremental scan hold it, so it is still "new" when a scan reports it.
    _script(db, "ALTER TABLE secrets ADD COLUMN reported_in INTEGER;"
                "UPDATE secrets SET reported_in = 0;")


#: Migration i+1 brings a database from user_version i to i+1. Append only; never edit one.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_m1_initial, _m2_status_history, _m3_reported_in]


def _stats_json(stats: ScanStats) -> str:
    return json.dumps({k: getattr(stats, k) for k in stats.__dataclass_fields__}, sort_keys=True)


def _instant(value: str) -> tuple[int, datetime | str]:
    """Sort key for ISO 8601 times with any offset (git dates keep the author's); text sorts last."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return (1, value)
    return (0, when if when.tzinfo else when.replace(tzinfo=timezone.utc))


def _earliest(*values: str | None) -> str:
    return min((v for v in values if v), key=_instant)


class Inventory:
    """A connection to one inventory file. Use as a context manager or call close()."""

    def __init__(self, path: Path | None = None, store_values: bool = False) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.store_values = store_values
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{self.path}: cannot open the inventory: {exc}") from None
        self.db.row_factory = sqlite3.Row
        try:
            self.db.execute("PRAGMA foreign_keys = ON")
            self.migrate()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise StoreError(f"{self.path}: not a usable sprawlguard inventory: {exc}",
                             hint="choose another file with --db, or skip it with --no-db") from None

    def __enter__(self) -> Inventory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Apply every pending migration, each in its own transaction with its version bump."""
        if self.version > len(MIGRATIONS):
            raise StoreError(f"{self.path}: inventory schema {self.version} is newer than this "
                             f"sprawlguard understands ({len(MIGRATIONS)})", hint="upgrade sprawlguard")
        while self.version < len(MIGRATIONS):
            target = self.version + 1
            self.db.execute("BEGIN IMMEDIATE")
            try:
                if self.version == target - 1:  # another process may have migrated meanwhile
                    MIGRATIONS[target - 1](self.db)
                    self.db.execute(f"PRAGMA user_version = {target}")
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    # --- scans ---------------------------------------------------------------------------------

    def begin_scan(self, source: str) -> int:
        """Record that a scan started (committed at once, status `running`); returns its id."""
        cur = self.db.execute("INSERT INTO scans (started, source) VALUES (?, ?)", (_now(), source))
        return int(cur.lastrowid or 0)

    def record(self, scan_id: int, result: ScanResult, keep_new: bool = False,
               checkpoint: tuple[str, dict[str, Any]] | None = None, final: bool = True) -> list[Secret]:
        """Merge a scan's secrets in one transaction; returns them with inventory state applied.

        Each returned secret has `status`, `first_seen` and `last_seen` from the inventory and
        `new` = not in the inventory before this scan (unless `keep_new`: a baseline decided).
        `checkpoint` (source key, state) is stored in the same transaction, so the secrets and the
        position they were found up to never disagree. `final=False` is an intermediate commit
        of a long incremental scan (the scan stays `running`).
        On any failure (or Ctrl-C) the transaction is rolled back and the scan marked `failed`.
        """
        now = _now()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            out = [self._merge_secret(s, now, keep_new, scan_id if final else None) for s in result.secrets]
            if checkpoint is not None:
                self.put_checkpoint(*checkpoint)
            if final:
                status = "interrupted" if result.interrupted else ("error" if result.errors else "complete")
                self.db.execute("UPDATE scans SET finished = ?, stats = ?, status = ? WHERE id = ?",
                                (now, _stats_json(result.stats), status, scan_id))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            self.fail_scan(scan_id)
            raise
        for s in out:
            log.debug("scan %d: secret %s %s (%s) at %d place(s)", scan_id, s.fingerprint[:12], s.preview,
                      s.rule_id, len(s.exposures))
        log.debug("scan %d: %d secret(s) recorded in %s", scan_id, len(out), self.path)
        return by_risk(out)

    def fail_scan(self, scan_id: int) -> None:
        """Mark a scan that stopped before its results were recorded."""
        self.db.execute("UPDATE scans SET finished = ?, status = 'failed' WHERE id = ? AND status = 'running'",
                        (_now(), scan_id))

    def _merge_secret(self, s: Secret, now: str, keep_new: bool, scan_id: int | None) -> Secret:
        row = self.db.execute("SELECT status, first_seen, reported_in, owner_hints FROM secrets "
                              "WHERE fingerprint = ?", (s.fingerprint,)).fetchone()
        is_new = row is None or row["reported_in"] is None or row["reported_in"] == scan_id
        first = _earliest(row["first_seen"] if row else None, s.first_seen, now)
        # owners seen by earlier scans of other sources (a Slack poster, a commit author) stay
        owners = tuple(dict.fromkeys((*s.owner_hints, *(json.loads(row["owner_hints"]) if row else ()))))
        s = govern(replace(s, first_seen=first, owner_hints=owners))  # age and risk count from the inventory
        value = s.value if self.store_values else None
        self.db.execute(
            """INSERT INTO secrets (fingerprint, rule_id, rule_name, issuer, nhi_kind, confidence, preview,
                   first_seen, last_seen, owner_hints, owasp_nhi, remediation, risk, value)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (fingerprint) DO UPDATE SET
                   rule_id = excluded.rule_id, rule_name = excluded.rule_name, issuer = excluded.issuer,
                   nhi_kind = excluded.nhi_kind, confidence = excluded.confidence,
                   preview = excluded.preview, first_seen = excluded.first_seen,
                   last_seen = excluded.last_seen, owner_hints = excluded.owner_hints,
                   owasp_nhi = excluded.owasp_nhi, remediation = excluded.remediation,
                   risk = excluded.risk, value = COALESCE(excluded.value, secrets.value)""",
            (s.fingerprint, s.rule_id, s.rule_name, s.issuer, s.nhi_kind, s.confidence.value, s.preview,
             first, now, json.dumps(list(s.owner_hints)), json.dumps(list(s.owasp_nhi)),
             json.dumps(dict(s.remediation), sort_keys=True), s.risk, value),
        )
        if scan_id is not None:
            self.db.execute("UPDATE secrets SET reported_in = ? WHERE fingerprint = ? AND reported_in IS NULL",
                            (scan_id, s.fingerprint))
        exposures = tuple(self._put_exposure(e, now) for e in s.exposures)
        if s.verdict is not None:
            self._put_verdict(s.fingerprint, s.verdict, now)
        return replace(s, exposures=exposures, first_seen=first, last_seen=now,
                       status=row["status"] if row else "open",
                       new=s.new if keep_new else is_new)

    def _put_exposure(self, e: Exposure, now: str) -> Exposure:
        loc = e.location
        details = {**dict(loc.details), **{k: v for k, v in (("permalink", loc.permalink),
                                                           ("author", loc.author), ("when", loc.when)) if v}}
        if e.decoders:
            details["decoders"] = ",".join(e.decoders)
        first = _earliest(e.first_seen, now)
        row = self.db.execute(
            """INSERT INTO exposures (fingerprint, rule_id, source, uri, path, line, "column", details,
                   first_seen, last_seen, historic) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (fingerprint, uri, line, "column") DO UPDATE SET
                   rule_id = excluded.rule_id, details = excluded.details, last_seen = excluded.last_seen,
                   historic = excluded.historic, first_seen = MIN(exposures.first_seen, excluded.first_seen)
               RETURNING first_seen""",
            (e.fingerprint, e.rule_id, loc.source, loc.uri, loc.path, e.line, e.column,
             json.dumps(details, sort_keys=True), first, now, int(e.historic)),
        ).fetchone()
        return replace(e, first_seen=row[0], last_seen=now)

    def _put_verdict(self, fp: str, v: Verdict, now: str) -> None:
        # A verdict reused from the cache (same time, status and reason) is not history again.
        self.db.execute(
            "INSERT INTO verdicts (fingerprint, status, reason, checked_at, verifier, identity) "
            "SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM verdicts WHERE fingerprint = ? "
            "AND checked_at = ? AND status = ? AND reason = ?)",
            (fp, v.status.value, v.reason, v.checked_at or now, v.verifier, json.dumps(dict(v.identity)),
             fp, v.checked_at or now, v.status.value, v.reason),
        )

    def put_verdict(self, fp: str, v: Verdict) -> None:
        """Add a verdict to a secret's history (`sprawlguard verify`), in its own transaction."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self._put_verdict(fp, v, _now())
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def latest_verdict(self, fp: str) -> Verdict | None:
        """The most recent verdict of a secret (the verification cache), or None."""
        r = self.db.execute("SELECT * FROM verdicts WHERE fingerprint = ? ORDER BY checked_at DESC, id DESC "
                            "LIMIT 1", (fp,)).fetchone()
        if r is None:
            return None
        return Verdict(status=VerdictStatus(r["status"]), reason=r["reason"], checked_at=r["checked_at"],
                       verifier=r["verifier"], identity=json.loads(r["identity"]))

    def stored_value(self, fp: str) -> str | None:
        """The raw value, only when it was stored with --store-values."""
        row = self.db.execute("SELECT value FROM secrets WHERE fingerprint = ?", (fp,)).fetchone()
        return row[0] if row else None

    # --- checkpoints (for incremental connectors) ---------------------------------------------

    def get_checkpoint(self, source_key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT state FROM checkpoints WHERE source_key = ?", (source_key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put_checkpoint(self, source_key: str, state: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO checkpoints (source_key, state, updated) VALUES (?, ?, ?) "
            "ON CONFLICT (source_key) DO UPDATE SET state = excluded.state, updated = excluded.updated",
            (source_key, json.dumps(state, sort_keys=True), _now()),
        )

    # --- queries and triage ---------------------------------------------------------------------

    def statuses(self, fingerprints: Iterable[str]) -> dict[str, str]:
        fps = list(fingerprints)
        rows = self.db.execute(
            f"SELECT fingerprint, status FROM secrets WHERE fingerprint IN ({','.join('?' * len(fps))})", fps
        ).fetchall() if fps else []
        return {r[0]: r[1] for r in rows}

    def list_secrets(self, status: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Secrets (no raw values), highest risk first, each with its exposure count."""
        where = f"WHERE s.status IN ({','.join('?' * len(status))})" if status else ""
        rows = self.db.execute(
            f"""SELECT s.*, (SELECT COUNT(*) FROM exposures e WHERE e.fingerprint = s.fingerprint)
                    AS exposures FROM secrets s {where} ORDER BY s.risk DESC, s.fingerprint""",
            tuple(status),
        ).fetchall()
        return [_secret_dict(r) for r in rows]

    def resolve(self, prefix: str) -> str:
        """The full fingerprint for a unique prefix (at least 4 hex characters)."""
        p = prefix.strip().lower()
        if len(p) < 4:
            raise UsageError("give at least 4 characters of the fingerprint")
        rows = self.db.execute("SELECT fingerprint FROM secrets WHERE fingerprint LIKE ? LIMIT 2",
                               (p.replace("%", "").replace("_", "") + "%",)).fetchall()
        if not rows:
            raise UsageError(f"no secret with fingerprint {prefix!r} in {self.path}")
        if len(rows) > 1:
            raise UsageError(f"fingerprint prefix {prefix!r} is ambiguous; give more characters")
        return str(rows[0][0])

    def show(self, fingerprint: str) -> dict[str, Any]:
        """One secret with its exposures, verdict history and status history."""
        row = self.db.execute("SELECT *, 0 AS exposures FROM secrets WHERE fingerprint = ?",
                              (fingerprint,)).fetchone()
        if row is None:
            raise UsageError(f"no secret {fingerprint} in {self.path}")
        d = _secret_dict(row)
        d["exposures"] = [
            {**{k: r[k] for k in ("rule_id", "source", "uri", "path", "line", "column", "first_seen",
                                  "last_seen")}, "historic": bool(r["historic"]),
             "details": json.loads(r["details"])}
            for r in self.db.execute('SELECT * FROM exposures WHERE fingerprint = ? '
                                     'ORDER BY uri, line, "column"', (fingerprint,))
        ]
        d["verdicts"] = [
            {"status": r["status"], "reason": r["reason"], "checked_at": r["checked_at"],
             "verifier": r["verifier"], "identity": json.loads(r["identity"])}
            for r in self.db.execute("SELECT * FROM verdicts WHERE fingerprint = ? ORDER BY id", (fingerprint,))
        ]
        d["status_history"] = [
            {"status": r["status"], "note": r["note"], "changed_at": r["changed_at"]}
            for r in self.db.execute("SELECT * FROM status_history WHERE fingerprint = ? ORDER BY id",
                                     (fingerprint,))
        ]
        return d

    def set_status(self, fingerprint: str, status: str, note: str = "") -> None:
        """Change a secret's triage status, keeping the change (and note) in status_history."""
        if status not in STATUSES:
            raise UsageError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("UPDATE secrets SET status = ? WHERE fingerprint = ?", (status, fingerprint))
            self.db.execute("INSERT INTO status_history (fingerprint, status, note, changed_at) "
                            "VALUES (?, ?, ?, ?)", (fingerprint, status, note, _now()))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise


def _secret_dict(r: sqlite3.Row) -> dict[str, Any]:
    return {
        "fingerprint": r["fingerprint"], "rule_id": r["rule_id"], "rule_name": r["rule_name"],
        "issuer": r["issuer"], "nhi_kind": r["nhi_kind"], "confidence": r["confidence"],
        "preview": r["preview"], "status": r["status"], "first_seen": r["first_seen"],
        "last_seen": r["last_seen"], "owner_hints": json.loads(r["owner_hints"]),
        "owasp_nhi": json.loads(r["owasp_nhi"]), "remediation": json.loads(r["remediation"]),
        "risk": r["risk"], "exposures": r["exposures"],
    }
