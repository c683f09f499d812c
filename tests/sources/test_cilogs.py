"""CI logs: normalisation, archives, stdin, and GitHub Actions / GitLab / Jenkins against loopback emulators."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import tracemalloc
import urllib.parse
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from sprawlguard.model import Chunk, ItemError, Location
from sprawlguard.sources.archive import ArchiveError, Limits, iter_members
from sprawlguard.sources.cilogs import CiLogsSource, clean_line, github_zip_layout, log_chunks
from sprawlguard.store.inventory import Inventory
from tests.conftest import fake, run_subprocess
from tests.emulators.github_actions import GitHubActionsEmulator, build_zip
from tests.emulators.gitlab import GitLabEmulator
from tests.emulators.jenkins import JenkinsEmulator

RULES = ("--enable-rule", "sg.github", "--enable-rule", "sg.generic.bearer_token")
ALL_GENERIC = ("--enable-rule", "sg.generic")  # with RULES: every context rule, for the mask test
GH_TOKEN = fake("ghp_{{gen:alnum:30}}{{checksum:github}}", "api-token")  # the token the scanner uses
GL_TOKEN = fake("glpat-{{gen:alnum:20}}", "api-token")
JK_TOKEN = fake("{{gen:hex:34}}", "jenkins-api-token")
ESC = "\x1b"


def leaked(seed: object) -> str:
    """A fake leaked GitHub token (valid checksum) to plant in logs."""
    return fake("ghp_{{gen:alnum:30}}{{checksum:github}}", seed)


@pytest.fixture(scope="module")
def _rules_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ci-rules-cache")


@pytest.fixture(autouse=True)
def _env(sg_home: Path, _rules_cache: Path, monkeypatch: pytest.MonkeyPatch):
    """Loopback only (no proxy), and share the compiled rule database between this module's tests."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for var in ("GITHUB_TOKEN", "GITLAB_TOKEN", "JENKINS_USER", "JENKINS_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    shutil.copytree(_rules_cache, sg_home / "cache", dirs_exist_ok=True)
    yield
    if (sg_home / "cache").is_dir():
        shutil.copytree(sg_home / "cache", _rules_cache, dirs_exist_ok=True)


def ci(cli, *args: str):
    return cli("scan", "ci-logs", *args, *RULES, "-f", "jsonl")


# --- each provider's real log format -----------------------------------------------------------


