"""Injected network faults for every network source: a scan either completes, or stops with a clear
error (exit 3) and a checkpoint from which a rerun completes, with 0 items lost and 0 duplicated.

Each source's loopback emulator is seeded with N items (messages, issues, pages, runs, jobs,
builds), each holding its own fake secret. A clean run gives the reference inventory; then, for
each fault (connection reset mid-listing or on an item, a 429 storm past the retry budget, 5xx, a
response slower than the timeout, malformed or absurdly nested JSON, a page that repeats its
cursor), a faulted run and a rerun on the same inventory must end with exactly the reference
exposures. Counted: lost = reference places missing after the rerun; duplicated = places both runs
reported (an item scanned again although its checkpoint was stored) plus places not in the
reference. Retry budgets and timeouts are reduced so the whole matrix stays fast.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from sprawlguard.sources import atlassian_common, ciproviders, slack
from tests.conftest import fake
from tests.emulators.base import Emulator

RULES = ("--rules", "tests/data/rules", "--no-builtin-rules", "-f", "jsonl")
N = 8  # items per source, each with a distinct fake secret
TIMEOUT = 1  # seconds, for every client; slow faults answer after SLOW
SLOW = 2.5
EMAIL, API_TOKEN, PAT = "scanner@example.com", "api-token-not-a-secret", "pat-not-a-secret"
TALLY: dict[str, dict[str, int]] = {}


def secret(source: str, n: int) -> str:
    return fake("acme_{{gen:alnum:24}}", f"faults-{source}-{n}")


@pytest.fixture(autouse=True)
def fast_and_local(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback only; small retry budgets and short timeouts so storms and slow answers end quickly."""
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    monkeypatch.setattr("sprawlguard.pipeline.FLUSH_EVERY", 0.0)  # a checkpoint after every chunk
    monkeypatch.setattr(atlassian_common, "MAX_RETRIES", 1)
    options = atlassian_common.client_options

    def short_timeout() -> dict[str, Any]:
        return {**options(), "timeout": TIMEOUT}

    monkeypatch.setattr(atlassian_common, "client_options", short_timeout)
    for mod in ("sprawlguard.sources.jira", "sprawlguard.sources.confluence"):
        monkeypatch.setattr(f"{mod}.client_options", short_timeout, raising=False)
    monkeypatch.setattr(ciproviders, "MAX_RETRIES", 1)
    monkeypatch.setattr(ciproviders, "TIMEOUT_S", float(TIMEOUT))
    post_init = slack.SlackSource.__post_init__

    def small_budget(self: slack.SlackSource) -> None:
        post_init(self)
        self.max_retries, self.timeout = 1, TIMEOUT

    monkeypatch.setattr(slack.SlackSource, "__post_init__", small_budget)


# --- the sources -----------------------------------------------------------------------------------


@dataclass
class Target:
    """A network source: its emulator, how the CLI scans it, and where faults go."""

    name: str
    start: Callable[[Path], AbstractContextManager[Any]]
    scan: Callable[[Any, Any, Path], Any]
    listing: str  # path prefix of the paged listing
    item: str  # path prefix of the requests that read one item (the 4th such request is hit)
    first_page: Callable[[Any], requests.Response] | None  # the real first listing page, to replay


