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
