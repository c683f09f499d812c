"""`scan git` and `scan staged` on real repositories built with git in tmp_path."""

from __future__ import annotations

import io
import itertools
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import fake

RULES = ("--rules", "tests/data/rules", "--no-builtin-rules", "-f", "jsonl")
_clock = itertools.count(1_700_000_000, 60)


def git(repo: Path, *args: str) -> str:
    when = f"{next(_clock)} +0000"
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
           "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


def commit(repo: Path, files: dict[str, str | bytes | None], msg: str = "c") -> str:
    for name, content in files.items():
        p = repo / name
        if content is None:
            git(repo, "rm", "-q", name)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
        git(repo, "add", name)
    git(repo, "commit", "-q", "-m", msg)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    commit(r, {"README.md": "hello\n"}, "init")
    return r


def findings(cli, *args: str) -> tuple[int, list[dict]]:
    res = cli("scan", *args, *RULES)
    assert res.code in (0, 1), res.err
    return res.code, res.jsonl()


def locs(items: list[dict]) -> list[dict]:
    return [f["location"] for f in items]


def test_secret_added_then_deleted_is_historic_with_first_commit(cli, repo: Path) -> None:
    s = fake("acme_{{gen:alnum:24}}", 1)
    c1 = commit(repo, {"conf/app.env": f"a=1\nKEY={s}\n"}, "add key")
    commit(repo, {"conf/app.env": None}, "remove key")
    c3 = commit(repo, {"other.env": f"x\ny\nKEY={s}\n"}, "re-add elsewhere")
    code, out = findings(cli, "git", str(repo))
    assert code == 1
    by_path = {loc["path"]: loc for loc in locs(out)}
    old = by_path["conf/app.env"]
    assert old["commit"] == c1 and old["first_commit"] == c1
    assert old["line"] == 2 and old["historic"] == "true"
    assert old["author"] == "Dev <dev@example.com>" and old["date"]
    assert by_path["other.env"]["commit"] == c3 and by_path["other.env"]["historic"] == "false"
    assert by_path["other.env"]["line"] == 3


def test_rename_keeps_first_commit_and_counts_others(cli, repo: Path) -> None:
    s = fake("acme_{{gen:alnum:24}}", 2)
    c1 = commit(repo, {"a.txt": f"{s}\n"}, "add")
    git(repo, "mv", "a.txt", "b.txt")
    c2 = commit(repo, {}, "rename")
    _, out = findings(cli, "git", str(repo))
    [loc] = locs(out)
    assert loc["first_commit"] == c1 and loc["commit"] == c1 and loc["path"] == "a.txt"
    assert loc["commits_count"] == "1" and loc["historic"] == "true"
    _, out = findings(cli, "git", str(repo), "--all-locations")
    got = {(loc["commit"], loc["path"], loc["historic"]) for loc in locs(out)}
    assert got == {(c1, "a.txt", "true"), (c2, "b.txt", "false")}
    assert {loc["first_commit"] for loc in locs(out)} == {c1}


def test_deleted_branch_only_with_include_unreachable(cli, repo: Path) -> None:
    s = fake("acme_{{gen:alnum:24}}", 3)
    git(repo, "checkout", "-q", "-b", "feature")
    c = commit(repo, {"leak.py": f"TOKEN = '{s}'\n"}, "oops")
    git(repo, "checkout", "-q", "main")
    git(repo, "branch", "-q", "-D", "feature")
    code, out = findings(cli, "git", str(repo))
    assert code == 0 and out == []
    code, out = findings(cli, "git", str(repo), "--include-unreachable")
    assert code == 1
    [loc] = locs(out)
    assert loc["commit"] == c and loc["path"] == "leak.py" and loc["historic"] == "true"


def test_dangling_blob_with_include_unreachable(cli, repo: Path) -> None:
    s = fake("acme_{{gen:alnum:24}}", 4)
    (repo / "x.txt").write_text(f"{s}\n")
    git(repo, "add", "x.txt")
    git(repo, "reset", "-q")
    _, out = findings(cli, "git", str(repo), "--include-unreachable")
    [loc] = locs(out)
    assert loc["commit"] == "" and loc["historic"] == "true"


