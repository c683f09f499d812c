"""CI logs: log files, directories, ZIP archives (GitHub Actions downloads) and stdin.

Logs are cleaned line by line before matching, one cleaned line per original line so line numbers
stay exact: per-line timestamp prefixes (GitHub Actions, GitLab ``FF_TIMESTAMPS``, Jenkins
timestamper), ANSI escapes, GitLab section markers, Jenkins console notes, carriage-return
overwrites, GitHub ``##[group]`` markers and ``set -x`` trace markers (``+ ``) are removed. A GitLab
continuation line (``00O+``) is joined onto the line it continues. A value that a tool wrapped
over several lines of equal width (``base64`` output, a runner splitting a long line) is also
scanned joined, as an extra chunk reported at the run's first line. The CI's redactions (``***``,
``[MASKED]``, ``****``) are left in place; the engine never reports them.

The remote providers (GitHub Actions, GitLab CI, Jenkins) live in `sources/ciproviders.py` and use
`log_chunks()` and `github_zip_chunks()` from here.
"""

from __future__ import annotations

import codecs
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sprawlguard.errors import SourceError
from sprawlguard.model import Chunk, ItemError, Location
from sprawlguard.sources.archive import ArchiveError, Limits, iter_members, list_members
from sprawlguard.sources.base import Checkpoint, strip_ansi
from sprawlguard.sources.files import SNIFF_BYTES, is_binary

CHUNK_CHARS = 1024 * 1024  # cleaned text handed to the engine at once (small: a line list costs ~3x)
MAX_LINE_BYTES = 1024 * 1024  # a longer physical line is scanned in pieces (with overlap)
OVERLAP_CHARS = 4096
MIN_WRAP_WIDTH = 40  # narrower equal-width runs are not treated as a wrapped value
MAX_WRAP_WIDTH = 4096
DEFAULT_MAX_LOG_BYTES = 2 * 1024**3

_TS = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?"
_PREFIX = re.compile(
    r"\ufeff?(?:"
    rf"{_TS}Z [0-9a-f]{{2}}[OE](?P<flag>[ +])"  # GitLab FF_TIMESTAMPS: stream, O/E, '+' = continuation
    rf"|{_TS}Z "  # GitHub Actions
    rf"|\[{_TS}(?:Z|[+-]\d\d:?\d\d)?\] "  # Jenkins timestamper (pipeline `timestamps`)
    r"|\[\d\d:\d\d:\d\d(?:\.\d{1,6})?\] "  # Jenkins timestamper, time of day or elapsed
    r")?"
)
_CONSOLE_NOTE = re.compile(r"\x1b\[8mha:[A-Za-z0-9+/=]*\x1b\[0m")  # Jenkins serialized console notes
_SECTION = re.compile(r"section_(?:start|end):\d+:[A-Za-z0-9_.-]+(?:\[[^\]\r\n]*\])?\r?")  # GitLab
_MARKER = re.compile(r"^(?:##\[[a-z]+\]|\[command\]|\++ )")  # GitHub runner markers, `set -x` trace
_TOKEN_ONLY = re.compile(r"[A-Za-z0-9+/=_.~%-]+")
_TOKEN_END = re.compile(r"[A-Za-z0-9+/=_.~%-]$")


def clean_line(raw: str) -> tuple[str, bool]:
    """(text to scan, whether the line continues the previous one: GitLab's ``+`` flag)."""
    line = raw[:-1] if raw.endswith("\r") else raw
    m = _PREFIX.match(line)
    continues = m.group("flag") == "+"
    line = line[m.end():]
    if "\x1b[8m" in line:
        line = _CONSOLE_NOTE.sub("", line)
    if "section_" in line:
        line = _SECTION.sub("", line)
    if "\x1b" in line:
        line = strip_ansi(line)
    if "\r" in line:
        line = _resolve_cr(line)
    return _MARKER.sub("", line, count=1), continues


def _resolve_cr(line: str) -> str:
    """Progress bars rewrite a line after ``\\r``: keep every distinct state (a secret printed and
    then overwritten is still in the log), dropping states the next one merely extends."""
    parts = [p for p in line.split("\r") if p.strip()]
    if not parts:  # only blank states (e.g. "\r\t"): nothing to scan
        return ""
    kept = [p for p, nxt in zip(parts, parts[1:] + [""], strict=True) if not nxt.startswith(p)]
    return " ".join(kept)


