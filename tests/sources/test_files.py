"""Files and directories: gitignore, globs, binary and oversized files, bad encodings, huge lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sprawlguard.model import Chunk, ItemError
from sprawlguard.sources.files import FilesSource, read_chunks
from tests.conftest import fake, run_subprocess

RULES = str(Path(__file__).parent.parent / "data" / "rules")
KEY = fake("acme_{{gen:alnum:24}}", "files")


def scan(cli, *args: str):
    res = cli("scan", "path", *args, "--rules", RULES, "--no-builtin-rules", "-f", "json")
    return res.code, json.loads(res.out), res.err


def paths(doc) -> set[str]:
    return {f["location"]["path"] for f in doc["findings"]}


def test_directory_scan_finds_planted_key_with_location(tmp_path: Path, cli) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(f"import os\n\nKEY = '{KEY}'\n")
    code, doc, _ = scan(cli, str(tmp_path))
    assert code == 1
    (f,) = doc["findings"]
    assert f["location"]["path"].endswith("src/app.py")
    assert (f["location"]["line"], f["location"]["column"]) == (3, 8)
    assert KEY not in json.dumps(doc)


def test_gitignore_include_exclude(tmp_path: Path, cli) -> None:
    for name in ("keep.py", "ignored.log", "build/out.py", "docs/readme.md"):
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"k = '{KEY}'\n")
    (tmp_path / ".gitignore").write_text("*.log\nbuild/\n")
    assert len(paths(scan(cli, str(tmp_path))[1])) == 4
    got = paths(scan(cli, str(tmp_path), "--gitignore")[1])
    assert {Path(p).name for p in got} == {"keep.py", "readme.md"}
    got = paths(scan(cli, str(tmp_path), "--exclude", "docs/", "--include", "*.py")[1])
    assert {Path(p).name for p in got} == {"keep.py", "out.py"}


def test_binary_files_are_skipped_and_counted(tmp_path: Path, cli) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02" + KEY.encode() + b"\x00" * 100)
    (tmp_path / "text.txt").write_text(KEY)
    code, doc, _ = scan(cli, str(tmp_path))
    assert doc["stats"]["skipped_binary"] == 1
    assert {Path(p).name for p in paths(doc)} == {"text.txt"}
    assert code == 1


def test_invalid_utf8_is_scanned_not_fatal(tmp_path: Path, cli) -> None:
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9 \xff\xfe\n" + f"k={KEY}\n".encode())
    code, doc, err = scan(cli, str(tmp_path))
    assert code == 1 and len(doc["findings"]) == 1
    assert doc["findings"][0]["location"]["line"] == 2


def test_utf16_file_with_bom_is_decoded(tmp_path: Path, cli) -> None:
    (tmp_path / "w.txt").write_bytes(f"k={KEY}\r\n".encode("utf-16"))
    code, doc, _ = scan(cli, str(tmp_path))
    assert len(doc["findings"]) == 1


def test_max_file_size_skips_with_count(tmp_path: Path, cli) -> None:
    (tmp_path / "big.txt").write_text(KEY + "\n" + "a" * 2000)
    code, doc, _ = scan(cli, str(tmp_path), "--max-file-size", "1KB")
    assert code == 0 and doc["stats"]["skipped_too_large"] == 1 and not doc["findings"]
    assert cli("scan", "path", str(tmp_path), "--max-file-size", "lots").code == 2


def test_missing_path_is_a_clear_error(tmp_path: Path, cli) -> None:
    res = cli("scan", "path", str(tmp_path / "nope"), "--rules", RULES, "--no-builtin-rules")
    assert res.code == 3 and "no such file" in res.err


def test_unreadable_file_is_an_error_but_others_are_scanned(tmp_path: Path, cli) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root can read anything")
    (tmp_path / "secret.txt").write_text(KEY)
    locked = tmp_path / "locked.txt"
    locked.write_text("x")
    locked.chmod(0)
    code, doc, err = scan(cli, str(tmp_path))
    assert code == 3 and len(doc["findings"]) == 1 and "locked.txt" in err


def test_secret_across_chunk_boundary_and_huge_line(tmp_path: Path) -> None:
    """A 9 MB single line is read in bounded chunks; a secret straddling a boundary is still whole."""
    import io

    size = 4 * 1024 * 1024
    data = ("a" * (size - 10) + " " + KEY + " " + "b" * (5 * 1024 * 1024)).encode()
    chunks = [c for c in read_chunks(io.BytesIO(data), _loc()) if isinstance(c, Chunk)]
    assert max(len(c.text) for c in chunks) <= size + 8192
    assert any(KEY in c.text for c in chunks)


def _loc():
    from sprawlguard.model import Location

    return Location("file", "file:x", "x")


def test_line_numbers_stay_right_across_chunks(tmp_path: Path, cli) -> None:
    lines = [f"line {i} " + "z" * 100 for i in range(60_000)]  # ~6 MB, more than one chunk
    lines[55_000] = f"k = '{KEY}'"
    (tmp_path / "long.txt").write_text("\n".join(lines))
    code, doc, _ = scan(cli, str(tmp_path))
    (f,) = doc["findings"]
    assert (f["location"]["line"], f["location"]["column"]) == (55_001, 6)


def test_symlinks_are_not_followed_by_default(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "s.txt").write_text(KEY)
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    items = list(FilesSource([root]).chunks())
    assert not [i for i in items if isinstance(i, Chunk)]
    items = list(FilesSource([root], follow_symlinks=True).chunks())
    assert [i for i in items if isinstance(i, Chunk)]
    assert not [i for i in items if isinstance(i, ItemError)]


def test_stdin_dash(tmp_path: Path) -> None:
    proc = run_subprocess("scan", "path", "-", "--rules", RULES, "--no-builtin-rules", "-f", "jsonl",
                          input=f"x\n{KEY}\n".encode())
    assert proc.returncode == 1, proc.stderr
    (f,) = [json.loads(x) for x in proc.stdout.splitlines()]
    assert f["location"]["line"] == 2 and f["source"] == "stdin"
    assert KEY.encode() not in proc.stdout + proc.stderr


@pytest.mark.parametrize("where", ["across the first chunk cut", "last line without a newline"])
def test_pem_key_is_found_whole(tmp_path: Path, cli, where: str) -> None:
    """A multi-line secret is never split between chunks (the file was read in 4 MB chunks)."""
    pem = fake("{{fake:rsa_private_key}}", "pem").strip()
    if where == "across the first chunk cut":
        filler = "".join(f"filler line {i:07d}\n" for i in range(4 * 1024 * 1024 // 21))
        text = filler[: 4 * 1024 * 1024 - 600] + "\n" + pem + "\nafter\n"
    else:
        text = "config:\n" + pem  # the END line is the file's last line, with no newline
    (tmp_path / "key.txt").write_text(text)
    res = cli("scan", "path", str(tmp_path), "--enable-rule", "sg.private_key.rsa", "--no-db", "-f", "json")
    (f,) = json.loads(res.out)["findings"]
    assert f["location"]["line"] == text[: text.index("-----BEGIN")].count("\n") + 1
