"""Verification through the CLI: defaults, --fail-on live, caching in the inventory, `verify`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import fake

GH = "ghp_{{gen:alnum:30}}{{checksum:github}}"


def write(tmp_path: Path, token: str, name: str = "ci.env") -> Path:
    p = tmp_path / "src" / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f"GITHUB_TOKEN={token}\n")
    return p.parent


def findings(res) -> list[dict]:
    return json.loads(res.out)["findings"]


def test_fail_on_live_exits_1_only_for_a_live_secret(issuers, cli, tmp_path) -> None:
    live, dead = fake(GH, "live"), fake(GH, "dead")
    issuers.github[live] = {"login": "octo", "scopes": "repo"}
    res = cli("scan", "path", str(write(tmp_path / "a", dead)), "-f", "json", "--fail-on", "live")
    assert res.code == 0 and findings(res)[0]["verification"]["status"] == "dead"
    res = cli("scan", "path", str(write(tmp_path / "b", live)), "-f", "json", "--fail-on", "live")
    assert res.code == 1
    v = findings(res)[0]["verification"]
    assert (v["status"], v["reason"], v["identity"]["login"]) == ("live", "200 from api.github.com", "octo")
    assert live not in res.out + res.err


def test_no_verify_and_offline_send_nothing(issuers, cli, tmp_path) -> None:
    token = fake(GH, 1)
    issuers.github[token] = {"login": "octo"}
    d = write(tmp_path, token)
    res = cli("scan", "path", str(d), "-f", "json", "--no-verify", "--fail-on", "live")
    assert res.code == 0 and findings(res)[0]["verification"]["status"] == "not_checked"
    res = cli("scan", "path", str(d), "-f", "json", "--offline", "--no-db")
    assert findings(res)[0]["verification"]["status"] == "skipped"
    assert issuers.journal == []


def test_cached_verdict_makes_no_second_request_and_history_is_kept(issuers, cli, tmp_path) -> None:
    token = fake(GH, 2)
    issuers.github[token] = {"login": "octo"}
    d, db = write(tmp_path, token), str(tmp_path / "inv.sqlite3")
    first = cli("scan", "path", str(d), "-f", "json", "--db", db, "--store-values")
    second = cli("scan", "path", str(d), "-f", "json", "--db", db)
    assert len(issuers.journal) == 1
    assert findings(first)[0]["verification"] == findings(second)[0]["verification"]
    fp = findings(first)[0]["fingerprint"]
    show = cli("inventory", "show", fp[:12], "--db", db, "-f", "json")
    assert [v["status"] for v in json.loads(show.out)["verdicts"]] == ["live"]
    # `verify` re-checks from the stored value; the issuer now says revoked
    del issuers.github[token]
    res = cli("verify", fp[:12], "--db", db, "--no-cache", "-f", "json")
    assert json.loads(res.out)[0]["status"] == "dead" and len(issuers.journal) == 2
    show = cli("inventory", "show", fp[:12], "--db", db, "-f", "json")
    assert [v["status"] for v in json.loads(show.out)["verdicts"]] == ["live", "dead"]


def test_verify_says_why_without_a_stored_value(issuers, cli, tmp_path) -> None:
    token = fake(GH, 3)
    db = str(tmp_path / "inv.sqlite3")
    cli("scan", "path", str(write(tmp_path, token)), "--db", db, "--no-verify")
    res = cli("verify", "--all", "--db", db)
    assert res.code == 0 and "raw value is not stored" in res.out and issuers.journal == []
    stale = cli("verify", "--stale", "1", "--db", db, "-f", "json")
    assert len(json.loads(stale.out)) == 1


def test_gcp_key_file_urls_are_never_used(issuers, cli, tmp_path, rsa_key) -> None:
    email = "ci@acme-dev.iam.gserviceaccount.com"
    issuers.gcp[email] = {"k1": rsa_key.certificate_pem()}
    doc = {"type": "service_account", "project_id": "acme-dev", "private_key_id": "ab" * 20,
           "private_key": rsa_key.pkcs8_pem(), "client_email": email,
           "token_uri": "https://collector.evil.example/token",
           "client_x509_cert_url": "https://collector.evil.example/x509"}
    (tmp_path / "sa.json").write_text(json.dumps(doc, indent=2))
    res = cli("scan", "path", str(tmp_path / "sa.json"), "-f", "json", "--no-db")
    (f,) = [x for x in findings(res) if x["rule_id"] == "sg.gcp.service_account_key"]
    assert f["verification"]["status"] == "live"
    assert issuers.hosts() == {"www.googleapis.com"}


def test_scan_staged_never_verifies(issuers, cli, tmp_path, monkeypatch) -> None:
    token = fake(GH, 4)
    issuers.github[token] = {"login": "octo"}
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "ci.env").write_text(f"GITHUB_TOKEN={token}\n")
    subprocess.run(["git", "-C", str(repo), "add", "ci.env"], check=True)
    res = cli("scan", "staged", str(repo), "-f", "json", "--fail-on", "live")
    assert res.code == 0 and issuers.journal == []
