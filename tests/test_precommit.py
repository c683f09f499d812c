"""The published hooks (.pre-commit-hooks.yaml) run under the real pre-commit framework."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import fake

ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path: Path) -> dict[str, str]:
    bindir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
            "PRE_COMMIT_HOME": str(tmp_path / "pc-home"), "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}


def _try_repo(hook: str, repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), hook, "--verbose"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture
def work_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "work"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=_env(tmp_path))
    (repo / "README.md").write_text("hello\n")
    subprocess.run(["git", "-C", str(repo), "add", "README.md"], check=True, env=_env(tmp_path))
    return repo


def _stage_secret(repo: Path, env: dict[str, str]) -> str:
    token = fake("ghp_{{gen:alnum:30}}{{checksum:github}}", "precommit")
    (repo / "deploy.sh").write_text(f"export GITHUB_TOKEN={token}\n")
    subprocess.run(["git", "-C", str(repo), "add", "deploy.sh"], check=True, env=env)
    return token


@pytest.mark.parametrize("hook", ["sprawlguard-system", "sprawlguard"])
def test_hook_blocks_a_staged_secret_and_passes_a_clean_change(hook: str, work_repo: Path,
                                                              tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    env = _env(tmp_path)
    clean = _try_repo(hook, work_repo, env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    token = _stage_secret(work_repo, env)
    blocked = _try_repo(hook, work_repo, env)
    out = blocked.stdout + blocked.stderr
    assert blocked.returncode == 1, out
    assert "deploy.sh:1" in out and "sprawlguard:allow" in out
    assert token not in out  # redacted, even in the hook's verbose output


def test_pre_push_hook_scans_only_the_pushed_range(work_repo: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(work_repo), *args], check=True, env=env,
                              capture_output=True, text=True).stdout.strip()

    git("commit", "-q", "-m", "base", "--no-verify")
    base = git("rev-parse", "HEAD")
    token = _stage_secret(work_repo, env)
    git("commit", "-q", "-m", "adds a token", "--no-verify")
    head = git("rev-parse", "HEAD")
    (work_repo / "notes.txt").write_text("nothing secret\n")
    git("add", "notes.txt")
    git("commit", "-q", "-m", "clean", "--no-verify")
    clean_head = git("rev-parse", "HEAD")

    def push(from_ref: str, to_ref: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "sprawlguard-pre-push",
                               "--hook-stage", "pre-push", "--from-ref", from_ref, "--to-ref", to_ref,
                               "--verbose"], cwd=work_repo, env=env, capture_output=True, text=True, timeout=900)

    blocked = push(base, head)
    out = blocked.stdout + blocked.stderr
    assert blocked.returncode == 1, out
    assert "deploy.sh" in out and token not in out
    passed = push(head, clean_head)  # the token's commit is already on the remote
    assert passed.returncode == 0, passed.stdout + passed.stderr
