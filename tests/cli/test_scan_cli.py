"""The scan command end to end: exit codes, formats, baselines, config, gitleaks import, redaction."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import fake

RULES = str(Path(__file__).parent.parent / "data" / "rules")
KEY = fake("acme_{{gen:alnum:24}}", "cli")
KEY2 = fake("acme_{{gen:alnum:24}}", "cli-2")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "a.py").write_text(f"A = '{KEY}'\n")
    return root


def scan(cli, *args: str):
    return cli("scan", "path", *args, "--rules", RULES, "--no-builtin-rules")


def test_exit_0_when_clean_1_on_findings(tmp_path: Path, tree: Path, cli) -> None:
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "x.txt").write_text("nothing here\n")
    assert scan(cli, str(clean)).code == 0
    assert scan(cli, str(tree)).code == 1
    assert scan(cli, str(tree), "--fail-on", "never").code == 0


def test_exit_2_on_bad_usage(tree: Path, cli) -> None:
    assert cli("scan", "path").code == 2
    assert scan(cli, str(tree), "--format", "xml").code == 2
    assert scan(cli, str(tree), "--fail-on", "sometimes").code == 2
    assert cli("scan", "nowhere").code == 2


@pytest.mark.parametrize("fmt", ["terminal", "json", "jsonl", "sarif"])
def test_no_format_prints_the_raw_secret_unless_asked(tree: Path, cli, fmt: str) -> None:
    res = scan(cli, str(tree), "-f", fmt)
    assert res.code == 1
    assert KEY not in res.out + res.err
    assert KEY[:4] in res.out  # the redacted preview keeps the issuer prefix
    shown = scan(cli, str(tree), "-f", fmt, "--show-secrets")
    if fmt in ("json", "jsonl", "terminal"):
        assert KEY in shown.out


def test_json_finding_fields(tree: Path, cli) -> None:
    doc = json.loads(scan(cli, str(tree), "-f", "json").out)
    assert doc["schema_version"] == "1.2"
    (f,) = doc["findings"]
    assert f["rule_id"] == "t.acme.key"
    assert len(f["fingerprint"]) == 64
    assert f["source"] == "file"
    assert f["location"]["path"].endswith("a.py")
    assert (f["location"]["line"], f["location"]["column"]) == (1, 6)
    assert f["verification"]["status"] == "not_checked"
    assert set(f["nhi"]) >= {"issuer", "kind", "owasp"}
    assert set(f["remediation"]) >= {"revoke", "replace_with", "docs"}


def test_output_file(tree: Path, tmp_path: Path, cli) -> None:
    out = tmp_path / "report.jsonl"
    res = scan(cli, str(tree), "-f", "jsonl", "-o", str(out))
    assert res.code == 1 and res.out == ""
    assert json.loads(out.read_text().splitlines()[0])["rule_id"] == "t.acme.key"


def test_fingerprint_is_keyed_and_stable(tree: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    fp1 = json.loads(scan(cli, str(tree), "-f", "json").out)["findings"][0]["fingerprint"]
    assert fp1 == json.loads(scan(cli, str(tree), "-f", "json").out)["findings"][0]["fingerprint"]
    monkeypatch.setenv("SPRAWLGUARD_FINGERPRINT_KEY", "another-key")
    fp2 = json.loads(scan(cli, str(tree), "-f", "json").out)["findings"][0]["fingerprint"]
    assert fp1 != fp2


def test_key_file_created_0600(tree: Path, cli, monkeypatch: pytest.MonkeyPatch, sg_home: Path) -> None:
    monkeypatch.delenv("SPRAWLGUARD_FINGERPRINT_KEY")
    scan(cli, str(tree))
    key = sg_home / "fingerprint.key"
    assert key.stat().st_mode & 0o777 == 0o600


def test_baseline_fail_on_new(tree: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path / "baseline.json"
    assert scan(cli, str(tree), "--write-baseline", str(base)).code == 1
    assert KEY not in base.read_text()
    # the baseline is portable: another machine (another installation key) reads it the same way
    monkeypatch.setenv("SPRAWLGUARD_FINGERPRINT_KEY", "ci-machine-key")
    assert scan(cli, str(tree), "--baseline", str(base), "--fail-on", "new").code == 0
    (tree / "b.py").write_text(f"B = '{KEY2}'\n")
    res = scan(cli, str(tree), "--baseline", str(base), "--fail-on", "new", "-f", "json")
    assert res.code == 1
    new = {f["location"]["path"].rsplit("/", 1)[-1]: f["new"] for f in json.loads(res.out)["findings"]}
    assert new == {"a.py": False, "b.py": True}


def test_malformed_baseline_is_exit_2(tree: Path, tmp_path: Path, cli) -> None:
    bad = tmp_path / "b.json"
    bad.write_text("{not json")
    res = scan(cli, str(tree), "--baseline", str(bad))
    assert res.code == 2 and "baseline" in res.err


def test_config_file_allowlists(tree: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    (tree / "vendor").mkdir()
    (tree / "vendor" / "lib.py").write_text(f"K = '{KEY2}'\n")
    cfg = tree / ".sprawlguard.yaml"
    cfg.write_text("allowlist:\n  paths: ['vendor/**']\n  values: ['^" + KEY[:12] + "']\n")
    monkeypatch.chdir(tree)
    assert scan(cli, ".").code == 0
    cfg.write_text("allowlist:\n  paths: ['vendor/**']\n")
    assert scan(cli, ".").code == 1


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("allowlist: [1, 2", "not valid YAML"),
        ("colour: blue\n", "unknown key"),
        ("min_confidence: extreme\n", "min_confidence"),
        ("allowlist:\n  values: ['(unclosed']\n", "values"),
    ],
)
def test_malformed_config_is_exit_2(tree: Path, tmp_path: Path, cli, content: str, words: str) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(content)
    res = scan(cli, str(tree), "--config", str(cfg))
    assert res.code == 2, res.err
    assert words in res.err and "cfg.yaml" in res.err


GITLEAKS_TOML = """
title = "custom"
[[rules]]
id = "internal-token"
description = "Internal token"
regex = '''itok_[a-z0-9]{20}'''
keywords = ["itok_"]
entropy = 2.0

