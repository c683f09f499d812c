"""`scan slack`: the real slack-sdk WebClient against the loopback Slack emulator, and export ZIPs."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sprawlguard.detect.engine import Engine
from sprawlguard.model import (
    Chunk,
    Confidence,
    Exposure,
    ItemError,
    Location,
    Secret,
    Verdict,
    VerdictStatus,
)
from sprawlguard.sources.slack import (
    SlackExportSource,
    SlackSource,
    message_texts,
    normalise,
    summary_text,
)
from tests.conftest import fake
from tests.emulators.slack import SlackEmulator
from tests.sources.test_git import commit, git

RULES = ("--rules", "tests/data/rules", "--no-builtin-rules", "-f", "jsonl")
TOKEN = fake("xoxb-{{gen:digit:11}}-{{gen:digit:13}}-{{gen:alnum:24}}", "emulator-api-token")
BOT_SCOPES = ["channels:read", "groups:read", "channels:history", "groups:history", "users:read",
              "files:read", "chat:write"]
WS = "https://acme.slack.com/archives"


def acme(n: int) -> str:
    return fake("acme_{{gen:alnum:24}}", f"slack-acme-{n}")


def ghp(n: int) -> str:
    return fake("ghp_{{gen:alnum:30}}{{checksum:github}}", f"slack-ghp-{n}")


def msg(ts: str, text: str, user: str = "U0A", **extra: Any) -> dict[str, Any]:
    return {"type": "message", "ts": ts, "user": user, "text": text, **extra}


def rich(text: str) -> list[dict[str, Any]]:
    """The rich_text block Slack adds to a user message (it repeats the text)."""
    return [{"type": "rich_text", "elements": [{"type": "rich_text_section",
                                                "elements": [{"type": "text", "text": text}]}]}]


def write_data(root: Path) -> Path:
    channels = [
        {"id": "C0GEN", "name": "general", "members": ["U0A", "U0B", "U0BOT"], "created": 1690000000,
         "topic": {"value": "welcome", "last_set": 1690000000}, "purpose": {"value": "", "last_set": 0}},
        {"id": "C0OPS", "name": "ops", "members": ["U0A", "U0BOT"]},
        {"id": "G0SEC", "name": "secrets", "is_private": True, "members": ["U0B", "U0BOT"]},
        {"id": "C0OLD", "name": "old", "is_archived": True, "members": ["U0A", "U0BOT"]},
        {"id": "C0RND", "name": "random", "members": ["U0A"]},  # the bot is not in it
        {"id": "D0DM", "is_im": True, "user": "U0A", "members": ["U0A", "U0BOT"]},  # needs im:read
    ]
    general = [
        msg("1700000000.000100", "hello team"),
        msg("1700000100.000100", f"staging key\nACME={acme(1)}", blocks=rich(f"staging key\nACME={acme(1)}")),
        msg("1700000200.000100", "deploy thread", user="U0B"),
        msg("1700000250.000100", f"use {ghp(1)}", thread_ts="1700000200.000100"),
        {"type": "message", "subtype": "bot_message", "ts": "1700000300.000100", "bot_id": "B0CI",
         "username": "ci-bot", "text": "",
         "attachments": [{"fallback": "build failed", "fields": [{"title": "env", "value": f"ACME_TOKEN={acme(2)}"}]}]},
        msg("1700000400.000100", "config attached", files=["F0ENV", "F0PNG"]),
        msg("1700000500.000100", f"see <https://wiki.example/x?key={acme(4)}|the wiki> &amp; <@U0B>"),
        msg("1700000600.000100", f"oops {acme(5)}", deleted=True),
    ]
    data: dict[str, Any] = {
        "team.json": {"id": "T0001", "name": "Acme", "domain": "acme"},
        "tokens.json": {TOKEN: {"type": "bot", "user_id": "U0BOT", "bot_id": "B0BOT", "scopes": BOT_SCOPES}},
        "users.json": [
            {"id": "U0A", "name": "alice.w", "real_name": "Alice W", "profile": {"display_name": "alice"}},
            {"id": "U0B", "name": "bob", "profile": {"display_name": ""}},
        ],
        "channels.json": channels,
        "files.json": {
            "F0ENV": {"name": "prod.env", "mimetype": "text/plain", "filetype": "text",
                      "content": f"# prod\nDEBUG=0\nACME={acme(3)}\n"},
            "F0PNG": {"name": "shot.png", "mimetype": "image/png", "filetype": "png", "content": "\x89PNG"},
        },
        "messages/C0GEN.json": general,
        "messages/C0OPS.json": [msg("1700000800.000100", f"```\nexport ACME_KEY={acme(8)}\n```")],
        "messages/G0SEC.json": [],
        "messages/C0OLD.json": [msg("1690000000.000100", f"archived {acme(9)}")],
        "messages/C0RND.json": [msg("1700000900.000100", f"random {acme(10)}")],
        "messages/D0DM.json": [],
    }
    for name, content in data.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(content), encoding="utf-8")
    return root


@pytest.fixture
def emu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackEmulator]:
    # A dead proxy in the environment: the loopback emulator must be reached directly (NO_PROXY).
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("SLACK_TOKEN", TOKEN)
    with SlackEmulator(write_data(tmp_path / "slack-data")) as e:
        yield e


def scan(cli, emu: SlackEmulator, db: Path, *args: str) -> tuple[int, list[dict], str]:
    res = cli("scan", "slack", "--base-url", emu.url + "/api/", "--db", str(db), *RULES, *args)
    assert res.code in (0, 1, 3), res.err
    assert TOKEN not in res.out + res.err
    return res.code, res.jsonl(), res.err


def places(findings: list[dict]) -> set[tuple]:
    return {(f["location"]["uri"], f["location"]["path"], f["location"]["line"], f["location"]["column"],
             f["location"]["field"], f["location"].get("author")) for f in findings}


def calls(emu: SlackEmulator, method: str) -> list[dict[str, str]]:
    return [{k: v[0] for k, v in r.form().items()} for r in emu.journal if r.path == f"/api/{method}"]


U = "slack://T0001/C0GEN/"
FIRST_RUN = {
    (U + "1700000100.000100", "#general", 2, 6, "text", "alice"),
    (U + "1700000250.000100", "#general", 1, 5, "text", "alice"),
    (U + "1700000300.000100#attachments", "#general", 3, 12, "attachments", "bot:ci-bot"),
    (U + "1700000400.000100/files/F0ENV", "#general/prod.env", 3, 6, "file", "alice"),
    (U + "1700000500.000100", "#general", 1, 32, "text", "alice"),
    ("slack://T0001/C0OPS/1700000800.000100", "#ops", 2, 17, "text", "alice"),
}


# --- markup ---------------------------------------------------------------------------------------

def test_markup_is_normalised_without_moving_lines() -> None:
    text = ("a <https://x.example/?t=1|docs> <@U1> <@U2|bob> <#C1|general> <!here> <!subteam^S1|@ops>\n"
            "&lt;b&gt; &amp;lt; <mailto:a@b.example|a@b.example>\n```\nTOKEN=x\n```")
    assert normalise(text) == ("a https://x.example/?t=1 docs @U1 @bob #general @here @ops\n"
                               "<b> &lt; mailto:a@b.example\n   \nTOKEN=x\n   ")
    assert normalise(text).count("\n") == text.count("\n")


def test_blocks_repeating_the_text_are_scanned_once_and_others_are_kept() -> None:
    m = {"text": "key &amp; <https://a.example|a>", "blocks": [
        {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
            {"type": "text", "text": "key & "}, {"type": "link", "url": "https://a.example", "text": "a"}]}]}],
        "attachments": [{"fallback": "key & https://a.example a", "title": "T", "text": "deep &lt;x&gt;"}],
        "previous_message": {"text": "old version"}}
    assert message_texts(m) == [("text", "key & https://a.example a"), ("attachments", "T\ndeep <x>"),
                                ("previous.text", "old version")]
    section = {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x &gt; y"},
                           "fields": [{"type": "plain_text", "text": "f1"}]}]}
    assert message_texts(section) == [("blocks", "x > y\nf1")]


# --- the Web API ------------------------------------------------------------------------------------

def test_scan_reports_exact_locations(cli, emu: SlackEmulator, tmp_path: Path) -> None:
    code, findings, _ = scan(cli, emu, tmp_path / "inv.db")
    assert code == 1
    assert places(findings) == FIRST_RUN
    reply = next(f["location"] for f in findings if f["location"]["uri"].endswith("1700000250.000100"))
    assert reply["permalink"] == f"{WS}/C0GEN/p1700000250000100?thread_ts=1700000200.000100&cid=C0GEN"
    assert reply["thread_ts"] == "1700000200.000100"
    assert reply["channel"] == "general" and reply["channel_id"] == "C0GEN" and reply["workspace"] == "Acme"
    assert reply["when"] == "2023-11-14T22:17:30Z" and reply["user_id"] == "U0A"
    top = next(f for f in findings if f["location"]["uri"].endswith("1700000100.000100"))
    assert top["location"]["permalink"] == f"{WS}/C0GEN/p1700000100000100"
    assert "slack poster: alice" in top["nhi"]["owner_hints"]
    # the deleted message, the archived channel and the channel the bot is not in were not read
    assert acme(5)[:9] not in json.dumps(findings)
    assert {c["channel"] for c in calls(emu, "conversations.history")} == {"C0GEN", "C0OPS", "G0SEC"}
    # the file was fetched with the bearer token; the PNG was not downloaded
    downloads = [r for r in emu.journal if r.path.startswith("/files-pri/")]
    assert [r.path.rsplit("/", 1)[-1] for r in downloads] == ["prod.env"]
    assert downloads[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_second_run_scans_only_what_is_new(cli, emu: SlackEmulator, tmp_path: Path,
                                           request: pytest.FixtureRequest) -> None:
    db = tmp_path / "inv.db"
    scan(cli, emu, db)
    new_top = emu.post("C0GEN", f"new {acme(20)}")
    late_first_reply = emu.post("C0GEN", f"late {acme(21)}", thread_ts="1700000000.000100")  # no thread before
    late_reply = emu.post("C0GEN", f"later {acme(22)}", user="U0B", thread_ts="1700000200.000100")
    emu.edit("C0OPS", "1700000800.000100", f"rotated, new one: {acme(23)}")
    emu.journal.clear()
    scanned = request.getfixturevalue("scanned_uris")  # from here on, every chunk scanned

    code, findings, _ = scan(cli, emu, db)

    assert code == 1
    assert places(findings) == {
        (U + new_top, "#general", 1, 5, "text", "alice"),
        (U + late_first_reply, "#general", 1, 6, "text", "alice"),
        (U + late_reply, "#general", 1, 7, "text", "bob"),
        ("slack://T0001/C0OPS/1700000800.000100", "#ops", 1, 19, "text", "alice"),
    }
    assert sorted(scanned) == sorted([U + new_top, U + late_first_reply, U + late_reply,
                                      "slack://T0001/C0OPS/1700000800.000100"])
    # only the two threads with new replies were re-read, from their last scanned reply on
    assert sorted((c["ts"], c["oldest"]) for c in calls(emu, "conversations.replies")) == [
        ("1700000000.000100", "1700000000.000100"), ("1700000200.000100", "1700000250.000100")]
    assert not [r for r in emu.journal if r.path.startswith("/files-pri/")]

    emu.journal.clear()
    scanned.clear()
    code, findings, _ = scan(cli, emu, db)
    assert (code, findings, scanned) == (0, [], [])
    assert calls(emu, "conversations.replies") == []


def _message_of(uri: str) -> str:
    return uri.split("#", 1)[0].split("/files/", 1)[0]


def test_resume_after_a_crash_loses_and_duplicates_nothing(cli, emu: SlackEmulator, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(12):  # more messages, some in threads, so the crash lands mid-channel
        parent = emu.post("C0OPS", f"batch {i} {acme(100 + i)}")
        if i % 3 == 0:
            emu.post("C0OPS", f"reply {i} {acme(200 + i)}", thread_ts=parent)
    real_scan = Engine.scan
    scanned: list[str] = []
    crash_at = [10**9]

    def recording_scan(self: Engine, chunk: Chunk) -> Any:
        if len(scanned) == crash_at[0]:
            raise RuntimeError("injected crash")
        out = real_scan(self, chunk)
        scanned.append(chunk.location.uri)
        return out

    monkeypatch.setattr(Engine, "scan", recording_scan)
    monkeypatch.setattr("sprawlguard.pipeline.FLUSH_EVERY", 0.0)  # commit after every chunk

    scan(cli, emu, tmp_path / "clean.db")  # the reference: one uninterrupted scan
    everything = list(scanned)
    assert len(everything) == len(set(everything)) > 20
    assert U + "1700000400.000100/files/F0ENV" in everything  # a message with two chunks (text, file)

    def exposures(db: Path) -> list[tuple]:
        with sqlite3.connect(db) as con:
            return sorted(con.execute('SELECT fingerprint, uri, line, "column" FROM exposures').fetchall())

    reference = exposures(tmp_path / "clean.db")
    assert len(reference) == len(FIRST_RUN) + 12 + 4
    total_lost = total_reread = 0
    points = sorted({*range(1, len(everything), 3), everything.index(U + "1700000400.000100/files/F0ENV")})
    for crash in points:  # kill the scan before one chunk, again and again
        db = tmp_path / f"crash-{crash}.db"
        scanned.clear()
        crash_at[0] = crash
        res = cli("scan", "slack", "--base-url", emu.url + "/api/", "--db", str(db), *RULES)
        assert res.code == 3 and "injected crash" in res.err
        before = list(scanned)
        scanned.clear()
        crash_at[0] = 10**9
        scan(cli, emu, db)
        after = list(scanned)

        lost = set(everything) - set(before) - set(after)
        reread = {_message_of(u) for u in set(before) & set(after)}
        total_lost += len(lost)
        total_reread += len(reread)
        assert lost == set(), crash
        assert len(after) == len(set(after)), crash
        # only the message whose chunks were in flight when the process died is read again
        assert reread <= {_message_of(before[-1])}, crash
        assert exposures(db) == reference, crash  # nothing missing, nothing duplicated
    print(f"{len(points)} crash points: {total_lost} chunks lost, "
          f"{total_reread} in-flight messages read twice, 0 duplicated exposures")


def test_rate_limit_is_honoured_with_retry_after(cli, emu: SlackEmulator, tmp_path: Path) -> None:
    emu.rate_limit("/api/conversations.history", retry_after=1, times=1)
    start = time.monotonic()
    code, findings, _ = scan(cli, emu, tmp_path / "inv.db")
    assert time.monotonic() - start >= 1.0
    assert code == 1 and places(findings) == FIRST_RUN
    history = calls(emu, "conversations.history")
    assert len(history) == 4 and history[0] == history[1]  # the rate-limited call was repeated


def test_rate_limit_past_the_retry_budget_stops_cleanly_with_the_checkpoint(emu: SlackEmulator) -> None:
    src = SlackSource(token=TOKEN, base_url=emu.url + "/api/", max_retries=1, channels=("ops",))
    items = list(src.chunks())
    assert [i.location.uri for i in items if isinstance(i, Chunk)] == ["slack://T0001/C0OPS/1700000800.000100"]
    emu.rate_limit("/api/conversations.history", retry_after=1, times=5)
    src2 = SlackSource(token=TOKEN, base_url=emu.url + "/api/", max_retries=1, channels=("general",))
    items = list(src2.chunks(resume=src.checkpoint()))
    assert not [i for i in items if isinstance(i, Chunk) and "welcome" not in i.text]
    errors = [i for i in items if isinstance(i, ItemError)]
    assert len(errors) == 1 and "rate limited" in errors[0].reason
    assert src2.checkpoint()["channels"]["C0OPS"] == src.checkpoint()["channels"]["C0OPS"]
    assert src2.checkpoint()["channels"]["C0GEN"]["done"] == []


def test_non_marketplace_page_size_still_reads_everything(emu: SlackEmulator,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    emu.page_cap = 15
    for i in range(40):
        emu.post("G0SEC", f"line {i}", user="U0B")
    src = SlackSource(token=TOKEN, base_url=emu.url + "/api/", channels=("secrets",))
    texts = [i.text for i in src.chunks() if isinstance(i, Chunk)]
    assert sorted(texts) == sorted(f"line {i}" for i in range(40))
    assert len(calls(emu, "conversations.history")) == 3
    assert "non-Marketplace" in caplog.text


@pytest.mark.parametrize(("change", "error"), [
    ("other-token", "invalid_auth"),
    ("revoke", "token_revoked"),
    ("no-scopes", "the token lacks the scope channels:read"),
])
def test_auth_errors_are_clear_and_never_echo_the_token(cli, emu: SlackEmulator, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch, change: str,
                                                        error: str) -> None:
    if change == "other-token":
        monkeypatch.setenv("SLACK_TOKEN", fake("xoxb-{{gen:digit:11}}-{{gen:digit:13}}-{{gen:alnum:24}}", "bad"))
    elif change == "revoke":
        emu.tokens[TOKEN]["revoked"] = True
    else:
        emu.tokens[TOKEN]["scopes"] = ["users:read"]
    code, findings, err = scan(cli, emu, tmp_path / "inv.db")
    assert code == 3 and findings == []
    assert error in err


def test_missing_token_variable_is_a_usage_error(cli, emu: SlackEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_TOKEN")
    res = cli("scan", "slack", "--base-url", emu.url + "/api/", "--token-env", "SLACK_TOKEN")
    assert res.code == 2 and "SLACK_TOKEN" in res.err
    assert emu.journal == []


def test_token_revoked_mid_scan_keeps_what_was_found(cli, emu: SlackEmulator, tmp_path: Path) -> None:
    emu.fail("/api/conversations.history", 200, body={"ok": False, "error": "token_revoked"}, times=1)
    code, findings, err = scan(cli, emu, tmp_path / "inv.db")
    assert code == 3 and "token_revoked" in err
    assert findings == []  # general came first; the scan stopped without reading further
    assert calls(emu, "conversations.history") == [{"channel": "C0GEN", "limit": "200"}]


def test_archived_channels_only_on_request_and_non_member_channels_are_skipped(
        cli, emu: SlackEmulator, tmp_path: Path) -> None:
    code, findings, _ = scan(cli, emu, tmp_path / "inv.db", "--include-archived", "--channel", "old",
                             "--channel", "#random")
    assert code == 1
    assert places(findings) == {("slack://T0001/C0OLD/1690000000.000100", "#old", 1, 10, "text", "alice")}
    assert [c["channel"] for c in calls(emu, "conversations.history")] == ["C0OLD"]
    code, findings, err = scan(cli, emu, tmp_path / "other.db", "--channel", "old")
    assert code == 0 and findings == []


def test_files_need_the_token_and_are_fetched_only_from_slack_hosts(emu: SlackEmulator, tmp_path: Path) -> None:
    with SlackEmulator(write_data(tmp_path / "foreign")) as foreign:
        emu.files["F0EVIL"] = {"name": "x.env", "mimetype": "text/plain", "content": "",
                               "url_private": foreign.url.replace("127.0.0.1", "localhost") + "/files-pri/T-F0EVIL/x.env"}
        emu.post("C0OPS", f"links <{foreign.url}/files-pri/T-F0ENV/prod.env|here>", files=["F0EVIL"])
        emu.tokens[TOKEN]["scopes"].remove("files:read")
        items = list(SlackSource(token=TOKEN, base_url=emu.url + "/api/", channels=("general", "ops")).chunks())
        assert foreign.journal == []  # neither the file on another host nor a link from the text
    errors = {i.location.details.get("file_id"): i.reason for i in items if isinstance(i, ItemError)}
    assert "login page" in errors["F0ENV"] and "files:read" in errors["F0ENV"]
    assert "unexpected host" in errors["F0EVIL"]
    skipped = [i for i in items if isinstance(i, ItemError) and i.kind == "binary"]
    assert [i.location.path for i in skipped] == ["#general/shot.png"]


def test_missing_optional_scopes_skip_those_conversation_types(emu: SlackEmulator,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    src = SlackSource(token=TOKEN, base_url=emu.url + "/api/")
    chunks = [i for i in src.chunks() if isinstance(i, Chunk)]
    assert {c.location.details.get("channel") for c in chunks} == {"general", "ops"}
    listed = [c["types"] for c in calls(emu, "conversations.list")]
    assert listed == ["public_channel,private_channel,mpim,im", "public_channel", "private_channel", "mpim", "im"]
    assert "im (the token lacks the scope im:read" in caplog.text


def test_same_token_in_two_channels_and_git_is_one_secret_with_three_exposures(
        cli, emu: SlackEmulator, tmp_path: Path) -> None:
    token = fake("xoxb-{{gen:digit:11}}-{{gen:digit:13}}-{{gen:alnum:24}}", "leaked-bot-token")
    emu.post("C0GEN", f"here is the bot token {token}")
    emu.post("C0OPS", f"fyi <@U0B> {token}", user="U0B")
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, {"bot.py": f'SLACK_TOKEN = "{token}"\n'})
    db = str(tmp_path / "inv.db")
    rules = ("--rules", "rules/slack.yaml", "--no-builtin-rules", "--enable-rule", "sg.slack.bot_token",
             "-f", "jsonl", "--db", db)
    res = cli("scan", "slack", "--base-url", emu.url + "/api/", *rules)
    assert res.code == 1
    assert [f["nhi"]["owner_hints"] for f in res.jsonl()] == [["slack poster: alice", "slack poster: bob"]] * 2
    assert cli("scan", "git", str(repo), *rules).code == 1
    listed = json.loads(cli("inventory", "list", "--format", "json", "--db", db).out)["secrets"]
    assert [(s["rule_id"], s["exposures"]) for s in listed] == [("sg.slack.bot_token", 3)]
    shown = json.loads(cli("inventory", "show", listed[0]["fingerprint"], "--format", "json", "--db", db).out)
    assert sorted((e["source"], e["path"]) for e in shown["exposures"]) == [
        ("git", "bot.py"), ("slack", "#general"), ("slack", "#ops")]
    assert token not in json.dumps(shown) + json.dumps(listed)


def test_notify_posts_a_redacted_summary_of_new_live_secrets_only(cli, emu: SlackEmulator, tmp_path: Path) -> None:
    value = acme(50)
    loc = Location("slack", U + "1", path="#general", permalink=f"{WS}/C0GEN/p1")
    exp = Exposure("f" * 64, "t.acme.key", loc, 1, 1, Confidence.HIGH)

    def secret(new: bool, status: VerdictStatus) -> Secret:
        return Secret("f" * 64, "t.acme.key", "Acme key", "acme", "static_api_key", "acme********",
                      Confidence.HIGH, (exp, exp), verdict=Verdict(status, "checked"), risk=80, new=new,
                      value=value)

    src = SlackSource(token=TOKEN, base_url=emu.url + "/api/")
    assert src.notify("ops", [secret(False, VerdictStatus.LIVE), secret(True, VerdictStatus.DEAD)]) == 0
    assert calls(emu, "chat.postMessage") == []
    assert src.notify("#ops", [secret(True, VerdictStatus.LIVE)]) == 1
    posted = emu.messages["C0OPS"][-1]["text"]
    assert posted == (f"sprawlguard found 1 new live secret:\n"
                      f"- Acme key `acme********` risk 80 at {WS}/C0GEN/p1 (+1 more)")
    assert value not in posted and summary_text([secret(True, VerdictStatus.LIVE)]) == posted
    # from the CLI: nothing is verified live here, so nothing is posted
    emu.journal.clear()
    code, findings, _ = scan(cli, emu, tmp_path / "inv.db", "--notify", "ops")
    assert code == 1 and findings and calls(emu, "chat.postMessage") == []


def test_standalone_emulator_prints_its_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    data = write_data(tmp_path / "d")
    proc = subprocess.Popen([sys.executable, "-m", "tests.emulators.slack", "--data", str(data)],
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    try:
        url = proc.stdout.readline().strip() if proc.stdout else ""
        assert url.startswith("http://127.0.0.1:")
        src = SlackSource(token=TOKEN, base_url=url + "/api/")
        assert src.connect().team_id == "T0001"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- export ZIP ---------------------------------------------------------------------------------------

def make_export(path: Path, extra: dict[str, bytes] | None = None) -> Path:
    entries: dict[str, Any] = {
        "channels.json": [{"id": "C0GEN", "name": "general", "topic": {"value": f"key {acme(60)}"}},
                          {"id": "C0OPS", "name": "ops"}],
        "users.json": [{"id": "U0A", "team_id": "T0001", "name": "alice.w", "profile": {"display_name": "alice"}}],
        "general/2023-11-14.json": [
            msg("1700000000.000100", "hello"),
            msg("1700000100.000100", f"a\n&lt;{acme(61)}&gt;", edited={"user": "U0A", "ts": "1700000150.000000"}),
            msg("1700000200.000100", f"reply {ghp(61)}", thread_ts="1700000000.000100"),
        ],
        "general/2023-11-15.json": [
            {"type": "message", "subtype": "bot_message", "ts": "1700086400.000100", "username": "ci",
             "attachments": [{"text": f"TOKEN={acme(62)}"}]},
        ],
        "ops/2023-11-14.json": [msg("1700000300.000100", f"<mailto:x@y.example|x> {acme(63)}")],
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in entries.items():
            zf.writestr(name, json.dumps(content))
        for name, raw in (extra or {}).items():
            zf.writestr(name, raw)
    return path


def test_export_zip_is_scanned_offline_with_exact_locations(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SLACK_TOKEN", raising=False)
    z = make_export(tmp_path / "export.zip")
    res = cli("scan", "slack", "--export", str(z), *RULES, "--db", str(tmp_path / "inv.db"))
    assert res.code == 1, res.err
    assert places(res.jsonl()) == {
        ("slack://T0001/C0GEN#topic", "#general", 1, 5, "topic", None),
        (U + "1700000100.000100", "#general", 2, 2, "text", "alice"),
        (U + "1700000200.000100", "#general", 1, 7, "text", "alice"),
        (U + "1700086400.000100#attachments", "#general", 1, 7, "attachments", "bot:ci"),
        ("slack://T0001/C0OPS/1700000300.000100", "#ops", 1, 22, "text", "alice"),
    }
    edited = next(f["location"] for f in res.jsonl() if f["location"]["uri"].endswith("1700000100.000100"))
    assert edited["edited"] == "1700000150.000000" and "permalink" not in edited


def test_export_zip_bad_entries_are_named_and_the_rest_is_scanned(tmp_path: Path) -> None:
    z = make_export(tmp_path / "export.zip", {
        "general/2023-11-16.json": b"[{not json",
        "../escape/2023-11-14.json": json.dumps([msg("1700000000.000200", acme(70))]).encode(),
        "ops/2023-11-16.json": b"[" + b" " * 5000 + b"]",
    })
    items = list(SlackExportSource(z, max_entry_bytes=4000).chunks())
    errors = sorted((i.location.path, i.reason) for i in items if isinstance(i, ItemError))
    assert errors == [("general/2023-11-16.json", "malformed JSON or ZIP entry: JSONDecodeError"),
                      ("ops/2023-11-16.json", "entry larger than 4000 bytes")]
    texts = " ".join(i.text for i in items if isinstance(i, Chunk))
    assert acme(63) in texts and acme(70) not in texts


def test_not_a_zip_is_a_clear_error(cli, tmp_path: Path) -> None:
    bad = tmp_path / "export.zip"
    bad.write_text("nope")
    res = cli("scan", "slack", "--export", str(bad), *RULES, "--no-db")
    assert res.code == 3 and "not a readable Slack export ZIP" in res.err


def test_edits_outside_the_thread_window_need_a_full_rescan(cli, emu: SlackEmulator, tmp_path: Path) -> None:
    db = tmp_path / "inv.db"
    scan(cli, emu, db, "--thread-days", "0")
    emu.edit("C0GEN", "1700000000.000100", f"hello {acme(30)}")
    code, findings, _ = scan(cli, emu, db, "--thread-days", "0")
    assert (code, findings) == (0, [])  # incremental: the old message is not read again
    code, findings, _ = scan(cli, emu, db, "--thread-days", "0", "--full")
    assert code == 1
    edited = [f["location"] for f in findings if f["location"]["uri"] == U + "1700000000.000100"]
    assert [(e["line"], e["column"], e["edited"]) for e in edited] == [(1, 7, "1700000901.000100")]


@pytest.mark.parametrize(("status", "body", "reason"), [
    (200, b"<html>proxy says hi</html>", "malformed answer from the Slack API"),
    (200, {"ok": True, "has_more": False}, "malformed answer from the Slack API (no 'messages' list)"),
    (404, b"", "malformed answer from the Slack API (HTTP 404, not JSON)"),
    (200, {"ok": False, "error": "internal_error"}, "internal_error"),
])
def test_a_bad_answer_fails_that_channel_only_and_the_next_run_retries_it(
        cli, emu: SlackEmulator, tmp_path: Path, status: int, body: Any, reason: str) -> None:
    emu.fail("/api/conversations.history", status, body=body, times=1)  # the first channel: general
    db = tmp_path / "inv.db"
    code, findings, err = scan(cli, emu, db)
    assert code == 3 and f"slack://T0001/C0GEN: {reason}" in err
    assert places(findings) == {p for p in FIRST_RUN if "C0OPS" in p[0]}
    code, findings, _ = scan(cli, emu, db)
    assert code == 1 and places(findings) == {p for p in FIRST_RUN if "C0GEN" in p[0]}


def test_notify_end_to_end_posts_a_leaked_token_that_verifies_live(cli, emu: SlackEmulator, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    leaked = fake("xoxb-{{gen:digit:11}}-{{gen:digit:13}}-{{gen:alnum:24}}", "leaked-live-token")
    emu.tokens[leaked] = {"type": "bot", "user_id": "U0OTHER", "scopes": []}  # it works: auth.test says ok
    emu.post("C0GEN", f"try this one {leaked}")
    monkeypatch.delenv("SPRAWLGUARD_NO_VERIFY")
    monkeypatch.setenv("SPRAWLGUARD_VERIFY_HOST_MAP", f"slack.com={emu.url}")  # the issuer is the emulator
    args = ("scan", "slack", "--base-url", emu.url + "/api/", "--rules", "rules/slack.yaml", "--no-builtin-rules",
            "--enable-rule", "sg.slack.bot_token", "-f", "jsonl", "--db", str(tmp_path / "inv.db"), "--notify", "ops")
    res = cli(*args)
    assert res.code == 1, res.err
    assert [f["verification"]["status"] for f in res.jsonl()] == ["live"]
    posted = [m["text"] for m in emu.messages["C0OPS"] if m.get("user") == "U0BOT"]
    assert len(posted) == 1 and leaked not in posted[0] and leaked not in res.out + res.err
    assert posted[0].startswith("sprawlguard found 1 new live secret:\n- ")
    assert f"`{leaked[:4]}********`" in posted[0] and f"{WS}/C0GEN/p" in posted[0]
    again = cli(*args, "--full")  # found again (a full rescan), live, but not new: nothing more is posted
    assert again.code == 1 and [f["new"] for f in again.jsonl()] == [False]
    assert len([m for m in emu.messages["C0OPS"] if m.get("user") == "U0BOT"]) == 1