def test_branch_and_since_commit(cli, repo: Path) -> None:
    s1, s2, s3 = (fake("acme_{{gen:alnum:24}}", n) for n in (5, 6, 7))
    c1 = commit(repo, {"one.txt": f"{s1}\n"}, "one")
    c2 = commit(repo, {"two.txt": f"{s2}\n"}, "two")
    git(repo, "checkout", "-q", "-b", "feature")
    c3 = commit(repo, {"three.txt": f"{s3}\n"}, "three")
    git(repo, "checkout", "-q", "main")

    _, out = findings(cli, "git", str(repo), "--branch", "main")
    assert {loc["commit"] for loc in locs(out)} == {c1, c2}
    _, out = findings(cli, "git", str(repo), "--branch", "feature", "--since-commit", c1)
    assert {loc["commit"] for loc in locs(out)} == {c2, c3}
    _, out = findings(cli, "git", str(repo), "--since-commit", c2)
    assert {loc["commit"] for loc in locs(out)} == {c3}
    _, out = findings(cli, "git", str(repo))
    assert {loc["commit"] for loc in locs(out)} == {c1, c2, c3}
    res = cli("scan", "git", str(repo), "--branch", "nope", *RULES)
    assert res.code == 2 and "nope" in res.err


def test_tags_and_stash_are_scanned_by_default(cli, repo: Path) -> None:
    s_tag, s_stash = fake("acme_{{gen:alnum:24}}", 8), fake("acme_{{gen:alnum:24}}", 9)
    git(repo, "checkout", "-q", "-b", "tmp")
    tagged = commit(repo, {"rel.txt": f"{s_tag}\n"}, "release")
    git(repo, "tag", "v1")
    git(repo, "checkout", "-q", "main")
    git(repo, "branch", "-q", "-D", "tmp")
    (repo / "README.md").write_text(f"hello\n{s_stash}\n")
    git(repo, "stash", "-q")
    _, out = findings(cli, "git", str(repo))
    by_path = {loc["path"]: loc for loc in locs(out)}
    assert by_path["rel.txt"]["commit"] == tagged
    assert by_path["README.md"]["line"] == 2
    assert by_path["README.md"]["commit"] == git(repo, "rev-parse", "stash@{0}")


def test_merge_resolution_blob_is_attributed_to_the_merge(cli, repo: Path) -> None:
    s = fake("acme_{{gen:alnum:24}}", 10)
    git(repo, "checkout", "-q", "-b", "side")
    commit(repo, {"f.txt": "side\n"}, "side")
    git(repo, "checkout", "-q", "main")
    commit(repo, {"f.txt": "main\n"}, "main")
    subprocess.run(["git", "-C", str(repo), "merge", "-q", "side"], capture_output=True)
    (repo / "f.txt").write_text(f"merged {s}\n")
    git(repo, "add", "f.txt")
    git(repo, "commit", "-q", "-m", "merge")
    merge = git(repo, "rev-parse", "HEAD")
    _, out = findings(cli, "git", str(repo))
    [loc] = locs(out)
    assert loc["commit"] == merge and loc["historic"] == "false"


def test_binary_blobs_are_skipped(cli, repo: Path) -> None:
    s = fake("acme_{{gen:alnum:24}}", 11)
    commit(repo, {"img.bin": b"\x00\x01PNG" + s.encode() + b"\n"}, "bin")
    res = cli("scan", "git", str(repo), "--rules", "tests/data/rules", "--no-builtin-rules",
              "-f", "json")
    assert res.code == 0
    assert '"skipped_binary": 1' in res.out