def _slack() -> Target:
    from tests.emulators.slack import SlackEmulator

    token = fake("xoxb-{{gen:digit:11}}-{{gen:digit:13}}-{{gen:alnum:24}}", "faults-slack-token")

    def start(root: Path) -> AbstractContextManager[Any]:
        data = {"team.json": {"id": "T0001", "name": "Acme", "domain": "acme"},
                "tokens.json": {token: {"type": "bot", "user_id": "U0BOT", "bot_id": "B0BOT",
                                        "scopes": ["channels:read", "channels:history", "users:read"]}},
                "users.json": [{"id": "U0A", "name": "alice"}],
                "channels.json": [{"id": "C0GEN", "name": "general", "members": ["U0A", "U0BOT"]}],
                "messages/C0GEN.json": [{"type": "message", "ts": f"17000000{i:02d}.000100", "user": "U0A",
                                         "text": f"key {secret('slack', i)}"} for i in range(N)]}
        for name, content in data.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(json.dumps(content))
        emu = SlackEmulator(root)
        emu.page_cap = 3  # several pages
        return emu  # type: ignore[no-any-return]

    def scan(cli: Any, emu: Any, db: Path) -> Any:
        return cli("scan", "slack", "--base-url", emu.url + "/api/", "--token-env", "FAULTS_SLACK_TOKEN",
                   "--db", str(db), *RULES)

    def first_page(emu: Any) -> requests.Response:
        return requests.post(emu.url + "/api/conversations.history", data={"channel": "C0GEN", "limit": 200},
                             headers={"Authorization": f"Bearer {token}"}, timeout=5)

    target = Target("slack", start, scan, "/api/conversations.history", "/api/conversations.history",
                    first_page)
    target.env = {"FAULTS_SLACK_TOKEN": token}  # type: ignore[attr-defined]
    return target


def _jira() -> Target:
    from tests.emulators.jira import JiraEmulator

    def start(root: Path) -> AbstractContextManager[Any]:
        issues = [{"id": str(10000 + n), "key": f"OPS-{n}", "project": "OPS", "summary": f"issue {n}",
                   "description": f"token {secret('jira', n)}", "reporter": "alice", "assignee": "alice",
                   "created": "2025-03-01T09:00:00.000+0000", "updated": f"2025-03-01T09:{n:02d}:00.000+0000"}
                  for n in range(1, N + 1)]
        return JiraEmulator({"deployment": "cloud", "auth": {"email": EMAIL, "api_token": API_TOKEN},
                             "users": [{"id": "alice", "displayName": "Alice", "email": "a@example.com"}],
                             "me": "alice", "max_page": 3, "issues": issues})

    def scan(cli: Any, emu: Any, db: Path) -> Any:
        return cli("scan", "jira", "--url", emu.base, "--cloud", "--db", str(db), *RULES)

    def first_page(emu: Any) -> requests.Response:
        return requests.get(emu.base + "/rest/api/3/search/jql", auth=(EMAIL, API_TOKEN), timeout=5,
                            params={"jql": 'updated >= "1970/01/01 00:00" ORDER BY updated ASC, key ASC',
                                    "fields": "updated", "maxResults": 3})

    target = Target("jira", start, scan, "/rest/api/3/search/jql", "/rest/api/3/issue/", first_page)
    target.env = {"JIRA_EMAIL": EMAIL, "JIRA_API_TOKEN": API_TOKEN}  # type: ignore[attr-defined]
    return target


def _confluence() -> Target:
    from tests.emulators.confluence import ConfluenceEmulator

    def start(root: Path) -> AbstractContextManager[Any]:
        pages = [{"id": str(2000 + n), "type": "page", "space": "ENG", "title": f"Doc {n}",
                  "versions": [{"body": f"<p>key {secret('confluence', n)}</p>", "author": "alice",
                                "when": f"2025-03-01T09:{n:02d}:00.000Z"}]} for n in range(1, N + 1)]
        return ConfluenceEmulator({"deployment": "cloud", "auth": {"email": EMAIL, "api_token": API_TOKEN},
                                   "users": [{"id": "alice", "displayName": "Alice", "email": "a@example.com"}],
                                   "spaces": [{"id": "100", "key": "ENG", "name": "Engineering"}],
                                   "max_page": 3, "content": pages})

    def scan(cli: Any, emu: Any, db: Path) -> Any:
        return cli("scan", "confluence", "--url", emu.base, "--cloud", "--no-attachments", "--db", str(db), *RULES)

    def first_page(emu: Any) -> requests.Response:
        return requests.get(emu.base + "/api/v2/pages", auth=(EMAIL, API_TOKEN), timeout=5,
                            params={"sort": "-modified-date", "body-format": "none", "limit": 3})

    target = Target("confluence", start, scan, "/wiki/api/v2/pages", "/wiki/api/v2/pages/", first_page)
    target.env = {"CONFLUENCE_EMAIL": EMAIL, "CONFLUENCE_API_TOKEN": API_TOKEN}  # type: ignore[attr-defined]
    return target