def github_log(lines: list[str], start: datetime = datetime(2025, 1, 2, 10, 0, tzinfo=timezone.utc)) -> str:
    """GitHub Actions: a BOM, then every line prefixed by an ISO timestamp with 7 fractional digits."""
    out = []
    for i, line in enumerate(lines):
        ts = (start + timedelta(milliseconds=37 * i)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "1Z"
        out.append(f"{ts} {line}\n")
    return "\ufeff" + "".join(out)


def gitlab_trace(lines: list[str], timestamps: bool = True) -> str:
    """GitLab: section markers, ESC[0K, colours; with FF_TIMESTAMPS a `<ts> 00O ` prefix per line
    (`00O+` for a continuation, given here as a line starting with '+>')."""
    body = [f"{ESC}[0KRunning with gitlab-runner 17.5.0{ESC}[0;m",
            f"section_start:1735812000:step_script\r{ESC}[0K{ESC}[0K{ESC}[36;1mExecuting \"step_script\"{ESC}[0;m"]
    body += lines
    body.append(f"section_end:1735812060:step_script\r{ESC}[0K")
    if not timestamps:
        return "\n".join(b.removeprefix("+>") for b in body) + "\n"
    out = []
    for i, line in enumerate(body):
        flag = "+" if line.startswith("+>") else " "
        out.append(f"2025-01-02T10:00:{i % 60:02d}.{i:06d}Z 00O{flag}{line.removeprefix('+>')}\n")
    return "".join(out)


def jenkins_console(lines: list[str]) -> str:
    """Jenkins pipeline console with timestamper prefixes and serialized console notes."""
    note = f"{ESC}[8mha:////4LQwGbQ0LjdLd3Jx+AAAAlR+LCAAAAAAAAP9b85aBtbiIQTGjNKU4P08vOT+vOD8nVc83PyU1x6OyILUoJzMv2y+/JJUBAmAAAGZ6MRU=\\u003d{ESC}[0m"
    out = ["Started by user Alice", f"{note}[Pipeline] Start of Pipeline", f"{note}[Pipeline] node"]
    for i, line in enumerate(lines):
        out.append(f"[2025-01-02T10:00:{i % 60:02d}.{i % 1000:03d}Z] {line}")
    out.append("Finished: SUCCESS")
    return "\n".join(out) + "\n"


def findings_in(text: str, tmp_path: Path, cli, name: str = "job.log") -> list[dict[str, Any]]:
    log = tmp_path / name
    log.write_text(text, encoding="utf-8")
    res = ci(cli, str(log), "--no-db", "--fail-on", "never")
    assert res.code == 0, res.err
    return res.jsonl()


# --- normalisation -----------------------------------------------------------------------------


def test_clean_line_strips_each_providers_prefixes_and_markers() -> None:
    assert clean_line("\ufeff2025-04-07T12:57:33.2904078Z ##[group]Run make") == ("Run make", False)
    assert clean_line(f"2025-04-07T12:57:33.2904078Z {ESC}[32mok{ESC}[0m\r") == ("ok", False)
    assert clean_line("2026-09-11T10:00:00.123456Z 00O+ next") == (" next", True)
    assert clean_line(f"2026-09-11T10:00:00.123456Z 00E section_start:1:build[collapsed=true]\r{ESC}[0KBuild") == \
        ("Build", False)
    assert clean_line("[2025-01-02T10:00:00.000Z] + export X=1") == ("export X=1", False)
    assert clean_line(f"{ESC}[8mha:////AAAA+/=={ESC}[0m[Pipeline] sh") == ("[Pipeline] sh", False)
    assert clean_line("10%\r50%\rdone") == ("10% 50% done", False)
    assert clean_line("loading\rloading.\rloading..") == ("loading..", False)


@pytest.mark.parametrize("fmt", ["github", "gitlab", "jenkins"])
def test_secret_in_each_providers_format_is_found_at_its_original_line(fmt: str, tmp_path: Path, cli) -> None:
    token = leaked(fmt)
    lines = ["echo start", f"{ESC}[33mwarning{ESC}[0m: using token {token} for the release", "done"]
    text = {"github": github_log, "gitlab": gitlab_trace, "jenkins": jenkins_console}[fmt](lines)
    want = next(i for i, line in enumerate(text.split("\n"), 1) if token in line)  # \r is no line break
    (f,) = findings_in(text, tmp_path, cli)
    assert f["rule_id"] == "sg.github.classic_pat"
    assert f["source"] == "ci"
    assert f["location"]["line"] == want
    # the column is in the cleaned line: prefix and colour codes removed
    assert f["location"]["column"] == len("warning: using token ") + 1
    assert token not in json.dumps(f)


def test_masks_are_redactions_not_findings(tmp_path: Path, cli) -> None:
    lines = ["DB_PASSWORD=***", "export API_KEY=[MASKED]", "Authorization: Bearer ***", "password: ****",
             "curl -u deploy:**** https://x", "TOKEN=[MASKED] ./deploy.sh", "secret = '***'",
             "--password [MASKED]", "Authorization: Basic ****"]
    for fmt in (github_log, gitlab_trace, jenkins_console):
        log = tmp_path / "masked.log"
        log.write_text(fmt(lines))
        res = ci(cli, str(log), *ALL_GENERIC, "--no-db", "--min-confidence", "low")
        assert res.code == 0, res.out
        assert res.jsonl() == []


def test_partly_masked_secrets_are_found(tmp_path: Path, cli) -> None:
    b64 = leaked("b64")
    pct = leaked("pct")
    trace = leaked("trace")
    bearer = fake("{{gen:alnum:40}}", "bearer")
    wrapped = leaked("wrapped")
    blob = base64.b64encode(json.dumps({"type": "service", "note": "x" * 60, "token": wrapped}).encode()).decode()
    chunks76 = [blob[i:i + 76] for i in range(0, len(blob), 76)]
    assert len(chunks76) >= 3 and wrapped not in blob
    lines = [
        "Run ./release.sh",
        "GH_TOKEN: ***",  # the plain value was masked...
        "config: " + base64.b64encode(f"token={b64}".encode()).decode(),  # ...not the base64 of a line holding it
        "calling https://api.example.com/hook?t=" + urllib.parse.quote(f"x={pct}!", safe=""),
        f"+ export GITHUB_TOKEN={trace}",
        f"+ curl -sf -H 'Authorization: Bearer {bearer}' https://api.example.com/v1/items",
        "+ echo $SA_KEY | base64",
        *chunks76,
        "done",
    ]
    text = github_log(lines)
    found: dict[int, list[dict[str, Any]]] = {}
    for f in findings_in(text, tmp_path, cli):
        found.setdefault(f["location"]["line"], []).append(f)
    assert sorted(found) == [3, 4, 5, 6, 8]
    assert ("sg.github.classic_pat", ["base64"]) in [(f["rule_id"], f["decoders"]) for f in found[3]]
    assert ("sg.github.classic_pat", ["percent"]) in [(f["rule_id"], f["decoders"]) for f in found[4]]
    assert "sg.github.classic_pat" in {f["rule_id"] for f in found[5]}
    assert "sg.generic.bearer_token" in {f["rule_id"] for f in found[6]}
    assert ("sg.github.classic_pat", ["base64"]) in [(f["rule_id"], f["decoders"]) for f in found[8]]


def test_gitlab_continuation_lines_are_joined(tmp_path: Path, cli) -> None:
    token = leaked("split")
    trace = gitlab_trace(["$ ./deploy", f"using {token[:14]}", f"+>{token[14:]} now", "ok"])
    (f,) = findings_in(trace, tmp_path, cli)
    assert f["location"]["line"] == 4  # the logical line's first physical line
    assert f["location"]["column"] == len("using ") + 1


def test_line_numbers_stay_exact_across_chunks_and_huge_lines(tmp_path: Path, monkeypatch) -> None:
    from sprawlguard.sources import cilogs

    monkeypatch.setattr(cilogs, "MAX_LINE_BYTES", 1000)
    token = leaked("huge")
    raw = ("a\n" * 10 + "z" * 2500 + f" {token} " + "z" * 10 + "\nlast " + token + "\n").encode()
    chunks = list(log_chunks(io.BytesIO(raw), Location("ci", "x"), chunk_chars=8))
    seen = sorted({c.first_line + c.text[: c.text.find(token)].count("\n") for c in chunks if token in c.text})
    assert seen == [11, 12]
    assert max(len(c.text) for c in chunks) < 1000 + cilogs.OVERLAP_CHARS + 10


# --- archives ----------------------------------------------------------------------------------


def _zip(files: dict[str, str | bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def test_github_zip_layout_prefers_step_files_and_falls_back_to_the_job_file() -> None:
    names = ["0_build.txt", "build/1_Set up job.txt", "build/2_Run make.txt", "build/system.txt",
             "1_deploy (prod).txt", "notes.txt"]
    got = {(e.name, e.job, e.step, e.step_number) for e in github_zip_layout(names)}
    assert got == {("build/1_Set up job.txt", "build", "Set up job", "1"),
                   ("build/2_Run make.txt", "build", "Run make", "2"),
                   ("build/system.txt", "build", "system", None),
                   ("1_deploy (prod).txt", "deploy (prod)", None, None),
                   ("notes.txt", None, None, None)}


def test_zip_of_logs_reports_job_step_and_line(tmp_path: Path, cli) -> None:
    t1, t2 = leaked("zip-step"), leaked("zip-job")
    run = {"jobs": [{"name": "build", "steps": [
        {"number": 1, "name": "Set up job", "log": github_log(["Runner version 2.321.0"])},
        {"number": 2, "name": "Run make", "log": github_log(["make", "x", f"token {t1}"])}]}]}
    buf = io.BytesIO(build_zip(run))
    with zipfile.ZipFile(buf, "a") as zf:  # a second job without step files
        zf.writestr("1_deploy.txt", github_log(["deploying", f"key {t2}"]))
    archive = tmp_path / "logs_123.zip"
    archive.write_bytes(buf.getvalue())
    res = ci(cli, str(archive), "--no-db")
    assert res.code == 1
    by_secret = {f["location"]["path"]: f["location"] for f in res.jsonl()}
    step = by_secret[f"{archive}!build/2_Run make.txt"]
    assert (step["job"], step["step"], step["step_number"], step["line"]) == ("build", "Run make", "2", 3)
    job = by_secret[f"{archive}!1_deploy.txt"]
    assert (job["job"], job["line"]) == ("deploy", 2) and "step" not in job
    assert len(res.jsonl()) == 2  # the whole-job file of `build` duplicates its steps: not scanned


def test_zip_bomb_is_a_clear_error_not_an_oom(tmp_path: Path, cli) -> None:
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(_zip({"0_build.txt": b"A" * (100 << 20)}))
    assert bomb.stat().st_size < 2 << 20
    tracemalloc.start()
    res = ci(cli, str(bomb), "--no-db")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert res.code == 3
    assert "compression ratio" in res.err and "bomb.zip" in res.err
    assert peak < 64 << 20


def test_archive_limits_member_count_sizes_corruption_and_truncation() -> None:
    data = _zip({f"{i}_job.txt": "line\n" * 10 for i in range(5)})
    assert [m.name for m, _ in iter_members(io.BytesIO(data))] == [f"{i}_job.txt" for i in range(5)]
    with pytest.raises(ArchiveError, match="5 members, more than the limit of 4"):
        list(iter_members(io.BytesIO(data), Limits(max_members=4)))
    with pytest.raises(ArchiveError, match="declares 250 bytes uncompressed"):
        list(iter_members(io.BytesIO(data), Limits(max_total_bytes=200)))
    with pytest.raises(ArchiveError, match="0_job.txt: declares 50 bytes"):
        list(iter_members(io.BytesIO(data), Limits(max_member_bytes=40)))
    with pytest.raises(ArchiveError, match="truncated"):
        list(iter_members(io.BytesIO(data[: len(data) // 2])))
    stored = bytearray(_zip({"0_job.txt": "line\n" * 100}, zipfile.ZIP_STORED))
    stored[40:60] = b"#" * 20  # damage the member's data: the CRC check fails while reading
    with pytest.raises(ArchiveError, match="0_job.txt: corrupt or truncated"):
        for _, stream in iter_members(io.BytesIO(bytes(stored))):
            while stream.read(64):
                pass


def test_truncated_zip_gives_exit_3_and_other_files_are_still_scanned(tmp_path: Path, cli) -> None:
    token = leaked("beside-truncated")
    (tmp_path / "logs").mkdir()
    whole = _zip({"0_build.txt": github_log(["x"] * 50)})
    (tmp_path / "logs" / "a.zip").write_bytes(whole[: len(whole) - 40])
    (tmp_path / "logs" / "b.log").write_text(github_log([f"t {token}"]))
    res = ci(cli, str(tmp_path / "logs"), "--no-db")
    assert res.code == 3
    assert "a.zip" in res.err and "truncated" in res.err
    assert [f["location"]["path"] for f in res.jsonl()] == [str(tmp_path / "logs" / "b.log")]


def test_stdin(cli, tmp_path: Path) -> None:
    token = leaked("stdin")
    proc = run_subprocess("scan", "ci-logs", "-", "--label", "build.log", *RULES, "-f", "jsonl", "--no-db",
                          input=gitlab_trace(["x", f"t={token}"]).encode())
    assert proc.returncode == 1, proc.stderr
    (f,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert (f["location"]["path"], f["location"]["line"]) == ("build.log", 4)


def test_usage_errors(cli, tmp_path: Path) -> None:
    assert cli("scan", "ci-logs").code == 2
    assert cli("scan", "ci-logs", str(tmp_path), "--github", "o/r").code == 2
    assert cli("scan", "ci-logs", "--jenkins", "http://127.0.0.1:9").code == 2
    assert cli("scan", "ci-logs", str(tmp_path / "missing.log"), *RULES).code == 3


# --- GitHub Actions ----------------------------------------------------------------------------


def gh_run(run_id: int, day: int, secret: str | None, **extra: Any) -> dict[str, Any]:
    steps = [{"number": 1, "name": "Set up job", "log": github_log(["Current runner version: '2.321.0'"])},
             {"number": 2, "name": "Test", "log": github_log(["pytest -q", f"token {secret}" if secret else "ok"])}]
    return {"id": run_id, "name": "CI", "status": "completed", "created_at": f"2025-01-{day:02d}T10:00:00Z",
            "head_branch": "main", "head_sha": f"{run_id:040x}", "run_attempt": 1,
            "actor": {"login": "alice"}, "jobs": [{"id": run_id * 10, "name": "test", "steps": steps}], **extra}


@pytest.fixture
def github() -> Any:
    runs = [gh_run(100 + i, 1 + i, leaked(f"run-{i}") if i % 2 == 0 else None) for i in range(5)]
    data = {"tokens": [GH_TOKEN], "repos": {"acme/app": {"runs": runs}}}
    with GitHubActionsEmulator(data, page_cap=2) as emu:
        yield emu


def gh_scan(cli, emu, db: Path, *args: str):
    return ci(cli, "--github", "acme/app", "--github-api-url", emu.url, "--github-token", GH_TOKEN,
              "--db", str(db), *args)


def test_github_runs_paged_redirect_followed_without_the_token(github, cli, tmp_path: Path) -> None:
    res = gh_scan(cli, github, tmp_path / "inv.db")
    assert res.code == 1, res.err
    found = res.jsonl()
    assert sorted(f["location"]["run_id"] for f in found) == ["100", "102", "104"]
    f = next(f for f in found if f["location"]["run_id"] == "102")
    loc = f["location"]
    assert (loc["provider"], loc["project"], loc["job"], loc["step"], loc["step_number"], loc["line"]) == \
        ("github", "acme/app", "test", "Test", "2", 2)
    assert loc["job_id"] == "1020" and loc["author"] == "alice"
    assert loc["permalink"] == "https://github.example/acme/app/actions/runs/102/job/1020#step:2:2"
    # pages of 2 runs: 3 list calls; every API call carried the token, no blob download did
    lists = [r for r in github.journal if r.path == "/repos/acme/app/actions/runs"]
    assert len(lists) == 3
    blobs = [r for r in github.journal if r.path.startswith("/_blobs/")]
    assert len(blobs) == 5 and all(r.host.startswith("localhost:") for r in blobs)
    assert all("authorization" not in r.headers for r in blobs)
    api = [r for r in github.journal if not r.path.startswith("/_blobs/")]
    assert all(r.headers.get("authorization") == f"Bearer {GH_TOKEN}" for r in api)
    assert GH_TOKEN not in res.out + res.err


def test_github_second_run_scans_only_new_runs(github, cli, tmp_path: Path) -> None:
    db = tmp_path / "inv.db"
    assert gh_scan(cli, github, db).code == 1
    github.journal.clear()
    res = gh_scan(cli, github, db, "--fail-on", "new")
    assert res.code == 0 and res.jsonl() == []
    assert not [r for r in github.journal if r.path.endswith("/logs")]
    new = leaked("new-run")
    github.runs("acme/app").append(gh_run(200, 20, new))
    github.journal.clear()
    res = gh_scan(cli, github, db)
    assert [f["location"]["run_id"] for f in res.jsonl()] == ["200"]
    assert [r.path for r in github.journal if r.path.endswith("/logs")] == ["/repos/acme/app/actions/runs/200/logs"]
    with Inventory(db) as inv:
        assert inv.get_checkpoint(f"github-actions:{github.url[7:]}/acme/app") == {"last_id": 200, "retry": []}


def test_github_in_progress_run_is_picked_up_when_finished(github, cli, tmp_path: Path) -> None:
    db = tmp_path / "inv.db"
    late = leaked("late")
    github.runs("acme/app").append(gh_run(99, 1, late, status="in_progress"))  # older id, still running
    first = gh_scan(cli, github, db)
    assert "99" not in {f["location"]["run_id"] for f in first.jsonl()}
    github.runs("acme/app")[-1]["status"] = "completed"
    res = gh_scan(cli, github, db)
    assert [f["location"]["run_id"] for f in res.jsonl() if f["new"]] == ["99"]


def test_github_since_filters_runs(github, cli, tmp_path: Path) -> None:
    res = gh_scan(cli, github, tmp_path / "inv.db", "--since", "2025-01-03")
    assert sorted(f["location"]["run_id"] for f in res.jsonl()) == ["102", "104"]
    assert all(r.query.get("created") == [">=2025-01-03"] for r in github.journal
               if r.path == "/repos/acme/app/actions/runs" and "page" not in r.query)


def test_github_expired_log_url_is_requested_again(github, cli, tmp_path: Path) -> None:
    github.expire_next = 1
    res = gh_scan(cli, github, tmp_path / "inv.db")
    assert res.code == 1, res.err
    assert len(res.jsonl()) == 3
    assert len([r for r in github.journal if r.path == "/repos/acme/app/actions/runs/100/logs"]) == 2


def test_github_rate_limit_is_retried_after_retry_after(github, cli, tmp_path: Path) -> None:
    github.rate_limit("/repos/acme/app/actions/runs", retry_after=1, times=2)
    res = gh_scan(cli, github, tmp_path / "inv.db")
    assert res.code == 1, res.err
    assert len(res.jsonl()) == 3


@pytest.mark.parametrize(("token", "repo", "expect"), [
    ("ghp_wrong", "acme/app", "401"),
    (GH_TOKEN, "acme/missing", "404"),
])
def test_github_auth_and_not_found_errors(github, cli, tmp_path: Path, token: str, repo: str, expect: str) -> None:
    res = ci(cli, "--github", repo, "--github-api-url", github.url, "--db", str(tmp_path / "i.db"),
             "--github-token", token)
    assert res.code == 3
    assert f"HTTP {expect}" in res.err
    assert token not in res.err + res.out
    if expect == "401":
        assert "GITHUB_TOKEN" in res.err


def test_github_token_from_environment(github, cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", GH_TOKEN)
    res = ci(cli, "--github", "acme/app", "--github-api-url", github.url, "--no-db")
    assert res.code == 1 and len(res.jsonl()) == 3


def test_github_truncated_zip_is_an_error_and_retried_next_time(github, cli, tmp_path: Path) -> None:
    run = github.runs("acme/app")[2]  # run 102 holds a secret
    whole = build_zip(run)
    run["zip_base64"] = base64.b64encode(whole[:-60]).decode()
    db = tmp_path / "inv.db"
    res = gh_scan(cli, github, db)
    assert res.code == 3
    assert "github run 102 logs" in res.err and "truncated" in res.err
    assert sorted(f["location"]["run_id"] for f in res.jsonl()) == ["100", "104"]
    del run["zip_base64"]
    github.journal.clear()
    res = gh_scan(cli, github, db)
    assert res.code == 1
    assert [f["location"]["run_id"] for f in res.jsonl()] == ["102"]
    assert [r.path for r in github.journal if r.path.endswith("/logs")] == ["/repos/acme/app/actions/runs/102/logs"]


def test_github_interrupted_scan_resumes_without_losing_or_repeating(github, cli, tmp_path: Path,
                                                                    monkeypatch) -> None:
    from sprawlguard import pipeline
    from sprawlguard.sources import ciproviders

    monkeypatch.setattr(pipeline, "FLUSH_EVERY", 0.0)
    real = ciproviders.github_zip_chunks

    def interrupt_at_run_103(archive, label, locate, limits=None):
        if "103" in label:
            raise KeyboardInterrupt
        yield from real(archive, label, locate, limits)

    monkeypatch.setattr(ciproviders, "github_zip_chunks", interrupt_at_run_103)
    db = tmp_path / "inv.db"
    res = gh_scan(cli, github, db)
    assert res.code == 130
    with Inventory(db) as inv:
        assert inv.get_checkpoint(f"github-actions:{github.url[7:]}/acme/app")["last_id"] == 102
    monkeypatch.setattr(ciproviders, "github_zip_chunks", real)
    github.journal.clear()
    res = gh_scan(cli, github, db)
    assert [r.path.split("/")[6] for r in github.journal if r.path.endswith("/logs")] == ["103", "104"]
    assert [f["location"]["run_id"] for f in res.jsonl()] == ["104"]
    with Inventory(db) as inv:
        rows = inv.db.execute("SELECT uri, line FROM exposures").fetchall()
    assert len(rows) == len({tuple(r) for r in rows}) == 3


# --- GitLab ------------------------------------------------------------------------------------


def gl_job(job_id: int, secret: str | None, status: str = "success", trace: str | None = None) -> dict[str, Any]:
    lines = ["$ make test", "DEPLOY_TOKEN=[MASKED]", f"using {secret}" if secret else "ok"]
    return {"id": job_id, "name": f"test-{job_id}", "stage": "test", "status": status, "ref": "main",
            "created_at": f"2025-01-02T10:{job_id % 60:02d}:00Z", "user": {"username": "bob"},
            "pipeline": {"id": 500 + job_id // 10, "sha": "c0ffee"},
            "trace": trace if trace is not None else gitlab_trace(lines)}


def test_gitlab_jobs_paged_traces_scanned_and_incremental(cli, tmp_path: Path) -> None:
    jobs = [gl_job(7000 + i, leaked(f"gl-{i}") if i != 1 else None) for i in range(5)]
    jobs.append(gl_job(7010, leaked("gl-running"), status="running"))
    data = {"tokens": [GL_TOKEN], "projects": {"group/app": {"id": 42, "jobs": jobs}}}
    db = tmp_path / "inv.db"
    with GitLabEmulator(data, page_cap=2) as emu:
        args = ("--gitlab", "group/app", "--url", emu.url, "--gitlab-token", GL_TOKEN, "--db", str(db))
        res = ci(cli, *args)
        assert res.code == 1, res.err
        found = res.jsonl()
        assert sorted(f["location"]["job_id"] for f in found) == ["7000", "7002", "7003", "7004"]
        loc = next(f["location"] for f in found if f["location"]["job_id"] == "7002")
        assert (loc["provider"], loc["pipeline_id"], loc["job"], loc["line"]) == ("gitlab", "1200", "test-7002", 5)
        assert loc["permalink"] == "https://gitlab.example/group/app/-/jobs/7002#L5"
        assert len([r for r in emu.journal if r.path == "/api/v4/projects/group%2Fapp/jobs"]) == 3
        assert all(r.headers.get("private-token") == GL_TOKEN for r in emu.journal)
        assert not [r for r in emu.journal if r.path.endswith("/7010/trace")]
        # the running job finishes; a new job appears: only those two traces are read next time
        jobs[-1]["status"] = "failed"
        jobs.append(gl_job(7020, None))
        emu.journal.clear()
        res = ci(cli, *args)
        traces = sorted(r.path.split("/")[-2] for r in emu.journal if r.path.endswith("/trace"))
        assert traces == ["7010", "7020"]
        assert [f["location"]["job_id"] for f in res.jsonl()] == ["7010"]


def test_gitlab_huge_trace_is_streamed() -> None:
    from sprawlguard.sources.ciproviders import GitLabSource

    token = leaked("gl-huge")
    filler = "".join(f"2025-01-02T10:00:00.{i:06d}Z 00O line {i} of a long build output\n" for i in range(300_000))
    trace = filler + f"2025-01-02T10:00:01.000000Z 00O leaked {token}\n"
    assert len(trace) > 19_000_000
    job = gl_job(1, None) | {"trace": trace.encode()}  # served as is, so only the client's memory is measured
    data = {"tokens": [GL_TOKEN], "projects": {"group/app": {"id": 42, "jobs": [job]}}}
    with GitLabEmulator(data) as emu:
        src = GitLabSource("42", url=emu.url, token=GL_TOKEN)
        tracemalloc.start()
        hits = []
        for c in src.chunks():
            assert isinstance(c, Chunk)
            if token in c.text:
                hits.append(c.first_line + c.text[: c.text.find(token)].count("\n"))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert hits == [300_001]
        assert peak < 12 << 20  # the 19 MB trace is never held whole


def test_gitlab_errors(cli, tmp_path: Path) -> None:
    data = {"tokens": [GL_TOKEN], "projects": {"group/app": {"id": 42, "jobs": [gl_job(1, leaked("e"))]}}}
    with GitLabEmulator(data) as emu:
        res = ci(cli, "--gitlab", "group/app", "--url", emu.url, "--gitlab-token", "glpat-wrong", "--no-db")
        assert res.code == 3 and "HTTP 401" in res.err and "GITLAB_TOKEN" in res.err
        emu.rate_limit("/api/v4/projects/group%2Fapp/jobs/1/trace", retry_after=1)
        res = ci(cli, "--gitlab", "group/app", "--url", emu.url, "--gitlab-token", GL_TOKEN, "--no-db")
        assert res.code == 1 and len(res.jsonl()) == 1
        emu.fail("/api/v4/projects/group%2Fapp/jobs/1/trace", 404, body={"message": "404 Not found"})
        res = ci(cli, "--gitlab", "group/app", "--url", emu.url, "--gitlab-token", GL_TOKEN, "--no-db")
        assert res.code == 3 and "jobs/1/trace: HTTP 404" in res.err


# --- Jenkins -----------------------------------------------------------------------------------


def test_jenkins_builds_console_text_with_basic_auth(cli, tmp_path: Path, monkeypatch) -> None:
    t1 = leaked("jk-1")
    builds = [{"number": 11, "timestamp": 1735812000000, "result": "SUCCESS",
               "console": jenkins_console(["+ ./deploy.sh", "PASSWORD=****", f"token {t1}"])},
              {"number": 12, "timestamp": 1735898400000, "building": True,
               "console": jenkins_console(["still running"])}]
    data = {"users": {"ci": JK_TOKEN}, "jobs": {"team/deploy": {"builds": builds}}}
    monkeypatch.setenv("JENKINS_USER", "ci")
    monkeypatch.setenv("JENKINS_TOKEN", JK_TOKEN)
    db = tmp_path / "inv.db"
    with JenkinsEmulator(data) as emu:
        res = ci(cli, "--jenkins", emu.url, "--job", "team/deploy", "--db", str(db))
        assert res.code == 1, res.err
        (f,) = res.jsonl()
        loc = f["location"]
        assert (loc["provider"], loc["project"], loc["build"], loc["line"]) == ("jenkins", "team/deploy", "11", 6)
        assert loc["permalink"] == f"{emu.url}/job/team/job/deploy/11/console"
        assert not [r for r in emu.journal if r.path.endswith("/12/consoleText")]
        builds[1].update(building=False, result="FAILURE", console=jenkins_console([f"oops {leaked('jk-2')}"]))
        builds.append({"number": 13, "timestamp": 1735898500000, "result": "SUCCESS", "console": "ok\n"})
        emu.journal.clear()
        res = ci(cli, "--jenkins", emu.url, "--job", "team/deploy", "--db", str(db))
        assert sorted(r.path for r in emu.journal if r.path.endswith("consoleText")) == \
            ["/job/team/job/deploy/12/consoleText", "/job/team/job/deploy/13/consoleText"]
        assert [f["location"]["build"] for f in res.jsonl() if f["new"]] == ["12"]
        monkeypatch.setenv("JENKINS_TOKEN", "wrong")
        res = ci(cli, "--jenkins", emu.url, "--job", "team/deploy", "--no-db")
        assert res.code == 3 and "HTTP 401" in res.err and JK_TOKEN not in res.err


# --- one secret, many places -------------------------------------------------------------------


def test_same_token_in_git_and_in_a_ci_log_is_one_secret_with_two_exposures(cli, tmp_path: Path) -> None:
    token = leaked("sprawled")
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=Dev", "-c", "user.email=dev@example.com"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "deploy.sh").write_text(f"export GITHUB_TOKEN={token}\n")
    subprocess.run([*git, "add", "deploy.sh"], check=True)
    subprocess.run([*git, "commit", "-qm", "deploy script"], check=True)
    db = tmp_path / "inv.db"
    assert cli("scan", "git", str(repo), *RULES, "--db", str(db)).code == 1
    data = {"tokens": [GH_TOKEN], "repos": {"acme/app": {"runs": [
        gh_run(300, 5, None) | {"jobs": [{"id": 3000, "name": "deploy", "steps": [
            {"number": 1, "name": "Deploy", "log": github_log(["+ ./deploy.sh", f"+ export GITHUB_TOKEN={token}"])}]}]}
    ]}}}
    with GitHubActionsEmulator(data) as emu:
        res = gh_scan(cli, emu, db)
    assert res.code == 1
    (f,) = res.jsonl()
    assert f["new"] is False and f["location"]["run_id"] == "300"  # already in the inventory from the git scan
    with Inventory(db) as inv:
        (secret,) = inv.list_secrets()
        shown = inv.show(secret["fingerprint"])
    assert sorted(e["source"] for e in shown["exposures"]) == ["ci", "git"]
    ci_exp = next(e for e in shown["exposures"] if e["source"] == "ci")
    assert ci_exp["details"]["run_id"] == "300" and ci_exp["line"] == 2
    out = cli("inventory", "show", secret["fingerprint"][:12], "--db", str(db))
    assert out.code == 0 and token not in out.out


def test_source_yields_item_errors_for_unreadable_files(tmp_path: Path) -> None:
    bad = tmp_path / "nope.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    items = list(CiLogsSource(paths=[bad]).chunks())
    assert len(items) == 1 and isinstance(items[0], ItemError)
    assert "not a ZIP archive" in items[0].reason