def _raw_lines(stream: BinaryIO) -> Iterator[tuple[str, bool]]:
    """Decoded physical lines as (text, complete); a line longer than MAX_LINE_BYTES comes in
    several pieces (complete=False but for the last), each starting with the previous one's tail."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    carry = ""
    while True:
        raw = stream.readline(MAX_LINE_BYTES)
        if not raw:
            tail = decoder.decode(b"", final=True)
            if tail:
                yield carry + tail, True
            return
        text = decoder.decode(raw)
        if raw.endswith(b"\n"):
            yield carry + text[:-1], True
            carry = ""
        elif len(raw) < MAX_LINE_BYTES:  # the last line, without a newline
            yield carry + text + decoder.decode(b"", final=True), True
            return
        else:
            yield carry + text, False
            carry = text[-OVERLAP_CHARS:]


def cleaned_lines(stream: BinaryIO) -> Iterator[tuple[int, str]]:
    """(original line number, cleaned text) for every physical line of a log, in order.

    A GitLab continuation line is appended to the logical line it continues (reported at that
    line) and yields an empty line itself, so the count of lines never changes. Pieces of an
    over-long line share its line number.
    """
    held: list[Any] | None = None  # [line number, text, continuation lines] of the last line
    no = 0
    in_piece = False
    for text, complete in _raw_lines(stream):
        if in_piece:  # a later piece of an over-long line
            yield no, strip_ansi(text)
            in_piece = not complete
            continue
        no += 1
        cleaned, continues = clean_line(text)
        if continues and held is not None and complete and len(held[1]) < MAX_LINE_BYTES:
            held[1] += cleaned
            held[2] += 1
            continue
        if held is not None:
            yield from _release(held)
            held = None
        if complete:
            held = [no, cleaned, 0]
        else:
            yield no, cleaned
            in_piece = True
    if held is not None:
        yield from _release(held)


def _release(held: list[Any]) -> Iterator[tuple[int, str]]:
    no, text, continuations = held
    yield no, text
    for i in range(continuations):
        yield no + 1 + i, ""


class _Wraps:
    """Finds values a tool wrapped over several lines of equal width and returns them joined."""

    def __init__(self) -> None:
        self.run: list[str] = []
        self.start = 0

    def feed(self, no: int, text: str) -> tuple[int, str] | None:
        run = self.run
        width = len(run[0]) if run else 0
        if run and len(run[-1]) == width and 0 < len(text) <= width and _TOKEN_ONLY.fullmatch(text):
            run.append(text)
            return self.flush() if len(text) < width else None
        done = self.flush()
        if MIN_WRAP_WIDTH <= len(text) <= MAX_WRAP_WIDTH and _TOKEN_END.search(text):
            self.run, self.start = [text], no
        return done

    def flush(self) -> tuple[int, str] | None:
        run, self.run = self.run, []
        return (self.start, "".join(run)) if len(run) >= 2 else None


def log_chunks(stream: BinaryIO, location: Location, chunk_chars: int = CHUNK_CHARS) -> Iterator[Chunk]:
    """Cleaned chunks of a log, in bounded memory, with original line numbers."""
    lines: list[str] = []
    first = 1
    size = 0
    wraps = _Wraps()
    for no, text in cleaned_lines(stream):
        if lines and (no != first + len(lines) or size >= chunk_chars):
            yield Chunk("\n".join(lines) + "\n", location, first)
            lines, size = [], 0
        if not lines:
            first = no
        lines.append(text)
        size += len(text) + 1
        joined = wraps.feed(no, text)
        if joined is not None:
            yield Chunk(joined[1] + "\n", location, joined[0])
    if lines:
        yield Chunk("\n".join(lines) + "\n", location, first)
    joined = wraps.flush()
    if joined is not None:
        yield Chunk(joined[1] + "\n", location, joined[0])


# --- GitHub Actions log archives --------------------------------------------------------------

_GH_JOB = re.compile(r"(?P<n>\d+)_(?P<job>[^/]+)\.txt")
_GH_STEP = re.compile(r"(?P<job>[^/]+)/(?:(?P<n>\d+)_(?P<step>[^/]+)|(?P<system>system))\.txt")


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


@dataclass(frozen=True, slots=True)
class ZipEntry:
    """A member of a GitHub Actions run-log archive, with the job and step it belongs to."""

    name: str
    job: str | None = None
    step: str | None = None
    step_number: str | None = None


def github_zip_layout(names: Sequence[str]) -> list[ZipEntry]:
    """The members to scan: per-step files where a job has them, else the whole-job file.

    Run-log ZIPs hold ``N_<job>.txt`` (the whole job) and ``<job>/M_<step>.txt`` per step; newer
    archives often lack the step files, so the job file is the fallback. Other files are scanned
    as they are.
    """
    stepped = {_key(m["job"]) for n in names if (m := _GH_STEP.fullmatch(n)) and m["n"]}
    out: list[ZipEntry] = []
    for n in names:
        if m := _GH_JOB.fullmatch(n):
            if _key(m["job"]) not in stepped:
                out.append(ZipEntry(n, job=m["job"]))
        elif m := _GH_STEP.fullmatch(n):
            out.append(ZipEntry(n, job=m["job"], step=m["step"] or "system", step_number=m["n"]))
        else:
            out.append(ZipEntry(n))
    return out


def github_zip_chunks(archive: Path | BinaryIO, label: str, locate: Callable[[ZipEntry], Location],
                      limits: Limits | None = None) -> Iterator[Chunk | ItemError]:
    """Chunks of every log in a run-log archive; a corrupt archive or a zip bomb is an ItemError."""
    try:
        members = list_members(archive, limits, label)
        entries = {e.name: e for e in github_zip_layout([m.name for m in members])}
        for member, stream in iter_members(archive, limits, label, names=set(entries)):
            loc = locate(entries[member.name])
            head = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]
            if is_binary(head):
                yield ItemError(loc, "binary file in archive", kind="binary")
                continue
            yield from log_chunks(stream, loc)
    except ArchiveError as exc:
        yield ItemError(Location(source="ci", uri=f"zip:{label}", path=label), str(exc))


# --- local files, directories, archives and stdin ---------------------------------------------


@dataclass
class CiLogsSource:
    """Log files, directories of logs, ZIP archives of logs, and standard input (``-``)."""

    paths: Sequence[Path] = ()
    stdin: BinaryIO | None = None
    label: str = "<stdin>"
    limits: Limits = field(default_factory=Limits)
    max_file_bytes: int = DEFAULT_MAX_LOG_BYTES
    name: str = "ci-logs"
    checkpoint_key: str | None = None

    def __post_init__(self) -> None:
        for p in self.paths:
            if str(p) != "-" and not Path(p).exists():
                raise SourceError(f"{p}: no such file or directory")

    def estimate(self) -> int | None:
        if any(str(p) == "-" for p in self.paths):
            return None
        return sum(f.stat().st_size for f in self._files())

    def checkpoint(self) -> Checkpoint:
        return {}

    def chunks(self, resume: Checkpoint | None = None) -> Iterator[Chunk | ItemError]:
        if any(str(p) == "-" for p in self.paths):
            loc = Location(source="ci", uri=f"stdin:{self.label}", path=self.label)
            yield from log_chunks(self.stdin or sys.stdin.buffer, loc)
        for path in self._files():
            yield from self._one(path)

    def _files(self) -> Iterator[Path]:
        for p in self.paths:
            p = Path(p)
            if str(p) == "-":
                continue
            if p.is_file():
                yield p
                continue
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if d != ".git")
                for name in sorted(filenames):
                    yield Path(dirpath, name)

    def _one(self, path: Path) -> Iterator[Chunk | ItemError]:
        rel = str(path)
        loc = Location(source="ci", uri=f"file:{rel}", path=rel)
        try:
            size = path.stat().st_size
            if size > self.max_file_bytes:
                yield ItemError(loc, f"{size} bytes, larger than --max-log-size ({self.max_file_bytes} bytes)",
                                kind="too_large")
                return
            with path.open("rb") as fh:
                if fh.read(4) == b"PK\x03\x04":
                    fh.seek(0)
                    yield from github_zip_chunks(fh, rel, lambda e: _zip_location(rel, e), self.limits)
                    return
                fh.seek(0)
                head = fh.read(SNIFF_BYTES)
                if is_binary(head):
                    yield ItemError(loc, "binary file", kind="binary")
                    return
                fh.seek(0)
                yield from log_chunks(fh, loc)  # type: ignore[arg-type]
        except OSError as exc:
            yield ItemError(loc, f"cannot read: {exc.strerror or exc}")


def _zip_location(archive: str, e: ZipEntry) -> Location:
    details = {k: v for k, v in (("job", e.job), ("step", e.step), ("step_number", e.step_number)) if v}
    return Location(source="ci", uri=f"zip:{archive}!{e.name}", path=f"{archive}!{e.name}", details=details)