GH_TOKEN = fake("ghp_{{gen:alnum:30}}{{checksum:github}}", "faults-api-token")
GL_TOKEN = fake("glpat-{{gen:alnum:20}}", "faults-api-token")
JK_TOKEN = fake("{{gen:hex:34}}", "faults-jenkins-token")


def _github() -> Target:
    from tests.emulators.github_actions import GitHubActionsEmulator

    def start(root: Path) -> AbstractContextManager[Any]:
        runs = [{"id": 100 + i, "name": "CI", "status": "completed", "created_at": f"2025-01-{1 + i:02d}T10:00:00Z",
                 "head_branch": "main", "head_sha": f"{i:040x}", "run_attempt": 1, "actor": {"login": "alice"},
                 "jobs": [{"id": 1000 + i, "name": "test", "steps": [
                     {"number": 1, "name": "Test", "log": f"2025-01-02T10:00:00.0000000Z token {secret('github', i)}\n"}]}]}
                for i in range(N)]
        return GitHubActionsEmulator({"tokens": [GH_TOKEN], "repos": {"acme/app": {"runs": runs}}}, page_cap=3)

    def scan(cli: Any, emu: Any, db: Path) -> Any:
        return cli("scan", "ci-logs", "--github", "acme/app", "--github-api-url", emu.url, "--github-token", GH_TOKEN,
                   "--db", str(db), *RULES)

    def first_page(emu: Any) -> requests.Response:
        return requests.get(emu.url + "/repos/acme/app/actions/runs", params={"per_page": 100}, timeout=5,
                            headers={"Authorization": f"Bearer {GH_TOKEN}"})

    return Target("github", start, scan, "/repos/acme/app/actions/runs", "/repos/acme/app/actions/runs/10",
                  first_page)


def _gitlab() -> Target:
    from tests.emulators.gitlab import GitLabEmulator

    def start(root: Path) -> AbstractContextManager[Any]:
        jobs = [{"id": 7000 + i, "name": f"test-{i}", "stage": "test", "status": "success", "ref": "main",
                 "created_at": f"2025-01-02T10:{i:02d}:00Z", "user": {"username": "bob"},
                 "pipeline": {"id": 500, "sha": "c0ffee"}, "trace": f"$ make\nusing {secret('gitlab', i)}\n"}
                for i in range(N)]
        return GitLabEmulator({"tokens": [GL_TOKEN], "projects": {"group/app": {"id": 42, "jobs": jobs}}}, page_cap=3)

    def scan(cli: Any, emu: Any, db: Path) -> Any:
        return cli("scan", "ci-logs", "--gitlab", "group/app", "--url", emu.url, "--gitlab-token", GL_TOKEN,
                   "--db", str(db), *RULES)

    def first_page(emu: Any) -> requests.Response:
        return requests.get(emu.url + "/api/v4/projects/group%2Fapp/jobs", params={"per_page": 100, "page": 1},
                            headers={"PRIVATE-TOKEN": GL_TOKEN}, timeout=5)

    return Target("gitlab", start, scan, "/api/v4/projects/group%2Fapp/jobs", "/api/v4/projects/group%2Fapp/jobs/70",
                  first_page)


def _jenkins() -> Target:
    from tests.emulators.jenkins import JenkinsEmulator

    def start(root: Path) -> AbstractContextManager[Any]:
        builds = [{"number": 11 + i, "timestamp": 1735812000000 + i, "result": "SUCCESS",
                   "console": f"+ ./deploy.sh\ntoken {secret('jenkins', i)}\n"} for i in range(N)]
        return JenkinsEmulator({"users": {"ci": JK_TOKEN}, "jobs": {"team/deploy": {"builds": builds}}})

    def scan(cli: Any, emu: Any, db: Path) -> Any:
        return cli("scan", "ci-logs", "--jenkins", emu.url, "--job", "team/deploy", "--jenkins-user", "ci",
                   "--jenkins-token", JK_TOKEN, "--db", str(db), *RULES)

    # Jenkins lists every build in one answer (no pages, so no cursor to repeat)
    return Target("jenkins", start, scan, "/job/team/job/deploy/api/json", "/job/team/job/deploy/1", None)


