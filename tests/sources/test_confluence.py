"""`scan confluence` with the real atlassian-python-api clients against the loopback Confluence emulator,
and one secret sprawled over Jira, Confluence history and git."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sprawlguard.detect import engine as engine_mod
from sprawlguard.store.inventory import Inventory
from tests.conftest import fake
from tests.emulators.confluence import ConfluenceEmulator
from tests.emulators.jira import JiraEmulator

RULES = ("--rules", "tests/data/rules", "--no-builtin-rules")
EMAIL, API_TOKEN, PAT = "scanner@example.com", "api-token-not-a-secret", "pat-not-a-secret"
T = "2025-03-01T09:{:02d}:00.000Z"


def key(n: object) -> str:
    return fake("acme_{{gen:alnum:24}}", f"confluence-{n}")


def content(n: int, kind: str = "page", versions: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    bodies = versions or ["<p>nothing</p>"]
    return {"id": str(2000 + n), "type": kind, "space": "ENG", "title": f"Doc {n}",
            "versions": [{"body": b, "author": "alice", "when": T.format(n + i)} for i, b in enumerate(bodies)],
            **extra}


def seed(deployment: str, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"deployment": deployment, "context_path": "/confluence",
            "auth": {"email": EMAIL, "api_token": API_TOKEN, "pat": PAT},
            "users": [{"id": "alice", "displayName": "Alice Ops", "email": "alice@example.com"},
                      {"id": "bob", "displayName": "Bob Dev", "email": "bob@example.com"}],
            "spaces": [{"id": "100", "key": "ENG", "name": "Engineering"}], "content": items, **extra}


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    for p in ("CONFLUENCE", "JIRA"):
        monkeypatch.setenv(f"{p}_EMAIL", EMAIL)
        monkeypatch.setenv(f"{p}_API_TOKEN", API_TOKEN)
        monkeypatch.setenv(f"{p}_PAT", PAT)


def scan(cli, emu: ConfluenceEmulator, db: Path, *args: str):
    flag = "--cloud" if emu.cloud else "--data-center"
    return cli("scan", "confluence", "--url", emu.base, flag, *RULES, "-f", "jsonl", "--db", str(db), *args)


def rich_page() -> dict[str, Any]:
    code = (f'<p>Deploy notes</p><ac:structured-macro ac:name="expand"><ac:rich-text-body>'
            f'<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[# setup\nexport ACME={key("code")}]]>'
            f'</ac:plain-text-body></ac:structured-macro></ac:rich-text-body></ac:structured-macro>'
            f'<table><tr><td>prod key</td><td><p>{key("table")}</p></td></tr></table>')
    return content(1, versions=[f"<p>draft</p><p>ACME={key('old')}</p>", code],
                   comments=[{"id": "c1", "location": "footer", "body": f"<p>use {key('footer')}</p>",
                              "author": "bob", "when": T.format(5)},
                             {"id": "c2", "location": "inline", "body": "<p>why?</p>", "author": "bob",
                              "when": T.format(5)},
                             {"id": "c3", "location": "inline", "body": f"<p>this: {key('reply')}</p>",
                              "author": "alice", "when": T.format(6), "parent": "c2"}],
                   attachments=[{"id": "att9", "title": "app.env", "mediaType": "text/plain",
                                 "content": f"ACME={key('attachment')}\n", "author": "bob", "when": T.format(3)},
                                {"id": "att8", "title": "logo.png", "mediaType": "image/png", "content": "PNG"}])


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
def test_pages_blogs_versions_comments_attachments(deployment: str, cli, tmp_path: Path) -> None:
    items = [rich_page(), content(2, "blogpost", [f"<p>{key('blog')}</p>"]), content(3), content(4)]
    with ConfluenceEmulator(seed(deployment, items, max_page=2)) as emu:
        res = scan(cli, emu, tmp_path / "inv.db")
        journal = list(emu.journal)
        site = emu.base
    assert res.code == 1, res.err
    found = {f["location"]["path"]: f for f in res.jsonl()}
    assert set(found) == {"ENG/Doc 1", "ENG/Doc 1@v1", "ENG/Doc 1/comment/c1", "ENG/Doc 1/comment/c3",
                          "ENG/Doc 1/attachment/app.env", "ENG/Doc 2"}
    old = found["ENG/Doc 1@v1"]["location"]
    assert old["uri"] == f"{site}/pages/viewpage.action?pageId=2001&pageVersion=1"
    assert (old["historic"], old["version"], old["line"]) == ("true", "1", 2)
    cur = [f for f in res.jsonl() if f["location"]["path"] == "ENG/Doc 1"]
    assert len(cur) == 2 and {f["location"]["historic"] for f in cur} == {"false"}  # code macro + table
    reply = found["ENG/Doc 1/comment/c3"]["location"]
    assert reply["comment_location"] == "inline" and reply["comment_id"] == "c3"
    assert found["ENG/Doc 2"]["location"]["content_type"] == "blogpost"
    paths = [r.path for r in journal]
    if deployment == "cloud":
        assert all(p.startswith("/wiki/") for p in paths)
        assert "/wiki/api/v2/pages" in paths and "/wiki/api/v2/blogposts" in paths
        assert any(r.path == "/wiki/api/v2/pages" and "cursor" in r.query for r in journal)  # followed _links.next
        assert "/wiki/api/v2/inline-comments/c2/children" in paths
        assert not any(p.startswith("/wiki/rest/api/content") for p in paths)  # no retired v1 crawl
    else:
        assert "/confluence/rest/api/search" in paths
        assert any(r.path == "/confluence/rest/api/search" and r.query.get("start") == ["2"] for r in journal)
        assert all(r.headers.get("authorization") == f"Bearer {PAT}" for r in journal)
        assert found["ENG/Doc 1/comment/c1"]["location"]["author"] == "Bob Dev <bob@example.com>"
    assert not any("logo.png" in p for p in paths)
    assert API_TOKEN not in res.out + res.err and PAT not in res.out + res.err


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
def test_second_run_reads_only_changed_pages_and_reports_removed_secret_as_historic(
        deployment: str, cli, tmp_path: Path) -> None:
    db = tmp_path / "inv.db"
    items = [content(n, versions=[f"<p>k {key(n)}</p>"]) for n in range(1, 6)]
    with ConfluenceEmulator(seed(deployment, items, max_page=2)) as emu:
        assert scan(cli, emu, db).code == 1
        emu.edit("2003", "<p>k removed</p>", author="bob")
        emu.journal.clear()
        second = scan(cli, emu, db)
        read = sorted({r.path for r in emu.journal if r.path.rstrip("/").split("/")[-1].startswith("200")})
    assert second.code == 1
    assert read == ([f"{emu.ctx}/api/v2/pages/2003"] if deployment == "cloud" else [f"{emu.ctx}/rest/api/content/2003"])
    (f,) = second.jsonl()
    assert f["location"]["path"] == "ENG/Doc 3@v1" and f["location"]["historic"] == "true"
    with Inventory(db) as inv:
        rows = inv.db.execute("SELECT uri, historic FROM exposures").fetchall()
    assert len(rows) == 6 and sum(r[1] for r in rows) == 1


def test_cloud_cql_uses_v1_search_then_v2(cli, tmp_path: Path) -> None:
    items = [content(1, versions=[f"<p>{key(1)}</p>"]), content(2, versions=[f"<p>{key(2)}</p>"])]
    items[1]["space"] = "OPS"
    with ConfluenceEmulator(seed("cloud", items, spaces=[{"id": "100", "key": "ENG"}, {"id": "200", "key": "OPS"}])) as emu:
        res = scan(cli, emu, tmp_path / "inv.db", "--cql", "space = OPS")
        paths = [r.path for r in emu.journal]
    assert res.code == 1
    assert [f["location"]["path"] for f in res.jsonl()] == ["OPS/Doc 2"]
    assert "/wiki/rest/api/search" in paths and "/wiki/api/v2/pages/2002" in paths


def test_resume_after_injected_crash(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "inv.db"
    items = [content(n, versions=[f"<p>k {key(n)}</p>"]) for n in range(1, 11)]
    monkeypatch.setattr("sprawlguard.pipeline.FLUSH_EVERY", 0.0)
    real = engine_mod.Engine.scan
    calls = {"n": 0}

    def crashing(self, chunk):
        calls["n"] += 1
        if calls["n"] == 6:
            raise RuntimeError("injected crash")
        return real(self, chunk)

    with ConfluenceEmulator(seed("cloud", items, max_page=3)) as emu:
        monkeypatch.setattr(engine_mod.Engine, "scan", crashing)
        assert scan(cli, emu, db).code == 3
        with Inventory(db) as inv:
            (state,) = [inv.get_checkpoint(r[0]) for r in inv.db.execute("SELECT source_key FROM checkpoints")]
        done = set(state["done"])
        assert 2 <= len(done) < 10 and state["watermark"] is None  # newest first: moves only at the end
        monkeypatch.setattr(engine_mod.Engine, "scan", real)
        emu.journal.clear()
        assert scan(cli, emu, db).code == 1
        reread = [r.path.rsplit("/", 1)[1] for r in emu.journal
                  if r.path.startswith("/wiki/api/v2/pages/") and r.path.count("/") == 5]
    assert len(reread) == len(set(reread))
    assert not set(reread) & done and set(reread) | done == {str(2000 + n) for n in range(1, 11)}
    with Inventory(db) as inv:
        uris = [r[0] for r in inv.db.execute("SELECT uri FROM exposures")]
    assert len(uris) == len(set(uris)) == 10


def test_rate_limit_and_bad_token(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with ConfluenceEmulator(seed("datacenter", [content(1, versions=[f"<p>{key(1)}</p>"])])) as emu:
        emu.rate_limit("/confluence/rest/api/content/2001", retry_after=1, times=1)
        ok = scan(cli, emu, tmp_path / "a.db")
        hits = [r for r in emu.journal if r.path == "/confluence/rest/api/content/2001"]
        monkeypatch.setenv("CONFLUENCE_PAT", "wrong-pat-value")
        bad = scan(cli, emu, tmp_path / "b.db")
    assert ok.code == 1 and len(hits) == 2
    assert bad.code == 3 and "authentication failed (401)" in bad.err and "wrong-pat-value" not in bad.err


def test_one_token_in_jira_comment_confluence_history_and_git_is_one_secret_three_exposures(
        cli, tmp_path: Path) -> None:
    token = fake("acme_{{gen:alnum:24}}", "sprawl")
    db = tmp_path / "inv.db"
    jira_seed = {"deployment": "cloud", "auth": {"email": EMAIL, "api_token": API_TOKEN},
                 "users": [{"id": "alice", "displayName": "Alice Ops", "email": "alice@example.com"}],
                 "issues": [{"id": "10001", "key": "OPS-1", "summary": "deploy", "reporter": "alice",
                             "created": "2025-03-01T09:00:00.000+0000", "updated": "2025-03-01T09:00:00.000+0000",
                             "comments": [{"id": "501", "author": "alice", "body": f"use {token}",
                                           "created": "2025-03-01T09:00:00.000+0000"}]}]}
    page = content(1, versions=[f"<p>ACME={token}</p>", "<p>rotated, see vault</p>"])
    repo = tmp_path / "repo"
    repo.mkdir()
    genv = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}
    (repo / "app.env").write_text(f"ACME={token}\n")
    for args in (["init", "-q", "-b", "main"], ["add", "app.env"], ["commit", "-q", "-m", "add"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=genv, capture_output=True)
    with JiraEmulator(jira_seed) as jira, ConfluenceEmulator(seed("cloud", [page])) as conf:
        assert cli("scan", "jira", "--url", jira.base, "--cloud", *RULES, "--db", str(db)).code == 1
        assert scan(cli, conf, db).code == 1
    assert cli("scan", "git", str(repo), *RULES, "--db", str(db)).code == 1
    with Inventory(db) as inv:
        (secret,) = inv.list_secrets()
        exposures = inv.show(secret["fingerprint"])["exposures"]
    assert secret["exposures"] == 3
    assert sorted((e["source"], e["historic"]) for e in exposures) == [
        ("confluence", True), ("git", False), ("jira", False)]
    html = cli("report", "--format", "html", "--db", str(db))
    assert html.code == 0, html.err
    assert html.out.count('class="secret"') == 1 and "Exposures (3)" in html.out
    for where in ("OPS-1/comment/501", "ENG/Doc 1@v1", "app.env"):
        assert where in html.out
    assert token not in html.out


@pytest.mark.parametrize("module,filename", [("jira", "jira.json"), ("confluence", "confluence.json")])
def test_emulators_run_standalone_from_a_data_directory(module: str, filename: str, tmp_path: Path) -> None:
    import json
    import sys
    import urllib.request

    data = {"deployment": "datacenter", "context_path": "/ctx", "auth": {"pat": PAT},
            "users": [{"id": "alice"}], "issues": [], "content": [], "seed": 1,
            "note": "value {{gen:alnum:8}} expanded at load time"}
    (tmp_path / filename).write_text(json.dumps(data))
    proc = subprocess.Popen([sys.executable, "-m", f"tests.emulators.{module}", "--data", str(tmp_path)],
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    try:
        url = (proc.stdout.readline() if proc.stdout else "").strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/ctx")
        me = "/rest/api/2/myself" if module == "jira" else "/rest/api/user/current"
        req = urllib.request.Request(url + me, headers={"Authorization": f"Bearer {PAT}"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=10) as resp:
            assert resp.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
