"""Resource bounds (issue 11, part 5): big git blobs, over-long lines, oversized items, lying archives.

Small inputs with monkeypatched chunk sizes keep these fast; `bench/resources.py` runs the real
sizes (a 2 GB file, a 200 MB line, a 10,000-member archive, zip bombs, a 500 MB git blob) and
measures peak memory.
"""

from __future__ import annotations

import io
import json
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from sprawlguard.model import Chunk, ItemError
from sprawlguard.sources import git as gitsrc
from sprawlguard.sources.archive import ArchiveError, iter_members
from sprawlguard.sources.git import GitHistorySource
from tests.conftest import fake
from tests.sources.test_git import commit, git

RULES = ("--rules", str(Path(__file__).parent.parent / "data" / "rules"), "--no-builtin-rules", "--no-db")
TOKEN = "acme_{{gen:alnum:24}}"


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    return repo


def _blob_id(repo: Path, path: str) -> str:
    return git(repo, "rev-parse", f"HEAD:{path}")


def test_a_big_git_blob_is_streamed_in_chunks_not_held_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A blob larger than a chunk is read from `cat-file --batch` piece by piece (it used to be read
    whole, then chunked: a 500 MB blob cost 500 MB), with exact line numbers, and the stream stays in
    step for the blobs after it."""
    monkeypatch.setattr(gitsrc, "CHUNK_BYTES", 64 * 1024)
    repo = _repo(tmp_path)
    tokens = [fake(TOKEN, f"blob-{i}") for i in range(3)]
    n = 400_000  # lines of 40 bytes: a 16 MB blob, 256 chunks
    lines = [f"{i:09d} plain log line, nothing to see\n" for i in range(n)]
    where = {0: tokens[0], n // 2: tokens[1], n - 1: tokens[2]}
    for i, t in where.items():
        lines[i] = f"key={t}\n"
    after = fake(TOKEN, "after")
    commit(repo, {"big.log": "".join(lines)}, "big")
    commit(repo, {"z.txt": f"k = {after}\n"}, "after")
    big = _blob_id(repo, "big.log")
    assert int(git(repo, "cat-file", "-s", big)) > 15_000_000

    source = GitHistorySource(repo=repo, max_file_bytes=1 << 30)  # imports gitpython: not counted
    found: dict[str, tuple[str, int]] = {}
    tracemalloc.start()
    try:
        for item in source.chunks():
            assert isinstance(item, Chunk)
            for t in [*tokens, after]:
                at = item.text.find(t)
                if at >= 0:
                    found[t] = (item.location.details["blob"], item.first_line + item.text.count("\n", 0, at))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # ~4 MB: the 1 MB pipe buffers and a few chunks; holding the blob would be 16 MB and more
    assert peak < 8 << 20, f"peak {peak / 1e6:.1f} MB while reading a 16 MB blob in 64 KB chunks"
    assert {found[t] for t in tokens} == {(big, i + 1) for i in where}
    assert found[after] == (_blob_id(repo, "z.txt"), 1)


def test_oversized_and_binary_big_blobs_are_skipped_with_a_reason_and_the_stream_stays_in_step(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gitsrc, "CHUNK_BYTES", 64 * 1024)
    repo = _repo(tmp_path)
    after = fake(TOKEN, "after-skips")
    commit(repo, {"a.bin": b"\0\1" * 100_000, "huge.txt": "x" * 300_000 + "\n"}, "big ones")
    commit(repo, {"z.txt": f"k = {after}\n"}, "after")
    items = list(GitHistorySource(repo=repo, max_file_bytes=250_000).chunks())
    problems = {i.location.details["blob"]: i for i in items if isinstance(i, ItemError)}
    binary, large = problems[_blob_id(repo, "a.bin")], problems[_blob_id(repo, "huge.txt")]
    assert binary.kind == "binary"
    assert large.kind == "too_large"
    assert large.reason == "blob of 300001 bytes, larger than --max-file-size (250000 bytes)"
    texts = [i.text for i in items if isinstance(i, Chunk)]
    assert texts == [f"k = {after}\n"]


def test_git_too_large_blob_is_named_in_json_and_on_stderr(tmp_path: Path, cli) -> None:
    repo = _repo(tmp_path)
    commit(repo, {"dump.log": "y" * 5000 + "\n"}, "dump")
    res = cli("scan", "git", str(repo), "--max-file-size", "4KB", *RULES, "-f", "json")
    assert res.code == 0, res.err
    stats = json.loads(res.out)["stats"]
    blob = _blob_id(repo, "dump.log")
    reason = "blob of 5001 bytes, larger than --max-file-size (4000 bytes)"
    assert stats["skipped_too_large"] == 1
    assert stats["skipped"] == [{"uri": f"git:blob:{blob}", "reason": reason}]
    assert f"sprawlguard: skipped: git:blob:{blob}: {reason}" in res.err


def test_columns_stay_exact_on_a_line_longer_than_a_chunk(tmp_path: Path, cli) -> None:
    """A 10 MB single line is cut into 4 MB chunks; a secret in a later chunk used to get its column
    counted from the chunk's start."""
    tokens = [fake(TOKEN, f"col-{i}") for i in range(3)]
    cols = [101, 4_194_290, 9_999_000]  # before, across and after the chunk cuts
    line = bytearray(b"w" * 10_000_000)
    for t, c in zip(tokens, cols, strict=True):
        line[c - 2: c + len(t)] = f" {t} ".encode()
    (tmp_path / "bundle.js").write_bytes(bytes(line) + b"\n")
    res = cli("scan", "path", str(tmp_path / "bundle.js"), *RULES, "-f", "json", "--show-secrets")
    got = {(f["secret"], f["location"]["line"], f["location"]["column"]) for f in json.loads(res.out)["findings"]}
    assert got == {(t, 1, c) for t, c in zip(tokens, cols, strict=True)}


