"""`sprawlguard scan --config` and `sprawlguard doctor`: every source of a config file against the loopback
emulators (git, GitHub Actions, Slack, Jira, Confluence), incrementally, with what is new per run."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from sprawlguard.model import Verdict, VerdictStatus
from sprawlguard.store.inventory import Inventory
from tests.conftest import fake
from tests.emulators.base import Emulator, Response
from tests.emulators.confluence import ConfluenceEmulator
from tests.emulators.github_actions import GitHubActionsEmulator
from tests.emulators.jira import JiraEmulator
from tests.emulators.slack import SlackEmulator
from tests.sources import test_confluence as conf_t
from tests.sources import test_jira as jira_t
from tests.sources.test_cilogs import GH_TOKEN, gh_run
from tests.sources.test_git import commit, git
from tests.sources.test_slack import TOKEN as SLACK_TOKEN
from tests.sources.test_slack import write_data as slack_data

RULES = str(Path(__file__).parent / "data" / "rules")
EMAIL = jira_t.EMAIL


def acme(n: object) -> str:
    return fake("acme_{{gen:alnum:24}}", f"scheduled-{n}")


def ghp(n: object) -> str:
    return fake("ghp_{{gen:alnum:30}}{{checksum:github}}", f"scheduled-{n}")


class Hook(Emulator):
    """A Slack-incoming-webhook stand-in: records what is posted."""

    def __init__(self) -> None:
        super().__init__()
        self.route("POST", "/hook", lambda req: Response(200, b"ok"))

    def texts(self) -> list[str]:
        return [json.loads(r.body)["text"] for r in self.journal if r.path == "/hook"]


@dataclass
class World:
    root: Path
    repo: Path
    slack: SlackEmulator
    jira: JiraEmulator
    confluence: ConfluenceEmulator
    github: GitHubActionsEmulator
    hook: Hook

    def journals_clear(self) -> None:
        for e in (self.slack, self.jira, self.confluence, self.github, self.hook):
            e.journal.clear()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # a dead proxy: loopback must bypass it
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    for var in ("SLACK_TOKEN", "GITHUB_TOKEN", "JIRA_EMAIL", "JIRA_API_TOKEN", "JIRA_PAT", "CONFLUENCE_EMAIL",
                "CONFLUENCE_API_TOKEN", "CONFLUENCE_PAT", "ATLASSIAN_EMAIL", "ATLASSIAN_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    # credentials only under the names the config gives
    monkeypatch.setenv("SG_SLACK", SLACK_TOKEN)
    monkeypatch.setenv("SG_GH", GH_TOKEN)
    monkeypatch.setenv("SG_JIRA", jira_t.API_TOKEN)
    monkeypatch.setenv("SG_WIKI", conf_t.API_TOKEN)
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, {"deploy.env": f"ACME={acme('git-1')}\n"}, "init")
    issues = [jira_t.issue(1, description=f"token {acme('jira-1')}"), jira_t.issue(2)]
    pages = [conf_t.content(1, versions=[f"<p>key {acme('wiki-1')}</p>"]), conf_t.content(2)]
    runs = [gh_run(100, 1, ghp("ci-1")), gh_run(101, 2, None)]
    with ExitStack() as stack:
        w = World(
            root=tmp_path, repo=repo,
            slack=stack.enter_context(SlackEmulator(slack_data(tmp_path / "slack-data"))),
            jira=stack.enter_context(JiraEmulator(jira_t.seed("cloud", issues))),
            confluence=stack.enter_context(ConfluenceEmulator(conf_t.seed("cloud", pages))),
            github=stack.enter_context(GitHubActionsEmulator({"tokens": [GH_TOKEN], "repos": {"acme/app": {"runs": runs}}})),
            hook=stack.enter_context(Hook()),
        )
        monkeypatch.setenv("SG_WEBHOOK", w.hook.url + "/hook")
        yield w


def config(w: World, **extra: Any) -> dict[str, Any]:
    return {
        "inventory": "state/inventory.sqlite3",
        "parallel": 3,
        "defaults": {"rules": [RULES], "no_builtin_rules": True},
        "sources": [
            {"name": "app", "type": "git", "repo": "repo"},
            {"name": "ci", "type": "ci-logs", "github": "acme/app", "github_api_url": w.github.url,
             "github_token_env": "SG_GH"},
            {"name": "chat", "type": "slack", "base_url": w.slack.url + "/api/", "token_env": "SG_SLACK"},
            {"name": "tickets", "type": "jira", "url": w.jira.base, "cloud": True, "email": EMAIL,
             "token_env": "SG_JIRA"},
            {"name": "wiki", "type": "confluence", "url": w.confluence.base, "cloud": True, "email": EMAIL,
             "token_env": "SG_WIKI"},
        ],
        "outputs": [{"format": "changes", "path": "out/changes.json"}, {"format": "json", "path": "out/findings.json"}],
        "notify": {"webhook_env": "SG_WEBHOOK"},
        **extra,
    }


def write(w: World, cfg: dict[str, Any]) -> Path:
    path = w.root / "sprawlguard.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def run(cli, path: Path, *args: str):
    res = cli("scan", "--config", str(path), *args)
    for token in (SLACK_TOKEN, GH_TOKEN, jira_t.API_TOKEN):
        assert token not in res.out + res.err
    return res


def changes(w: World) -> dict[str, Any]:
    return json.loads((w.root / "out" / "changes.json").read_text())["changes"]


def first_places(items: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(s["exposures"][0]["source"], s["exposures"][0]["path"] or s["exposures"][0]["uri"]) for s in items}


def test_two_runs_scan_only_new_content_and_report_exactly_what_is_new(cli, world: World,
                                                                      request: pytest.FixtureRequest) -> None:
    w = world
    path = write(w, config(w))
    first = run(cli, path)
    assert first.code == 1, first.err
    c1 = changes(w)
    assert c1["since"] is None and c1["new_exposures"] == []
    assert {s["exposures"][0]["source"] for s in c1["new_secrets"]} == {"git", "ci", "slack", "jira", "confluence"}
    first_count = len(c1["new_secrets"])
    assert f"New secrets ({first_count})" in first.out and "app" in first.out
    assert len(w.hook.texts()) == 1 and f"{first_count} new secret(s)" in w.hook.texts()[0]

    # new content everywhere: new secrets, and known ones in new places
    commit(w.repo, {"deploy.env": f"ACME={acme('git-2')}\n", "copy.txt": f"old {acme('git-1')}\n"}, "two")
    w.github.runs("acme/app").append(gh_run(102, 3, ghp("ci-2")))
    w.github.runs("acme/app").append(gh_run(103, 4, ghp("ci-1")))  # the known CI token again
    new_ts = w.slack.post("C0GEN", f"new one {acme('slack-2')}")
    w.jira.add_comment("OPS-2", f"here {acme('jira-2')}", author="alice")
    w.confluence.edit("2002", f"<p>{acme('wiki-2')}</p><p>{acme('jira-1')}</p>")  # and the Jira token
    w.journals_clear()
    scanned = request.getfixturevalue("scanned_uris")  # from here on, every chunk scanned
    second = run(cli, path)
    assert second.code == 1, second.err
    c2 = changes(w)
    assert c2["since"] is not None
    new = {(s["exposures"][0]["source"], s["rule_id"]) for s in c2["new_secrets"]}
    assert len(c2["new_secrets"]) == 5 and new == {("git", "t.acme.key"), ("ci", "t.ghp"), ("slack", "t.acme.key"),
                                                   ("jira", "t.acme.key"), ("confluence", "t.acme.key")}
    assert {(e["exposure"]["source"], e["exposure"]["path"]) for e in c2["new_exposures"]} == {
        ("git", "copy.txt"), ("ci", "acme/app/actions/runs/103/test/2_Test.txt"), ("confluence", "ENG/Doc 2")}
    # only the new content was read
    git_blobs = [u for u in scanned if u.startswith("git:")]
    assert len(git_blobs) == 2  # deploy.env (new version) and copy.txt; the first commit's blob is not re-read
    assert [r.path for r in w.github.journal if r.path.endswith("/logs")] == [
        "/repos/acme/app/actions/runs/102/logs", "/repos/acme/app/actions/runs/103/logs"]
    assert {u for u in scanned if u.startswith("slack:")} == {f"slack://T0001/C0GEN/{new_ts}"}
    jira_fetched = {r.path.rsplit("/", 1)[1] for r in w.jira.journal if r.path.startswith("/rest/api/3/issue/")
                    and r.path.count("/") == 5}
    assert jira_fetched == {"OPS-2"}
    wiki_pages = {u.split("pageId=")[1].split("&")[0] for u in scanned if "pageId=" in u}
    assert wiki_pages <= {"2002"}, wiki_pages
    assert len(w.hook.texts()) == 1 and "5 new secret(s), 3 new exposure(s)" in w.hook.texts()[0]
    posted = " ".join(r.body.decode() for r in w.hook.journal) + (w.root / "out" / "changes.json").read_text()
    planted = [acme(n) for n in ("git-1", "git-2", "slack-2", "jira-1", "jira-2", "wiki-2")] + [ghp("ci-1"), ghp("ci-2")]
    assert not [t for t in planted if t in posted]  # the webhook and the changes report are redacted

    # a third run with nothing new: nothing scanned, nothing announced, no message
    scanned.clear()
    w.journals_clear()
    third = run(cli, path)
    assert third.code == 0, third.err
    c3 = changes(w)
    assert (c3["new_secrets"], c3["new_exposures"], c3["became_live"], c3["became_dead"]) == ([], [], [], [])
    assert [u for u in scanned if not u.startswith("file:")] == []
    assert w.hook.texts() == []
    with Inventory(w.root / "state" / "inventory.sqlite3") as inv:
        n_exposures = inv.db.execute("SELECT COUNT(*) FROM exposures").fetchone()[0]
    assert n_exposures == first_count + 5 + 3  # nothing duplicated


def test_one_failing_source_does_not_stop_the_others_exit_3(cli, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world
    monkeypatch.setenv("SG_SLACK", fake("xoxb-{{gen:digit:11}}-{{gen:digit:13}}-{{gen:alnum:24}}", "revoked"))
    path = write(w, config(w))
    res = run(cli, path)
    assert res.code == 3
    assert "source 'chat' failed" in res.err and "invalid_auth" in res.err
    doc = json.loads((w.root / "out" / "changes.json").read_text())
    status = {s["name"]: s["status"] for s in doc["sources"]}
    assert status == {"app": "ok", "ci": "ok", "chat": "failed", "tickets": "ok", "wiki": "ok"}
    assert {s["exposures"][0]["source"] for s in doc["changes"]["new_secrets"]} == {"git", "ci", "jira", "confluence"}
    assert "source(s) with errors: chat" in w.hook.texts()[0]
    # fixed token: the next run scans Slack and announces only its secrets
    monkeypatch.setenv("SG_SLACK", SLACK_TOKEN)
    again = run(cli, path)
    assert again.code == 1, again.err
    assert {s["exposures"][0]["source"] for s in changes(w)["new_secrets"]} == {"slack"}


def test_missing_credential_variable_fails_that_source_only(cli, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world
    monkeypatch.delenv("SG_GH")
    res = run(cli, write(w, config(w)))
    assert res.code == 3
    assert "source 'ci' failed: the environment variable SG_GH (github_token_env) is empty or not set" in res.err
    assert {s["name"]: s["status"] for s in json.loads((w.root / "out" / "changes.json").read_text())["sources"]}[
        "chat"] == "ok"


def test_verdicts_that_flip_between_runs_are_reported(cli, world: World) -> None:
    w = world
    cfg = config(w)
    cfg["sources"] = cfg["sources"][:1]
    path = write(w, cfg)
    assert run(cli, path).code == 1
    with Inventory(w.root / "state" / "inventory.sqlite3") as inv:
        fp = inv.list_secrets()[0]["fingerprint"]
    # `sprawlguard verify` ran between the runs (here: its verdict, added the same way)
    with Inventory(w.root / "state" / "inventory.sqlite3") as inv:
        inv.put_verdict(fp, Verdict(VerdictStatus.LIVE, "200 from acme.example", "2030-01-01T00:00:00+00:00"))
    second = run(cli, path)
    got = changes(w)
    assert [(s["fingerprint"], s["previous"]) for s in got["became_live"]] == [(fp, None)]
    assert got["became_dead"] == [] and "Became live (1)" in second.out
    with Inventory(w.root / "state" / "inventory.sqlite3") as inv:
        inv.put_verdict(fp, Verdict(VerdictStatus.DEAD, "401 from acme.example", "2030-01-02T00:00:00+00:00"))
    run(cli, path)
    got = changes(w)
    assert [(s["fingerprint"], s["previous"], s["reason"]) for s in got["became_dead"]] == [
        (fp, "live", "401 from acme.example")]
    assert got["became_live"] == []


@pytest.mark.parametrize(("source", "message"), [
    ({"name": "chat", "type": "slack", "chanel": ["C1"]}, "source 'chat' (slack): unknown key 'chanel'"),
    ({"name": "chat", "type": "slack", "thread_days": "soon"}, "source 'chat' (slack): Invalid value for 'thread_days'"),
    ({"name": "ci", "type": "ci-logs", "github": "a/b", "github_token": "literal"},
     "source 'ci' (ci-logs): key 'github_token' would put a credential in the config file"),
    ({"name": "x", "type": "svn"}, "source 'x': 'type' must be one of"),
    ({"name": "app", "type": "git", "repo": "r", "format": "json"}, "source 'app' (git): key 'format' is not allowed"),
    ({"name": "app", "type": "git", "url": "https://user:pw@git.example/r.git"}, "must not embed credentials"),
])
def test_config_errors_exit_2_naming_the_source_and_key(cli, tmp_path: Path, source: dict, message: str) -> None:
    path = tmp_path / "sprawlguard.yaml"
    path.write_text(yaml.safe_dump({"sources": [source]}), encoding="utf-8")
    res = cli("scan", "--config", str(path))
    assert res.code == 2 and message in res.err, res.err
    assert "literal" not in res.err and "pw@" not in res.err


def test_a_scheduled_config_in_the_current_directory_is_not_read_as_settings(cli, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sprawlguard.yaml").write_text(yaml.safe_dump({"sources": [{"name": "a", "type": "path",
                                                                            "paths": ["."]}]}))
    (tmp_path / "f.txt").write_text(f"k {acme('cwd')}\n")
    monkeypatch.chdir(tmp_path)
    res = cli("scan", "path", "f.txt", "--rules", RULES, "--no-builtin-rules", "--no-db", "-f", "jsonl")
    assert res.code == 1 and len(res.jsonl()) == 1


def test_git_url_source_is_mirrored_then_fetched(cli, tmp_path: Path) -> None:
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    git(upstream, "init", "-q", "-b", "main")
    commit(upstream, {"a.env": f"A={acme('url-1')}\n"})
    cfg = {"inventory": "inv.sqlite3", "repos_dir": "mirrors", "defaults": {"rules": [RULES], "no_builtin_rules": True},
           "sources": [{"name": "up", "type": "git", "url": upstream.as_uri()}],
           "outputs": [{"format": "changes", "path": "changes.json"}]}
    path = tmp_path / "sprawlguard.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert cli("scan", "--config", str(path)).code == 1
    assert (tmp_path / "mirrors" / "up" / "HEAD").is_file()
    commit(upstream, {"b.env": f"B={acme('url-2')}\n"})
    res = cli("scan", "--config", str(path))
    assert res.code == 1, res.err
    got = json.loads((tmp_path / "changes.json").read_text())["changes"]["new_secrets"]
    assert [s["exposures"][0]["path"] for s in got] == ["b.env"]


# --- doctor -------------------------------------------------------------------------------------


def test_doctor_good_config(cli, world: World) -> None:
    path = write(world, config(world))
    res = cli("doctor", "--config", str(path))
    assert res.code == 0, res.out
    assert "FAIL" not in res.out
    assert "source 'chat' (slack): token accepted for workspace" in res.out
    assert "source 'tickets' (jira): " in res.out and "token_env: SG_JIRA is set" in res.out
    assert "source 'ci' (ci-logs): github-actions:" in res.out
    assert "inventory: " in res.out and "will be created on the first run" in res.out
    for token in (SLACK_TOKEN, GH_TOKEN, jira_t.API_TOKEN):
        assert token not in res.out + res.err
    assert not (world.root / "state").exists()  # doctor creates nothing


def test_doctor_missing_variable_bad_option_and_unreachable_host(cli, world: World,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    w = world
    monkeypatch.delenv("SG_WIKI")
    cfg = config(w)
    cfg["sources"][3]["url"] = "http://127.0.0.1:9/jira"  # nothing listens there
    path = write(w, cfg)
    res = cli("doctor", "--config", str(path))
    assert res.code == 1
    assert "FAIL  source 'wiki' (confluence): --token-env SG_WIKI: that environment variable is not set" in res.out
    assert "FAIL  source 'tickets' (jira): " in res.out
    assert "ok    source 'chat' (slack)" in res.out
    cfg["sources"][2]["thread_days"] = -3
    res = cli("doctor", "--config", str(write(w, cfg)))
    assert res.code == 1 and "FAIL  config: " in res.out and "source 'chat' (slack)" in res.out
    assert "'thread_days'" in res.out


def test_doctor_inventory_newer_than_this_version(cli, tmp_path: Path) -> None:
    inv = tmp_path / "inv.sqlite3"
    with Inventory(inv) as i:
        i.db.execute("PRAGMA user_version = 99")
    path = tmp_path / "sprawlguard.yaml"
    path.write_text(yaml.safe_dump({"inventory": "inv.sqlite3", "sources": [{"name": "d", "type": "path",
                                                                           "paths": ["."]}]}))
    res = cli("doctor", "--config", str(path))
    assert res.code == 1 and "schema 99, newer than this sprawlguard" in res.out


def test_examples_config_is_valid(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).parents[1] / "examples" / "sprawlguard.yaml"
    shutil.copy(example, tmp_path / "sprawlguard.yaml")
    res = cli("doctor", "--config", str(tmp_path / "sprawlguard.yaml"), "--offline")
    assert "FAIL  config" not in res.out, res.out
    assert "config: " in res.out and "source(s), every option valid" in res.out
