"""Files, directories and stdin: binary files skipped, huge files and lines read in bounded memory."""

from __future__ import annotations

import codecs
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from sprawlguard.errors import SourceError
from sprawlguard.model import Chunk, ItemError, Location
from sprawlguard.sources.base import Checkpoint

if TYPE_CHECKING:
    import pathspec  # imported when a walk needs it: `scan staged` and `scan git` never do

CHUNK_BYTES = 4 * 1024 * 1024  # text handed to the engine at once
OVERLAP_BYTES = 8192  # repeated at the start of the next chunk (longer than any PEM key)
SNIFF_BYTES = 8192
DEFAULT_MAX_FILE_BYTES = 100 * 1024 * 1024
ALWAYS_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn"})


def is_binary(head: bytes) -> bool:
    """git's heuristic: a NUL byte in the first 8 KiB (UTF-16 with a BOM is text)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    return b"\0" in head[:SNIFF_BYTES]


def _encoding_for(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8"


def read_chunks(
    stream: BinaryIO, location: Location, encoding: str = "utf-8", chunk_bytes: int = CHUNK_BYTES
) -> Iterator[Chunk]:
    """Split a byte stream into chunks on line boundaries, in bounded memory.

    Invalid bytes decode to U+FFFD (nothing is lost silently: the rest of the file is still
    scanned). Consecutive chunks overlap by whole lines (OVERLAP_BYTES), and a line longer than
    `chunk_bytes` is cut with an overlap, so a secret across a cut is seen whole in one chunk.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    line = column = 1
    carry = ""
    while True:
        block = stream.read(chunk_bytes)
        final = not block
        text = carry + decoder.decode(block, final=final)
        if final:
            if text:
                yield Chunk(text=text, location=location, first_line=line, first_column=column)
            return
        if len(text) < chunk_bytes:
            carry = text  # keep reading: a small file is one chunk, its last line included
            continue
        cut = text.rfind("\n")
        if cut >= 0:
            body, rest = text[: cut + 1], text[cut + 1 :]
            yield Chunk(text=body, location=location, first_line=line, first_column=column)
            # the next chunk starts with the whole lines of the last OVERLAP_BYTES again, so a
            # multi-line secret (a PEM block) across the cut is seen whole; the pipeline drops
            # the duplicate findings (same rule, value, file and line)
            overlap = min(OVERLAP_BYTES, chunk_bytes // 4)
            tail = body.find("\n", max(0, len(body) - overlap)) + 1  # body ends with "\n"
            line += body.count("\n", 0, tail)
            column = 1
            carry = body[tail:] + rest
        else:  # one line longer than a chunk: cut it, keeping an overlap
            yield Chunk(text=text, location=location, first_line=line, first_column=column)
            carry = text[-OVERLAP_BYTES:]
            column += len(text) - len(carry)


@dataclass
class FilesSource:
    """Scans files and directories on disk."""

    paths: Sequence[Path]
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    gitignore: bool = False
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    follow_symlinks: bool = False
    name: str = "path"
    _files: list[tuple[Path, str, int]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        for p in self.paths:
            if not Path(p).exists():
                raise SourceError(f"{p}: no such file or directory")
        import pathspec

        self._inc = pathspec.PathSpec.from_lines("gitignore", self.include) if self.include else None
        self._exc = pathspec.PathSpec.from_lines("gitignore", self.exclude) if self.exclude else None

    def estimate(self) -> int | None:
        return sum(size for _, _, size in self._walk())

    def checkpoint(self) -> Checkpoint:
        return {}

    def chunks(self, resume: Checkpoint | None = None) -> Iterator[Chunk | ItemError]:
        for path, rel, size in self._walk():
            loc = Location(source="file", uri=f"file:{rel}", path=rel)
            if size > self.max_file_bytes:
                yield ItemError(loc, f"{size} bytes, larger than --max-file-size ({self.max_file_bytes} bytes)",
                                kind="too_large")
                continue
            try:
                yield from self._read(path, loc)
            except OSError as exc:
                yield ItemError(loc, f"cannot read: {exc.strerror or exc}")

    def _read(self, path: Path, loc: Location) -> Iterator[Chunk | ItemError]:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
            if is_binary(head):
                yield ItemError(loc, "binary file", kind="binary")
                return
            fh.seek(0)
            yield from read_chunks(fh, loc, _encoding_for(head))

    def _walk(self) -> list[tuple[Path, str, int]]:
        if self._files is None:
            files: list[tuple[Path, str, int]] = []
            for root in self.paths:
                root = Path(root)
                if root.is_file():
                    files.append((root, str(root), root.stat().st_size))
                else:
                    files.extend(self._walk_dir(root))
            self._files = files
        return self._files

    def _walk_dir(self, root: Path) -> Iterator[tuple[Path, str, int]]:
        import pathspec

        ignores: list[tuple[str, pathspec.PathSpec]] = []
        for dirpath, dirnames, filenames in os.walk(root, followlinks=self.follow_symlinks):
            reldir = os.path.relpath(dirpath, root).replace(os.sep, "/")
            reldir = "" if reldir == "." else reldir + "/"
            if self.gitignore and ".gitignore" in filenames:
                with open(os.path.join(dirpath, ".gitignore"), encoding="utf-8", errors="replace") as fh:
                    ignores.append((reldir, pathspec.GitIgnoreSpec.from_lines(fh)))
            dirnames[:] = sorted(
                d for d in dirnames
                if d not in ALWAYS_SKIPPED_DIRS and not self._ignored(reldir + d + "/", ignores)
            )
            for name in sorted(filenames):
                rel = reldir + name
                full = Path(dirpath, name)
                if not self._wanted(rel, ignores) or (full.is_symlink() and not self.follow_symlinks):
                    continue
                try:
                    st = full.stat()
                except OSError:
                    continue
                yield full, (str(root).rstrip("/") + "/" + rel) if str(root) != "." else rel, st.st_size

    def _ignored(self, rel: str, ignores: list[tuple[str, pathspec.PathSpec]]) -> bool:
        if self._exc is not None and self._exc.match_file(rel):
            return True
        return any(rel.startswith(base) and spec.match_file(rel[len(base):]) for base, spec in ignores)

    def _wanted(self, rel: str, ignores: list[tuple[str, pathspec.PathSpec]]) -> bool:
        if self._ignored(rel, ignores):
            return False
        return self._inc is None or self._inc.match_file(rel)


@dataclass
class StdinSource:
    """Scans standard input (`-`)."""

    stream: BinaryIO | None = None
    label: str = "<stdin>"
    name: str = "stdin"

    def estimate(self) -> int | None:
        return None

    def checkpoint(self) -> Checkpoint:
        return {}

    def chunks(self, resume: Checkpoint | None = None) -> Iterator[Chunk | ItemError]:
        stream = self.stream or sys.stdin.buffer
        loc = Location(source="stdin", uri=f"stdin:{self.label}", path=self.label)
        head = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES] if hasattr(stream, "peek") else b""
        if head and is_binary(head):
            yield ItemError(loc, "binary input", kind="binary")
            return
        yield from read_chunks(stream, loc)
