"""The SQLite inventory: one secret per value, transactional writes, migrations, triage, no raw values."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import pytest

from sprawlguard.store import inventory as inv_mod
from sprawlguard.store.inventory import MIGRATIONS, Inventory
from tests.conftest import fake

RULES = str(Path(__file__).parent.parent / "data" / "rules")
KEY = fake("acme_{{gen:alnum:24}}", "inventory")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "a.py").write_text(f"A = '{KEY}'\n")
    (root / "b.env").write_text(f"ACME={KEY}\n")
    (root / "c.yaml").write_text(f"blob: {base64.b64encode(KEY.encode()).decode()}\n")
    return root


def scan(cli, tree: Path, db: Path, *args: str):
    return cli("scan", "path", str(tree), "--rules", RULES, "--no-builtin-rules", "--db", str(db), *args)


def _db_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def test_one_secret_three_exposures_then_nothing_new(tree: Path, tmp_path: Path, cli,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "inv.sqlite3"
    monkeypatch.setattr(inv_mod, "_now", lambda: "2025-01-01T00:00:00+00:00")
    first = scan(cli, tree, db, "-f", "json")
    assert first.code == 1
    findings = json.loads(first.out)["findings"]
    assert len({f["fingerprint"] for f in findings}) == 1
    assert all(f["new"] for f in findings)
    with Inventory(db) as inv:
        (row,) = inv.list_secrets()
        assert row["exposures"] == 3
        shown = inv.show(row["fingerprint"])
    assert sorted(e["details"].get("decoders", "") for e in shown["exposures"]) == ["", "", "base64"]

    monkeypatch.setattr(inv_mod, "_now", lambda: "2025-02-01T00:00:00+00:00")
    second = scan(cli, tree, db, "-f", "json", "--fail-on", "new")
    assert second.code == 0
    assert not any(f["new"] for f in json.loads(second.out)["findings"])
    with Inventory(db) as inv:
        (row,) = inv.list_secrets()
        assert row["exposures"] == 3  # nothing duplicated
        assert row["first_seen"] == "2025-01-01T00:00:00+00:00"
        assert row["last_seen"] == "2025-02-01T00:00:00+00:00"
        exps = inv.show(row["fingerprint"])["exposures"]
        assert {e["last_seen"] for e in exps} == {"2025-02-01T00:00:00+00:00"}
        assert {e["first_seen"] for e in exps} == {"2025-01-01T00:00:00+00:00"}
        scans = inv.db.execute("SELECT status FROM scans ORDER BY id").fetchall()
    assert [s[0] for s in scans] == ["complete", "complete"]


def test_default_db_in_data_dir_and_no_db(tree: Path, cli, sg_home: Path) -> None:
    assert cli("scan", "path", str(tree), "--rules", RULES, "--no-builtin-rules", "--no-db").code == 1
    assert not (sg_home / "inventory.sqlite3").exists()
    assert cli("scan", "path", str(tree), "--rules", RULES, "--no-builtin-rules").code == 1
    assert (sg_home / "inventory.sqlite3").exists()


def test_migrates_empty_and_old_databases(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    with Inventory(empty) as inv:
        assert inv.version == len(MIGRATIONS)
    old = tmp_path / "old.sqlite3"
    con = sqlite3.connect(old)
    MIGRATIONS[0](con)
    con.execute("PRAGMA user_version = 1")
    con.execute("INSERT INTO secrets (fingerprint, rule_id, issuer, nhi_kind, preview, first_seen, last_seen)"
                " VALUES ('abcd1234', 'r', 'i', 'k', 'p***', 't', 't')")
    con.commit()
    con.close()
    with Inventory(old) as inv:
        assert inv.version == len(MIGRATIONS)
        inv.set_status("abcd1234", "revoked", "rotated")  # needs the table migration 2 adds
        assert inv.show(inv.resolve("abcd"))["status_history"][0]["note"] == "rotated"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "new.sqlite3"
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    con.close()
    from sprawlguard.errors import StoreError

    with pytest.raises(StoreError):
        Inventory(db)


@pytest.mark.parametrize("exc", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_interrupted_write_leaves_db_consistent_and_rerun_completes(
        tree: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    db = tmp_path / "inv.sqlite3"
    real = Inventory._put_exposure
    calls = {"n": 0}

    def flaky(self: Inventory, e, now):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise exc
        return real(self, e, now)

    monkeypatch.setattr(Inventory, "_put_exposure", flaky)
    res = scan(cli, tree, db)
    assert res.code in (3, 130)
    assert KEY not in res.out + res.err
    with Inventory(db) as inv:
        assert inv.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert inv.list_secrets() == []  # the half-written scan was rolled back
        assert inv.db.execute("SELECT COUNT(*) FROM exposures").fetchone()[0] == 0
        assert inv.db.execute("SELECT status FROM scans").fetchone()[0] == "failed"

    monkeypatch.setattr(Inventory, "_put_exposure", real)
    assert scan(cli, tree, db).code == 1
    with Inventory(db) as inv:
        (row,) = inv.list_secrets()
        assert row["exposures"] == 3
        assert inv.db.execute("SELECT COUNT(*) FROM exposures").fetchone()[0] == 3


def test_raw_value_never_stored_unless_opted_in(tree: Path, tmp_path: Path, cli) -> None:
    db = tmp_path / "inv.sqlite3"
    scan(cli, tree, db)
    assert KEY.encode() not in _db_bytes(db)
    assert KEY[5:].encode() not in _db_bytes(db)
    opted = tmp_path / "opted.sqlite3"
    scan(cli, tree, opted, "--store-values")
    assert KEY.encode() in _db_bytes(opted)


def test_false_positive_no_longer_fails_the_build(tree: Path, tmp_path: Path, cli) -> None:
    db = tmp_path / "inv.sqlite3"
    assert scan(cli, tree, db).code == 1
    listed = cli("inventory", "list", "--db", str(db), "-f", "json")
    assert listed.code == 0
    fp = json.loads(listed.out)["secrets"][0]["fingerprint"]
    res = cli("inventory", "set-status", fp[:8], "false_positive", "--note", "test fixture", "--db", str(db))
    assert res.code == 0, res.err
    assert scan(cli, tree, db).code == 0
    no_db = cli("scan", "path", str(tree), "--rules", RULES, "--no-builtin-rules", "--no-db")
    assert no_db.code == 1  # without the inventory the policy is unchanged
    assert scan(cli, tree, db, "--no-db").code == 2  # --db with --no-db is a usage error
    shown = cli("inventory", "show", fp[:8], "--db", str(db))
    assert shown.code == 0
    assert "false_positive" in shown.out and "test fixture" in shown.out
    assert shown.out.count("file ") == 3
    assert "remediation:" in shown.out and "revoke" in shown.out
    assert KEY not in shown.out
    assert cli("inventory", "list", "--db", str(db), "--status", "open", "-f", "json").out.count(fp) == 0
    assert cli("inventory", "set-status", "zzzz", "revoked", "--db", str(db)).code == 2
    assert cli("inventory", "show", "ab", "--db", str(db)).code == 2


def test_checkpoints_round_trip(tmp_path: Path) -> None:
    with Inventory(tmp_path / "inv.sqlite3") as inv:
        assert inv.get_checkpoint("slack:T1") is None
        inv.put_checkpoint("slack:T1", {"oldest": "1.0"})
        inv.put_checkpoint("slack:T1", {"oldest": "2.0"})
        assert inv.get_checkpoint("slack:T1") == {"oldest": "2.0"}