TARGETS = {t.name: t for t in (_slack(), _jira(), _confluence(), _github(), _gitlab(), _jenkins())}


# --- the faults ------------------------------------------------------------------------------------

JSON = {"Content-Type": "application/json; charset=utf-8"}


def _repeat_cursor(emu: Emulator, t: Target) -> None:
    """Every listing request answers the real first page, whose cursor (or next link) points on."""
    assert t.first_page is not None
    page = t.first_page(emu)
    assert page.status_code == 200, page.text
    keep = {k: v for k, v in page.headers.items() if k.lower() in ("content-type", "link", "x-next-page", "x-page")}
    emu.fail(t.listing, 200, body=page.content, headers=keep, times=50)


def _second(t: Target) -> int:
    """Faults on a listing hit its second page (mid-scan) where there is one."""
    return 0 if t.first_page is None else 1


FAULTS: dict[str, Callable[[Emulator, Target], None]] = {
    "reset mid-listing": lambda e, t: e.fail(t.listing, reset=True, times=3, after=_second(t)),
    "reset on an item": lambda e, t: e.fail(t.item, reset=True, times=3, after=3),
    "429 storm": lambda e, t: e.rate_limit(t.listing, 1, times=6, after=_second(t)),
    "5xx": lambda e, t: e.fail(t.item, 500, body=b"oops", times=4, after=3),
    "slow past the timeout": lambda e, t: e.fail(t.item, 200, body=b"{}", headers=JSON, delay=SLOW, times=3, after=3),
    "malformed JSON": lambda e, t: e.fail(t.listing, 200, body=b'{"truncated": [', headers=JSON, times=3,
                                          after=_second(t)),
    "JSON nested too deep": lambda e, t: e.fail(t.listing, 200, body=b"[" * 100_000, headers=JSON, times=3,
                                                after=_second(t)),
    "repeated cursor": _repeat_cursor,
}


def exposures(db: Path) -> list[tuple[str, str, int, int]]:
    with sqlite3.connect(db) as con:
        return sorted(con.execute('SELECT fingerprint, uri, line, "column" FROM exposures').fetchall())


def places(res: Any) -> set[tuple[str, int, int]]:
    return {(f["location"]["uri"], f["location"]["line"], f["location"]["column"]) for f in res.jsonl()}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("source", TARGETS)
