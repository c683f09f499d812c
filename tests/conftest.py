"""Shared test helpers: an isolated sprawlguard home, a CLI runner, and fake-secret generation."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sprawlguard.cli import main
from sprawlguard.detect.fakes import expand


@pytest.fixture(autouse=True)
def sg_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own data dir and a fixed fingerprint key; never the user's real ones."""
    home = tmp_path_factory.mktemp("sg-home")
    monkeypatch.setenv("SPRAWLGUARD_HOME", str(home))
    monkeypatch.setenv("SPRAWLGUARD_FINGERPRINT_KEY", "test-key-not-secret")
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("SPRAWLGUARD_NO_VERIFY", "1")  # scans verify by default: never the real issuers
    yield home


def fake(template: str, seed: object = 0) -> str:
    """A fake secret from a generator template, e.g. fake('ghp_{{gen:alnum:30}}{{checksum:github}}')."""
    return expand(template, random.Random(str(seed)))


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def jsonl(self) -> list[dict]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run `sprawlguard ARGS` in-process; returns exit code, stdout and stderr."""

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def run_subprocess(*args: str, input: bytes | None = None, cwd: Path | None = None,
                   env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run the real console entry point in a child process (for stdin, TTY and signal behaviour)."""
    return subprocess.run([sys.executable, "-m", "sprawlguard", *args], input=input, cwd=cwd,
                          capture_output=True, env=env, timeout=120)


@pytest.fixture
def scanned_uris(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every chunk the engine is asked to scan, by location uri (to prove what a rerun re-reads)."""
    from sprawlguard.detect.engine import Engine

    seen: list[str] = []
    real_scan = Engine.scan

    def recording_scan(self: Engine, chunk):  # type: ignore[no-untyped-def]
        seen.append(chunk.location.uri)
        return real_scan(self, chunk)

    monkeypatch.setattr(Engine, "scan", recording_scan)
    return seen