def test_not_a_git_repository(cli, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    for sub in ("git", "staged"):
        res = cli("scan", sub, str(plain), *RULES)
        assert res.code in (2, 3)
        assert "not a git repository" in res.err


def test_staged_sees_only_staged_lines(cli, repo: Path) -> None:
    staged, unstaged, old = (fake("acme_{{gen:alnum:24}}", n) for n in (12, 13, 14))
    commit(repo, {"app.py": f"a = 1\nb = 2\n# {old} sprawlguard:allow\n"}, "base")
    (repo / "app.py").write_text(f"a = 1\nb = 2\n# {old} sprawlguard:allow\nc = '{staged}'\n")
    (repo / "new.txt").write_text(f"x\n{staged}\n")
    git(repo, "add", "app.py", "new.txt")
    (repo / "app.py").write_text(
        f"a = 1\nb = 2\n# {old} sprawlguard:allow\nc = '{staged}'\nd = '{unstaged}'\n")
    res = cli("scan", "staged", str(repo), *RULES)
    assert res.code == 1
    got = {(loc["path"], loc["line"]) for loc in locs(res.jsonl())}
    assert got == {("app.py", 4), ("new.txt", 2)}
    assert "app.py:4" in res.err and "sprawlguard:allow" in res.err and "baseline" in res.err


def test_staged_first_commit_rename_and_clean(cli, tmp_path: Path) -> None:
    r = tmp_path / "fresh"
    r.mkdir()
    git(r, "init", "-q")
    s = fake("acme_{{gen:alnum:24}}", 15)
    (r / "a.txt").write_text(f"{s}\n")
    git(r, "add", "a.txt")
    res = cli("scan", "staged", str(r), *RULES)
    assert res.code == 1 and [loc["line"] for loc in locs(res.jsonl())] == [1]
    git(r, "commit", "-q", "-m", "x", "--no-verify")
    git(r, "mv", "a.txt", "b.txt")  # a pure rename adds no lines
    assert cli("scan", "staged", str(r), *RULES).code == 0


def test_pre_push_scans_only_commits_not_on_the_remote(cli, repo: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pushed, new = fake("acme_{{gen:alnum:24}}", 30), fake("acme_{{gen:alnum:24}}", 31)
    c_old = commit(repo, {"old.txt": f"{pushed}\n"}, "already pushed")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    c_new = commit(repo, {"new.txt": f"{new}\n"}, "not pushed yet")
    monkeypatch.delenv("PRE_COMMIT_TO_REF", raising=False)
    monkeypatch.delenv("PRE_COMMIT_FROM_REF", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    # No stdin (an interactive run): HEAD minus every remote-tracking branch.
    _, out = findings(cli, "git", str(repo), "--pre-push")
    assert {loc["commit"] for loc in locs(out)} == {c_new}

    # pre-commit's pre-push stage passes the pushed range in the environment.
    git(repo, "update-ref", "-d", "refs/remotes/origin/main")  # so only the range can exclude it
    monkeypatch.setenv("PRE_COMMIT_FROM_REF", c_old)
    monkeypatch.setenv("PRE_COMMIT_TO_REF", c_new)
    _, out = findings(cli, "git", str(repo), "--pre-push")
    assert {loc["commit"] for loc in locs(out)} == {c_new}


def test_pre_push_reads_git_hook_stdin(repo: Path, tmp_path: Path) -> None:
    from sprawlguard.sources.git import ZERO_SHA, pre_push_revs

    line = f"refs/heads/main {'a' * 40} refs/heads/main {'b' * 40}\n"
    delete = f"(delete) {ZERO_SHA} refs/heads/gone {'c' * 40}\n"
    new_branch = f"refs/heads/topic {'d' * 40} refs/heads/topic {ZERO_SHA}\n"
    assert pre_push_revs(line + delete + new_branch, {}) == (["a" * 40, "d" * 40], ["b" * 40])
    assert pre_push_revs(delete, {}) == ([], [])
    assert pre_push_revs("", {}) == (["HEAD"], [])
    env = {"PRE_COMMIT_TO_REF": "x", "PRE_COMMIT_FROM_REF": ZERO_SHA}
    assert pre_push_revs(line, env) == (["x"], [])