@pytest.mark.parametrize("command, option", [("path", "--max-file-size"), ("ci-logs", "--max-log-size")])
def test_oversized_files_are_named_with_size_and_option(tmp_path: Path, cli, command: str, option: str) -> None:
    big = tmp_path / "big.log"
    big.write_text(f"k = {fake(TOKEN, 'big')}\n" + "a" * 2000)
    res = cli("scan", command, str(big), option, "1KB", *RULES, "-f", "json")
    assert res.code == 0, res.err
    reason = f"{big.stat().st_size} bytes, larger than {option} (1000 bytes)"
    assert json.loads(res.out)["stats"]["skipped"] == [{"uri": f"file:{big}", "reason": reason}]
    assert f"sprawlguard: skipped: file:{big}: {reason}" in res.err


def _lying_bomb(real: int, declared: int) -> bytes:
    """A ZIP whose local and central headers declare `declared` bytes for a member inflating to `real`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("1_build.txt", b"ok ok ok\n" * (real // 9))
    data = bytearray(buf.getvalue())
    struct.pack_into("<I", data, data.find(b"PK\x03\x04") + 22, declared)
    struct.pack_into("<I", data, data.find(b"PK\x01\x02") + 24, declared)
    return bytes(data)


def test_a_zip_whose_headers_lie_about_sizes_stops_at_the_declared_size(tmp_path: Path, cli) -> None:
    """Headers that declare 1 MB (a harmless ratio) for 64 MB of data: reading stops at the declared
    size and the member is a named error (its CRC does not match), in bounded memory."""
    data = _lying_bomb(64 << 20, 1 << 20)
    assert len(data) < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match="1_build.txt: corrupt or truncated"):
            for _, stream in iter_members(io.BytesIO(data)):
                while stream.read(1 << 16):
                    pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20
    bomb = tmp_path / "logs_1.zip"
    bomb.write_bytes(data)
    res = cli("scan", "ci-logs", str(bomb), *RULES, "-f", "json")
    assert res.code == 3
    assert f"sprawlguard: error: zip:{bomb}: {bomb}: 1_build.txt: corrupt or truncated" in res.err
