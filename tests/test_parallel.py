"""Scanning on several worker processes gives exactly the sequential result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sprawlguard import pipeline
from tests.conftest import fake

RULES = str(Path(__file__).parent / "data" / "rules")


def test_parallel_equals_sequential(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_BYTES", 0)
    filler = "\n".join(f"line {i} of ordinary text" for i in range(20_000))
    for n in range(12):
        key = fake("acme_{{gen:alnum:24}}", f"par-{n}")
        (tmp_path / f"f{n}.txt").write_text(f"{filler}\nk = '{key}'\n{filler}\n")

    def run(jobs: str) -> list[tuple]:
        res = cli("scan", "path", str(tmp_path), "-j", jobs, "-f", "json", "--rules", RULES, "--no-builtin-rules")
        doc = json.loads(res.out)
        return sorted((f["location"]["path"], f["location"]["line"], f["location"]["column"], f["fingerprint"])
                      for f in doc["findings"])

    sequential = run("1")
    assert len(sequential) == 12
    assert run("2") == sequential


def test_auto_jobs_leaves_git_its_core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`-j 0`: one worker per core, less the cores a source's helpers use (git history: 1)."""
    import subprocess

    from sprawlguard.sources.files import FilesSource
    from sprawlguard.sources.git import GitHistorySource

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    git_source = GitHistorySource(tmp_path)
    files_source = FilesSource([tmp_path])
    for cores, git_jobs, file_jobs in ((1, 1, 1), (2, 1, 2), (8, 7, 8)):
        monkeypatch.setattr(pipeline.os, "cpu_count", lambda c=cores: c)
        assert pipeline.auto_jobs(git_source) == git_jobs
        assert pipeline.auto_jobs(files_source) == file_jobs
