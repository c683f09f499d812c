"""`scan jira` with the real atlassian-python-api client against the loopback Jira emulator."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from sprawlguard.detect import engine as engine_mod
from sprawlguard.sources import atlassian_common
from sprawlguard.sources.atlassian_common import adf_to_text, storage_to_text, wiki_to_text
from sprawlguard.store.inventory import Inventory
from tests.conftest import fake
from tests.emulators.jira import JiraEmulator

RULES = ("--rules", "tests/data/rules", "--no-builtin-rules")
EMAIL, API_TOKEN, PAT = "scanner@example.com", "api-token-not-a-secret", "pat-not-a-secret"
T0 = "2025-03-01T09:{:02d}:00.000+0000"


def key(n: object) -> str:
    return fake("acme_{{gen:alnum:24}}", f"jira-{n}")


def issue(n: int, **extra: Any) -> dict[str, Any]:
    base = {"id": str(10000 + n), "key": f"OPS-{n}", "project": "OPS", "summary": f"issue {n}",
            "description": "nothing here", "reporter": "alice", "assignee": "bob",
            "created": T0.format(0), "updated": T0.format(n)}
    return {**base, **extra}


def seed(deployment: str, issues: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"deployment": deployment, "context_path": "/jira",
            "auth": {"email": EMAIL, "api_token": API_TOKEN, "pat": PAT},
            "users": [{"id": "alice", "displayName": "Alice Ops", "email": "alice@example.com"},
                      {"id": "bob", "displayName": "Bob Dev", "email": "bob@example.com"},
                      {"id": "carol", "displayName": "Carol Sec", "email": "carol@example.com"}],
            "me": "carol", "issues": issues, **extra}


def rich_issue() -> dict[str, Any]:
    """One issue with a secret in every place the source reads."""
    adf = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "see the ",
                                           }, {"type": "text", "text": "dashboard", "marks": [
                                               {"type": "link", "attrs": {"href": f"https://x.example/?k={key('link')}"}}]}]},
        {"type": "codeBlock", "content": [{"type": "text", "text": f"export ACME={key('desc')}"}]}]}
    comments = [{"id": str(500 + i), "author": "bob", "body": f"note {i}", "created": T0.format(1)} for i in range(24)]
    comments.append({"id": "599", "author": "carol", "body": f"try {key('comment')}", "created": T0.format(2)})
    return issue(1, description=adf, fields={"customfield_10010": f"cfg {key('custom')}"},
                 comments=comments,
                 worklogs=[{"id": "701", "author": "bob", "comment": f"rotated {key('worklog')}",
                            "started": T0.format(1)}],
                 history=[{"id": "801", "author": "alice", "created": T0.format(1),
                           "items": [{"field": "description", "fieldId": "description",
                                      "fromString": f"first draft\nACME={key('history')}", "toString": "x"}]}],
                 attachments=[{"id": "901", "filename": "prod.env", "mimeType": "text/plain",
                               "content": f"ACME_KEY={key('attachment')}\n", "author": "alice",
                               "created": T0.format(1)},
                              {"id": "902", "filename": "shot.png", "mimeType": "image/png", "content": "PNG"},
                              {"id": "903", "filename": "huge.log", "mimeType": "text/plain",
                               "content": f"{key('huge')}\n" + "x" * 3000}])


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    for name in ("JIRA_EMAIL", "JIRA_API_TOKEN", "JIRA_PAT", "ATLASSIAN_EMAIL", "ATLASSIAN_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JIRA_EMAIL", EMAIL)
    monkeypatch.setenv("JIRA_API_TOKEN", API_TOKEN)
    monkeypatch.setenv("JIRA_PAT", PAT)


def scan(cli, emu: JiraEmulator, db: Path, *args: str):
    flag = "--cloud" if emu.cloud else "--data-center"
    return cli("scan", "jira", "--url", emu.base, flag, *RULES, "-f", "jsonl", "--db", str(db), *args)


def by_path(findings: list[dict]) -> dict[str, dict]:
    return {f["location"]["path"]: f for f in findings}


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
def test_every_place_of_an_issue_with_exact_locations(deployment: str, cli, tmp_path: Path) -> None:
    with JiraEmulator(seed(deployment, [rich_issue(), issue(2)])) as emu:
        res = scan(cli, emu, tmp_path / "inv.db", "--max-attachment-size", "1KB")
        journal = list(emu.journal)
        site = emu.base
    assert res.code == 1, res.err
    found = by_path(res.jsonl())
    assert set(found) == {"OPS-1/description", "OPS-1/customfield_10010", "OPS-1/comment/599",
                          "OPS-1/worklog/701", "OPS-1/history/801/description", "OPS-1/attachment/901/prod.env"}
    c = found["OPS-1/comment/599"]["location"]
    assert c["uri"] == c["permalink"] == f"{site}/browse/OPS-1?focusedCommentId=599"
    assert (c["issue"], c["field"], c["comment_id"], c["historic"]) == ("OPS-1", "comment", "599", "false")
    assert c["author"] == "Carol Sec <carol@example.com>" and c["when"] == T0.format(2)
    assert c["site"] == site and c["reporter"] == "Alice Ops <alice@example.com>"
    assert c["assignee"] == "Bob Dev <bob@example.com>"
    hints = found["OPS-1/comment/599"]["nhi"]["owner_hints"]
    assert {"jira author: Carol Sec <carol@example.com>", "jira reporter: Alice Ops <alice@example.com>",
            "jira assignee: Bob Dev <bob@example.com>"} <= set(hints)
    h = found["OPS-1/history/801/description"]["location"]
    assert h["historic"] == "true" and h["author"] == "Alice Ops <alice@example.com>" and h["line"] == 2
    assert found["OPS-1/description"]["location"]["historic"] == "false"
    assert found["OPS-1/attachment/901/prod.env"]["location"]["line"] == 1
    paths = [r.path for r in journal]
    if deployment == "cloud":
        assert "/rest/api/3/search/jql" in paths and "/rest/api/3/search" not in paths
        # 25 comments: 20 embedded, the rest paged from the comment endpoint
        pages = [r.query for r in journal if r.path == "/rest/api/3/issue/OPS-1/comment"]
        assert pages and pages[0]["startAt"] == ["20"]
        media = [r for r in journal if r.path.startswith("/media/")]
        assert [r.path for r in media] == ["/media/901/download"]
        assert all("authorization" not in r.headers for r in media)  # not forwarded off-site
        # the ADF link target was read too
        assert any(f["location"]["path"] == "OPS-1/description" and f["occurrences"] >= 1 for f in res.jsonl())
    else:
        assert "/jira/rest/api/2/search" in paths and "/jira/secure/attachment/901/prod.env" in paths
        assert all(r.headers.get("authorization") == f"Bearer {PAT}" for r in journal if "/rest/" in r.path)
    assert not any("902" in p or "903" in p for p in paths)  # not text-like / too large: never downloaded
    assert API_TOKEN not in res.out + res.err and PAT not in res.out + res.err


def test_adf_link_targets_are_scanned(cli, tmp_path: Path) -> None:
    with JiraEmulator(seed("cloud", [rich_issue()])) as emu:
        res = scan(cli, emu, tmp_path / "inv.db", "-f", "json")
    assert res.code == 1
    redacted = {f["fingerprint"] for f in json.loads(res.out)["findings"] if f["location"]["path"] == "OPS-1/description"}
    assert len(redacted) == 2  # the code block and the link href


def test_retired_search_endpoint_answers_410_and_is_never_used(tmp_path: Path) -> None:
    from atlassian import JiraCloud
    from requests import HTTPError

    with JiraEmulator(seed("cloud", [issue(1)])) as emu:
        client = JiraCloud(emu.base, username=EMAIL, password=API_TOKEN)
        with pytest.raises(HTTPError) as err:
            client.search_for_issues_using_jql(jql="project = OPS")
        assert err.value.response.status_code == 410
        assert "/rest/api/3/search/jql" in str(err.value)
        assert client.enhanced_jql("project = OPS", fields=["updated"])["issues"][0]["key"] == "OPS-1"
        with pytest.raises(HTTPError) as unbounded:
            client.enhanced_jql("", fields=["updated"])
        assert unbounded.value.response.status_code == 400


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
def test_second_run_fetches_only_changed_issues_and_keeps_history(deployment: str, cli, tmp_path: Path) -> None:
    db = tmp_path / "inv.db"
    issues = [issue(n, description=f"token {key(n)}") for n in range(1, 7)]
    with JiraEmulator(seed(deployment, issues, max_page=2)) as emu:
        first = scan(cli, emu, db)
        assert first.code == 1, first.err
        assert len(first.jsonl()) == 6
        v = "3" if emu.cloud else "2"
        emu.edit_issue("OPS-2", author="bob", description="token removed")
        emu.add_comment("OPS-5", f"new one {key('late')}", author="alice")
        emu.journal.clear()
        second = scan(cli, emu, db)
        fetched = sorted(r.path.rsplit("/", 1)[1] for r in emu.journal
                         if r.path.startswith(f"{emu.ctx}/rest/api/{v}/issue/") and r.path.count("/") == 5 + (not emu.cloud))
        searches = [r.query.get("jql", [""])[0] for r in emu.journal if r.path.endswith(("/search", "/search/jql"))]
    assert fetched == ["OPS-2", "OPS-5"], fetched
    assert searches and all('updated >= "2025/03/01 08:5' in q for q in searches), searches
    got = by_path(second.jsonl())
    assert set(got) == {"OPS-2/history/90000/description", "OPS-5/description", "OPS-5/comment/50000"}
    assert got["OPS-2/history/90000/description"]["location"]["historic"] == "true"
    with Inventory(db) as inv:
        rows = inv.db.execute("SELECT path, historic FROM exposures ORDER BY path").fetchall()
    assert len(rows) == 8 and len({r[0] for r in rows}) == 8  # nothing duplicated
    assert ("OPS-2/history/90000/description", 1) in [tuple(r) for r in rows]


def test_resume_after_injected_crash_loses_and_duplicates_nothing(cli, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "inv.db"
    issues = [issue(n, description=f"token {key(n)}") for n in range(1, 13)]
    monkeypatch.setattr("sprawlguard.pipeline.FLUSH_EVERY", 0.0)
    real = engine_mod.Engine.scan
    calls = {"n": 0}

    def crashing(self, chunk):  # the 15th chunk (issue 7 or 8) brings the process down
        calls["n"] += 1
        if calls["n"] == 15:
            raise RuntimeError("injected crash")
        return real(self, chunk)

    with JiraEmulator(seed("cloud", issues, max_page=5)) as emu:
        monkeypatch.setattr(engine_mod.Engine, "scan", crashing)
        crashed = scan(cli, emu, db)
        assert crashed.code == 3 and "injected crash" in crashed.err
        with Inventory(db) as inv:
            done = set((inv.get_checkpoint(next(iter(
                r[0] for r in inv.db.execute("SELECT source_key FROM checkpoints")))) or {})["done"])
            kept = {r[0] for r in inv.db.execute("SELECT path FROM exposures")}
        assert 3 <= len(done) < 12 and len(kept) >= len(done)
        monkeypatch.setattr(engine_mod.Engine, "scan", real)
        emu.journal.clear()
        resumed = scan(cli, emu, db)
        refetched = {r.path.rsplit("/", 1)[1] for r in emu.journal
                     if r.path.startswith("/rest/api/3/issue/") and r.path.count("/") == 5}
    assert resumed.code == 1
    done_keys = {f"OPS-{int(i) - 10000}" for i in done}
    assert not refetched & done_keys  # finished issues are not read again
    assert refetched | done_keys == {f"OPS-{n}" for n in range(1, 13)}  # and none is lost
    with Inventory(db) as inv:
        paths = [r[0] for r in inv.db.execute("SELECT path FROM exposures")]
        (count,) = inv.db.execute("SELECT COUNT(*) FROM secrets").fetchone()
    assert sorted(paths) == sorted(f"OPS-{n}/description" for n in range(1, 13))
    assert count == 12


def test_429_with_retry_after_is_honoured(cli, tmp_path: Path) -> None:
    with JiraEmulator(seed("cloud", [issue(1, description=f"t {key(1)}")])) as emu:
        emu.rate_limit("/rest/api/3/search/jql", retry_after=1, times=2)
        started = time.monotonic()
        res = scan(cli, emu, tmp_path / "inv.db")
        elapsed = time.monotonic() - started
        searches = [r for r in emu.journal if r.path == "/rest/api/3/search/jql"]
    assert res.code == 1, res.err
    assert len(searches) == 3 and elapsed >= 2.0
    assert [f["location"]["path"] for f in res.jsonl()] == ["OPS-1/description"]


def test_rate_limit_budget_spent_stops_cleanly_and_resumes(cli, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(atlassian_common, "MAX_RETRIES", 1)
    db = tmp_path / "inv.db"
    issues = [issue(n, description=f"token {key(n)}") for n in range(1, 5)]
    with JiraEmulator(seed("cloud", issues)) as emu:
        emu.rate_limit("/rest/api/3/issue/OPS-3", retry_after=1, times=5)
        first = scan(cli, emu, db)
        assert first.code == 3 and "still rate limited" in first.err
        assert sorted(f["location"]["path"] for f in first.jsonl()) == ["OPS-1/description", "OPS-2/description"]
        emu.journal.clear()
        emu._faults.clear()
        second = scan(cli, emu, db)
        fetched = sorted(r.path.rsplit("/", 1)[1] for r in emu.journal if r.path.startswith("/rest/api/3/issue/"))
    assert second.code == 1
    assert fetched == ["OPS-3", "OPS-4"]


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
def test_bad_credentials_are_a_clear_error_without_the_token(deployment: str, cli, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIRA_API_TOKEN", "wrong-token-value")
    monkeypatch.setenv("JIRA_PAT", "wrong-pat-value")
    with JiraEmulator(seed(deployment, [issue(1)])) as emu:
        res = scan(cli, emu, tmp_path / "inv.db")
    assert res.code == 3
    assert "authentication failed (401)" in res.err
    assert "wrong-token-value" not in res.err + res.out and "wrong-pat-value" not in res.err + res.out


def test_missing_credentials_is_a_usage_error(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JIRA_EMAIL", "JIRA_API_TOKEN", "JIRA_PAT"):
        monkeypatch.delenv(name)
    res = cli("scan", "jira", "--url", "http://127.0.0.1:9", "--no-db")
    assert res.code == 2 and "JIRA_API_TOKEN" in res.err


def test_token_revoked_mid_scan_and_forbidden_issue(cli, tmp_path: Path) -> None:
    db = tmp_path / "inv.db"
    issues = [issue(n, description=f"token {key(n)}") for n in range(1, 5)]
    with JiraEmulator(seed("cloud", issues)) as emu:
        emu.fail("/rest/api/3/issue/OPS-2", 403, body={"errorMessages": ["no"]})
        emu.fail("/rest/api/3/issue/OPS-4", 401, body={"errorMessages": ["expired"]})
        first = scan(cli, emu, db)
        assert first.code == 3
        assert "permission denied (403)" in first.err and "authentication failed (401)" in first.err
        assert sorted(f["location"]["path"] for f in first.jsonl()) == ["OPS-1/description", "OPS-3/description"]
        emu.journal.clear()
        second = scan(cli, emu, db)  # the failed issue stopped the watermark: both are retried
        fetched = sorted(r.path.rsplit("/", 1)[1] for r in emu.journal if r.path.startswith("/rest/api/3/issue/"))
    assert second.code == 1
    assert fetched == ["OPS-2", "OPS-4"]


def test_text_extraction_helpers() -> None:
    adf = {"type": "doc", "content": [
        {"type": "table", "content": [{"type": "tableRow", "content": [
            {"type": "tableCell", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "key"}]}]},
            {"type": "tableCell", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "v1"}]}]}]}]},
        {"type": "paragraph", "content": [{"type": "inlineCard", "attrs": {"url": "https://h/x?t=1"}},
                                          {"type": "hardBreak"}, {"type": "mention", "attrs": {"text": "@bob"}}]},
        {"type": "expand", "attrs": {"title": "secrets"}, "content": [
            {"type": "codeBlock", "content": [{"type": "text", "text": "a=1\nb=2"}]}]}]}
    assert adf_to_text(adf).split("\n") == ["key | v1 | ", " https://h/x?t=1 ", "@bob", "secrets", "a=1", "b=2", ""]
    assert wiki_to_text("{code:bash}x=1{code}") == " x=1 "
    storage = ('<p>a &amp; b</p><ac:structured-macro ac:name="expand"><ac:parameter ac:name="title">T'
               '</ac:parameter><ac:rich-text-body><p>inside</p></ac:rich-text-body></ac:structured-macro>'
               '<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[x = "<v>"\ny = 2]]>'
               '</ac:plain-text-body></ac:structured-macro><table><tr><td>user</td><td><p>pw</p></td></tr></table>'
               '<a href="https://h/?k=q">link</a>')
    lines = [ln for ln in storage_to_text(storage).split("\n") if ln.strip()]
    assert lines == ["a & b", "title=T", "inside", 'x = "<v>"', "y = 2", "user | pw | ", " https://h/?k=q link"]