[allowlist]
paths = ['''fixtures/''']
regexes = ['''itok_0{20}''']
"""


def test_gitleaks_config_import(tmp_path: Path, cli) -> None:
    root = tmp_path / "r"
    (root / "fixtures").mkdir(parents=True)
    tok = fake("itok_{{gen:lowernum:20}}", "itok")
    (root / "a.txt").write_text(f"t={tok}\n")
    (root / "fixtures" / "b.txt").write_text(f"t={fake('itok_{{gen:lowernum:20}}', 'x')}\n")
    cfg = tmp_path / "gitleaks.toml"
    cfg.write_text(GITLEAKS_TOML)
    res = cli("scan", "path", str(root), "--no-builtin-rules", "--gitleaks-config", str(cfg), "-f", "json")
    findings = json.loads(res.out)["findings"]
    assert [f["rule_id"] for f in findings] == ["gitleaks.internal-token"]
    assert findings[0]["location"]["path"].endswith("a.txt")


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ("[[rules]\nid=1", "not valid TOML"),
        ("[[rules]]\nid = 'x'\nregex = '''(unclosed'''\n", "x"),
        ("[[rules]]\ndescription = 'no id'\nregex = 'a'\n", "id"),
    ],
)
def test_malformed_gitleaks_config_is_exit_2(tree: Path, tmp_path: Path, cli, toml: str, words: str) -> None:
    cfg = tmp_path / "gl.toml"
    cfg.write_text(toml)
    res = cli("scan", "path", str(tree), "--gitleaks-config", str(cfg))
    assert res.code == 2, res.err
    assert words in res.err and "gl.toml" in res.err


def test_min_confidence_option(tmp_path: Path, cli) -> None:
    (tmp_path / "w.txt").write_text(fake("weak_{{gen:lower:10}}") + "\n")
    assert scan(cli, str(tmp_path)).code == 0  # default is medium
    assert scan(cli, str(tmp_path), "--min-confidence", "low").code == 1


def _run_in_pty(args: list[str], ci: str) -> bytes:
    """Run sprawlguard with stdout and stderr on a real pseudo-terminal; return what it drew."""
    env = {**os.environ, "CI": ci, "COLUMNS": "100"}
    pid, fd = pty.fork()
    if pid == 0:  # the child
        os.execve(sys.executable, [sys.executable, "-m", "sprawlguard", *args], env)
    out = b""
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    os.waitpid(pid, 0)
    return out


def test_progress_on_a_terminal_but_not_in_ci(tree: Path) -> None:
    args = ["scan", "path", str(tree), "--rules", RULES, "--no-builtin-rules"]
    assert b"scanning" in _run_in_pty(args, ci="")
    assert b"scanning" not in _run_in_pty(args, ci="true")
    assert b"scanning" not in _run_in_pty([*args, "--no-progress"], ci="")


def test_piped_output_has_no_progress(tree: Path) -> None:
    env = {**os.environ, "CI": ""}
    proc = subprocess.run([sys.executable, "-m", "sprawlguard", "scan", "path", str(tree), "--rules", RULES,
                           "--no-builtin-rules"], capture_output=True, env=env, timeout=60)
    assert b"scanning" not in proc.stderr
    assert proc.returncode == 1


def test_interrupted_scan_exits_130_with_partial_report(tree: Path, tmp_path: Path, cli, monkeypatch) -> None:
    from sprawlguard.sources import files

    real = files.FilesSource._read
    calls = {"n": 0}

    def flaky(self, path, loc):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        yield from real(self, path, loc)

    (tree / "z.py").write_text("nothing\n")
    monkeypatch.setattr(files.FilesSource, "_read", flaky)
    res = scan(cli, str(tree), "-f", "json")
    assert res.code == 130
    doc = json.loads(res.out)
    assert doc["stats"]["interrupted"] is True and len(doc["findings"]) == 1


def test_inline_allow_hides_a_line_unless_auditing(tmp_path: Path, cli) -> None:
    token = fake("acme_{{gen:alnum:24}}", "inline")
    (tmp_path / "app.py").write_text(f"KEY = '{token}'  # sprawlguard:allow\n")
    args = ("scan", "path", str(tmp_path), "--rules", RULES, "--no-builtin-rules", "--no-db", "-f", "jsonl")
    assert cli(*args).code == 0
    audit = cli(*args, "--ignore-inline-allow")
    assert audit.code == 1 and [f["location"]["line"] for f in audit.jsonl()] == [1]


def test_terminal_prints_scanned_names_verbatim(tmp_path: Path, cli) -> None:
    """No rich markup or emoji codes from scanned data: `[bold]` and `:100:` print as they are."""
    token = fake("acme_{{gen:alnum:24}}", "verbatim")
    name = "[bold]x.py"
    (tmp_path / name).write_text("\n" * 99 + f"k = '{token}'\n")
    res = cli("scan", "path", str(tmp_path), "--rules", RULES, "--no-builtin-rules", "--no-db")
    assert res.code == 1
    assert "[bold]x.py:100:" in res.out and "\N{HUNDRED POINTS SYMBOL}" not in res.out
