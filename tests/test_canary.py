"""Canary: fake secrets of every built-in rule are scanned from files, git history and a log into one
inventory, then every output sprawlguard can produce is searched for the raw values.

Nothing may contain them: stdout, stderr, -vv log output, the SQLite file (and its journal), JSON,
JSONL, SARIF, HTML, terminal, CSV and JSON exports, reports from the inventory, the baseline files.
A control run with --show-secrets proves the search finds a value when it is there.
"""

from __future__ import annotations

import html
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sprawlguard.detect.rules import builtin_rules_dir, load_rules
from sprawlguard.govern.fingerprint import fingerprint
from sprawlguard.store.inventory import Inventory
from tests.fixtures.generate import Planted, plant_rule_examples
from tests.sources.test_git import commit, git

GIT_SAMPLE = 25  # planted files also committed to a repository (history scan)


#: Text shipped in the rule files is public (PEM armour, PuTTY headers): never a leaked value.
PUBLIC = "\n".join(p.read_text(encoding="utf-8") for p in sorted(builtin_rules_dir().glob("*.yaml")))


def needles(value: str) -> set[str]:
    """The raw value as it would appear if leaked into text, JSON, HTML or CSV."""
    forms = {value, json.dumps(value)[1:-1], html.escape(value), value.replace('"', '""')}
    # a multi-line value (a PEM key) leaks just as badly one generated line at a time
    forms |= {line.strip() for line in value.splitlines() if len(line.strip()) >= 16}
    return {f for f in forms if len(f) >= 6 and f not in PUBLIC}  # 6: short test secrets (secret_word_*)


def leaks(planted: list[Planted], blobs: dict[str, bytes]) -> list[str]:
    found = []
    for p in planted:
        for needle in needles(p.secret):
            for name, blob in blobs.items():
                if needle.encode() in blob:
                    found.append(f"{p.rule_id}: raw value in {name}")
    return found


@pytest.fixture
def fixtures(tmp_path: Path) -> tuple[Path, Path, bytes, list[Planted]]:
    files = tmp_path / "files"
    planted = plant_rule_examples(files, load_rules())
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    sample = planted[:: max(1, len(planted) // GIT_SAMPLE)]
    for i, p in enumerate(sample):
        commit(repo, {f"conf/{i}/{Path(p.path).name}": (files / p.path).read_text()}, f"add {i}")
    log = "".join(f"2025-05-01T12:00:{i % 60:02d}Z step {i}: {(files / p.path).read_text()}"
                  for i, p in enumerate(sample)).encode()
    return files, repo, log, planted


def test_raw_values_appear_in_no_output(fixtures, tmp_path: Path, cli, caplog: pytest.LogCaptureFixture,
                                        monkeypatch: pytest.MonkeyPatch, sg_home: Path) -> None:
    files, repo, log, planted = fixtures
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "inv.sqlite3"
    out = tmp_path / "out"
    out.mkdir()
    common = ("--db", str(db), "--min-confidence", "low", "--no-verify")
    texts: dict[str, str] = {}

    # the real console entry point at -vv: stdout, stderr and log output of a separate process
    proc = subprocess.run([sys.executable, "-m", "sprawlguard", "-vv", "scan", "path", str(files), *common,
                           "--write-baseline", str(out / "written-baseline.json")],
                          capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ), timeout=600)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "DEBUG" in proc.stderr and "secret(s) recorded in" in proc.stderr  # -vv logging really ran
    texts["-vv stdout"], texts["-vv stderr"] = proc.stdout, proc.stderr

    for fmt in ("json", "jsonl", "sarif", "html", "terminal"):
        res = cli("scan", "path", str(files), *common, "-f", fmt, "-o", str(out / f"scan.{fmt}"))
        assert res.code == 1, res.err
        texts[f"scan {fmt} stdout+stderr"] = res.out + res.err
    res = cli("scan", "git", str(repo), *common, "-f", "json")
    assert res.code == 1, res.err
    texts["scan git"] = res.out + res.err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(log)))
    res = cli("scan", "stdin", "--label", "ci/job-7.log", *common, "-f", "jsonl")
    assert res.code == 1, res.err
    texts["scan stdin"] = res.out + res.err
    res = cli("baseline", "create", str(out / "baseline.json"), str(files))
    assert res.code == 0, res.err
    texts["baseline create"] = res.out + res.err + cli("baseline", "show", str(out / "baseline.json")).out

    # the planted secrets are in the inventory, so the search below is over real findings (that each
    # one is found at its place is test_fixture_trees' job)
    key = os.environ["SPRAWLGUARD_FINGERPRINT_KEY"].encode()
    with Inventory(db) as inv:
        rows = inv.list_secrets()
        stored = {r["fingerprint"] for r in rows}
        sources = {r[0] for r in inv.db.execute("SELECT DISTINCT source FROM exposures")}
    missing = [p.rule_id for p in planted if fingerprint(p.secret, key) not in stored]
    assert len(missing) <= len(planted) // 20, missing
    assert {"file", "git", "stdin"} <= sources
    assert len({p.rule_id for p in planted}) >= 50  # many rule types, not one rule many times

    fp = rows[0]["fingerprint"]
    assert cli("triage", fp[:12], "--status", "false-positive", "--note", "canary", "--db", str(db)).code == 0
    for args in (("inventory", "list"), ("inventory", "list", "-f", "json"), ("inventory", "export"),
                 ("inventory", "export", "-f", "csv"), ("report", "-f", "html"), ("report", "-f", "json"),
                 ("report", "-f", "sarif")):
        res = cli(*args, "--db", str(db))
        assert res.code == 0, res.err
        texts[" ".join(args)] = res.out + res.err
    for r in rows:
        texts[f"inventory show {r['fingerprint'][:8]}"] = cli("inventory", "show", r["fingerprint"],
                                                             "--db", str(db)).out

    blobs = {name: text.encode() for name, text in texts.items()}
    blobs["log records"] = caplog.text.encode()
    blobs |= {f"file {p.name}": p.read_bytes() for p in out.iterdir()}
    blobs |= {f"database {p.name}": p.read_bytes() for p in db.parent.glob(db.name + "*")}
    blobs |= {f"data dir {p.name}": p.read_bytes() for p in sg_home.rglob("*")
              if p.is_file() and p.suffix in (".sqlite3", ".json", ".log")}
    assert len(blobs) > 20
    assert leaks(planted, blobs) == []

    # control: the same search finds the values when they are printed on purpose
    shown = cli("scan", "path", str(files), "--no-db", "--min-confidence", "low", "-f", "json", "--show-secrets")
    assert [p.rule_id for p in planted if not leaks([p], {"control": shown.out.encode()})] == []
