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
    res = cli("triage", fp[:8], "--status", "false-positive", "--note", "test fixture", "--db", str(db))
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
    assert cli("triage", "zzzz", "--status", "revoked", "--db", str(db)).code == 2
    assert cli("triage", fp[:8], "--status", "gone", "--db", str(db)).code == 2
    assert cli("inventory", "show", "ab", "--db", str(db)).code == 2


def test_checkpoints_round_trip(tmp_path: Path) -> None:
    with Inventory(tmp_path / "inv.sqlite3") as inv:
        assert inv.get_checkpoint("slack:T1") is None
        inv.put_checkpoint("slack:T1", {"oldest": "1.0"})
        inv.put_checkpoint("slack:T1", {"oldest": "2.0"})
        assert inv.get_checkpoint("slack:T1") == {"oldest": "2.0"}


# --- one secret across a file, a git commit and a log: the governed record -----------------------

def _three_sources(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """Plant KEY in a file, a git commit and a CI log; scan each into one --db (git last)."""
    import io
    import sys

    from tests.sources.test_git import commit, git

    db = tmp_path / "inv.sqlite3"
    work = tmp_path / "work"
    work.mkdir()
    (work / "settings.env").write_text(f"ACME_KEY={KEY}\n")
    assert scan(cli, work, db).code == 1
    log = f"2025-03-01T10:00:00Z step deploy\n2025-03-01T10:00:01Z using key {KEY}\n".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(log)))
    res = cli("scan", "stdin", "--label", "ci/build-42.log", "--rules", RULES, "--no-builtin-rules",
              "--db", str(db))
    assert res.code == 1, res.err
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, {"deploy/prod.env": f"# prod\nACME_KEY={KEY}\n"}, "add deploy config")
    committed = git(repo, "log", "-1", "--format=%aI")
    res = cli("scan", "git", str(repo), "--rules", RULES, "--no-builtin-rules", "--db", str(db))
    assert res.code == 1, res.err
    return db, committed


def test_one_secret_in_file_git_and_log_is_one_record_with_three_places(
        cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, committed = _three_sources(cli, tmp_path, monkeypatch)
    with Inventory(db) as inv:
        (row,) = inv.list_secrets()
        assert row["exposures"] == 3
        rec = inv.show(row["fingerprint"])
    assert {e["source"] for e in rec["exposures"]} == {"file", "stdin", "git"}
    assert rec["first_seen"] == committed  # the commit (2023) is older than the two scans (now)
    git_exp = next(e for e in rec["exposures"] if e["source"] == "git")
    assert git_exp["first_seen"] == committed and git_exp["path"] == "deploy/prod.env"
    assert "Dev <dev@example.com>" in rec["owner_hints"][0]

    exported = cli("inventory", "export", "--db", str(db))
    assert exported.code == 0, exported.err
    (sec,) = json.loads(exported.out)["secrets"]
    assert len(sec["exposures"]) == 3

    rep = cli("report", "-f", "json", "--db", str(db))
    assert rep.code == 0, rep.err
    findings = json.loads(rep.out)["findings"]
    assert len({f["fingerprint"] for f in findings}) == 1
    assert sorted(f["location"]["path"].rsplit("/", 1)[-1] for f in findings) == [
        "build-42.log", "prod.env", "settings.env"]
    assert {f["occurrences"] for f in findings} == {3}

    page = tmp_path / "report.html"
    rep = cli("report", "--db", str(db), "-o", str(page))
    assert rep.code == 0 and rep.out == ""
    html = page.read_text()
    assert html.count('<section class="secret"') == 1 and "Exposures (3)" in html
    for place in ("settings.env", "ci/build-42.log", "deploy/prod.env"):
        assert place in html
    assert committed in html and "from the inventory" in html
    everything = exported.out + rep.out + html + json.dumps(findings)
    assert KEY not in everything and KEY.encode() not in _db_bytes(db)


def test_earliest_first_seen_compares_instants_not_text() -> None:
    # 01:00+05:00 is 20:00 UTC the day before: earlier, though it sorts later as text
    assert inv_mod._earliest("2024-01-01T00:00:00+00:00", "2024-01-01T01:00:00+05:00") == \
        "2024-01-01T01:00:00+05:00"
    assert inv_mod._earliest(None, "2024-01-02T00:00:00+00:00", "not a date") == "2024-01-02T00:00:00+00:00"


def test_export_csv_one_row_per_place_redacted_and_formula_safe(
        cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import csv
    import io
    import sys

    from sprawlguard.store.export import CSV_COLUMNS

    db = tmp_path / "inv.sqlite3"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(f"k={KEY}\nk2={KEY}\n".encode())))
    assert cli("scan", "stdin", "--label", "=HYPERLINK(1)", "--rules", RULES, "--no-builtin-rules",
               "--db", str(db)).code == 1
    out = tmp_path / "inv.csv"
    res = cli("inventory", "export", "-f", "csv", "-o", str(out), "--db", str(db))
    assert res.code == 0, res.err
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert tuple(rows[0]) == CSV_COLUMNS
    body = [dict(zip(CSV_COLUMNS, r, strict=True)) for r in rows[1:]]
    assert [(r["line"], r["exposures"]) for r in body] == [("1", "2"), ("2", "2")]
    assert {r["path"] for r in body} == {"'=HYPERLINK(1)"}  # a spreadsheet shows it, never runs it
    assert {r["preview"] for r in body} == {"acme********"} and KEY not in out.read_text()
    assert cli("inventory", "export", "-o", str(tmp_path / "no" / "such" / "dir.json"),
               "--db", str(db)).code == 2


def test_status_is_shown_in_terminal_json_and_sarif(cli, tree: Path, tmp_path: Path) -> None:
    import jsonschema

    schema = json.loads((Path(__file__).parent.parent / "report" / "data" / "sarif-schema-2.1.0.json")
                        .read_text())
    db = tmp_path / "inv.sqlite3"
    sarif = json.loads(scan(cli, tree, db, "-f", "sarif").out)
    assert all("suppressions" not in r and r["properties"]["status"] == "open"
               for r in sarif["runs"][0]["results"])
    fp = json.loads(scan(cli, tree, db, "-f", "json").out)["findings"][0]["fingerprint"]
    assert cli("triage", fp[:6], "--status", "accepted-risk", "--note", "rotating in Q3",
               "--db", str(db)).code == 0

    res = scan(cli, tree, db, "-f", "json")
    assert res.code == 0  # accepted risk no longer fails the build
    assert {f["status"] for f in json.loads(res.out)["findings"]} == {"accepted_risk"}
    assert "accepted-risk" in scan(cli, tree, db).out
    for doc in (json.loads(scan(cli, tree, db, "-f", "sarif").out),
                json.loads(cli("report", "-f", "sarif", "--db", str(db)).out)):
        jsonschema.validators.validator_for(schema)(schema).validate(doc)
        results = doc["runs"][0]["results"]
        assert len(results) == 3
        assert all(r["suppressions"][0]["kind"] == "external" and "accepted-risk" in
                   r["suppressions"][0]["justification"] for r in results)
    assert "accepted risk" in cli("report", "--db", str(db)).out
    assert cli("report", "--db", str(db), "--status", "open", "-f", "json").out.count(fp) == 0
    assert cli("inventory", "list", "--db", str(db), "--status", "accepted-risk", "-f", "json").out.count(fp) == 1