def test_a_fault_ends_in_a_complete_scan_or_a_clean_stop_that_a_rerun_completes(
        source: str, fault: str, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t = TARGETS[source]
    if fault == "repeated cursor" and t.first_page is None:
        pytest.skip(f"{source} has no paged listing")
    for k, v in getattr(t, "env", {}).items():
        monkeypatch.setenv(k, v)
    (tmp_path / "data").mkdir()
    with t.start(tmp_path / "data") as emu:
        clean = t.scan(cli, emu, tmp_path / "clean.db")
        assert clean.code == 1, clean.err
        reference = exposures(tmp_path / "clean.db")
        assert len({r[0] for r in reference}) == N  # N distinct secrets, one per item

        db = tmp_path / "faulted.db"
        emu.journal.clear()
        FAULTS[fault](emu, t)
        first = t.scan(cli, emu, db)
        listing_calls = sum(r.path == t.listing for r in emu.journal)
        assert first.code in (1, 3), first.err
        assert "Traceback" not in first.err
        if first.code == 3:
            assert "sprawlguard: error:" in first.err  # a clear message naming the place
        emu._faults.clear()
        second = t.scan(cli, emu, db)
        assert second.code in (0, 1) and "error" not in second.err, second.err  # 0: nothing left to scan

    got = exposures(db)
    lost = len(set(reference) - set(got))
    duplicated = len(places(first) & places(second)) + len(set(got) - set(reference)) + len(got) - len(set(got))
    TALLY.setdefault(source, {"faults": 0, "stopped": 0, "lost": 0, "duplicated": 0})
    tally = TALLY[source]
    tally["faults"] += 1
    tally["stopped"] += first.code == 3
    tally["lost"] += lost
    tally["duplicated"] += duplicated
    print(f"{source} / {fault}: exit {first.code}, then {second.code}; {listing_calls} listing requests; "
          f"lost {lost}, duplicated {duplicated}; totals {tally}")
    assert lost == 0 and duplicated == 0
    if fault == "repeated cursor":
        assert first.code == 3 and listing_calls <= 4  # stopped at once, not after looping


# --- the verifier ------------------------------------------------------------------------------------

VERIFY_FAULTS: dict[str, dict[str, Any]] = {
    "reset": {"reset": True},
    "429 storm": {"status": 429, "headers": {"Retry-After": "1"}},
    "5xx": {"status": 503, "body": b"down"},
    "slow past the timeout": {"status": 200, "body": b"{}", "delay": SLOW},
    "malformed JSON": {"status": 200, "body": b'{"login": ', "headers": JSON, "decides": True},
    "JSON nested too deep": {"status": 200, "body": b"[" * 100_000, "headers": JSON, "decides": True},
    "HTML page": {"status": 200, "body": b"<html>sign in</html>", "headers": {"Content-Type": "text/html"}},
}


@pytest.mark.parametrize("fault", VERIFY_FAULTS)
def test_verifier_faults_give_unknown_verdicts_for_every_secret_and_a_rerun_decides(
        fault: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every secret gets a verdict (none lost, none twice); under a fault it is a transient unknown
    with a reason, never live or dead; without the fault the same secrets verify live."""
    from sprawlguard.detect.rules import load_rules
    from sprawlguard.model import VerdictStatus
    from tests.emulators.issuers import IssuerEmulator
    from tests.verify.conftest import EMULATED, make_secret, verifier

    rules = {r.id: r for r in load_rules()}
    tokens = [fake("ghp_{{gen:alnum:30}}{{checksum:github}}", f"faults-verify-{i}") for i in range(4)]
    monkeypatch.delenv("SPRAWLGUARD_NO_VERIFY", raising=False)
    with IssuerEmulator() as emu:
        monkeypatch.setenv("SPRAWLGUARD_VERIFY_HOST_MAP", ",".join(f"{h}={emu.url}" for h in EMULATED))
        for i, tok in enumerate(tokens):
            emu.github[tok] = {"login": f"bot{i}", "scopes": "repo"}
        secrets = [make_secret("sg.github.classic_pat", tok) for tok in tokens]
        emu.fail("/user", times=100, **{k: v for k, v in VERIFY_FAULTS[fault].items() if k != "decides"})
        faulted = verifier(rules, timeout=TIMEOUT, retries=1).verify(secrets)
        sent = len(emu.journal)
        emu._faults.clear()
        rerun = verifier(rules, timeout=TIMEOUT).verify(secrets)
    assert [s.fingerprint for s in faulted] == [s.fingerprint for s in rerun] == [s.fingerprint for s in secrets]
    # a 200 decides by status for this rule (GitHub answers 200 only to a working token): a broken body
    # must still give a verdict, never a verifier error; every other fault is a transient unknown
    want = {VerdictStatus.LIVE} if VERIFY_FAULTS[fault].get("decides") else {VerdictStatus.UNKNOWN}
    assert all(s.verdict is not None and s.verdict.status in want and "verifier_error" not in s.verdict.reason
               for s in faulted), [s.verdict for s in faulted]
    assert all(tok not in (s.verdict.reason if s.verdict else "") for s, tok in zip(faulted, tokens, strict=True))
    assert [s.verdict.status if s.verdict else None for s in rerun] == [VerdictStatus.LIVE] * len(tokens), \
        [s.verdict for s in rerun]
    print(f"verifier / {fault}: {sent} requests, reasons {sorted({s.verdict.reason[:40] for s in faulted if s.verdict})}")
