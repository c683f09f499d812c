"""Safe ZIP reading for sources (CI log archives, Slack exports): bounded memory, bounded work.

`iter_members(zip, limits)` yields each file member with a stream that reads it lazily;
`list_members(zip, limits)` only lists them. Limits on member count, per-member and total uncompressed size and compression ratio are
checked on the sizes the archive declares *and* on the bytes actually decompressed (a zip bomb can
lie about its sizes). Every problem, including a truncated or corrupt archive, is an `ArchiveError`
with a message that names the archive and the member, never the content::

    for member, stream in iter_members(path):
        for block in iter(lambda: stream.read(1 << 20), b""):
            ...
"""

from __future__ import annotations

import io
import lzma
import zipfile
import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sprawlguard.errors import SourceError


class ArchiveError(SourceError):
    """The archive is corrupt, truncated, or exceeds a limit (a zip bomb)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What an archive may hold before reading it is refused."""

    max_members: int = 100_000
    max_member_bytes: int = 1 << 30  # 1 GiB uncompressed per member
    max_total_bytes: int = 4 << 30  # 4 GiB uncompressed in all
    max_ratio: float = 200.0  # uncompressed / compressed, per member (logs compress ~10-30x)
    ratio_floor_bytes: int = 1 << 20  # members smaller than this are never refused for their ratio


@dataclass(frozen=True, slots=True)
class Member:
    """A file inside an archive, with its declared sizes."""

    name: str
    size: int
    compressed_size: int


_CORRUPT = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, RuntimeError, NotImplementedError,
            ValueError)


class _Bounded(io.RawIOBase):
    """Reads a member, failing once it decompresses more than the limits allow."""

    def __init__(self, raw: BinaryIO, member: Member, limits: Limits, label: str, budget: list[int]) -> None:
        self._raw = raw
        self._member = member
        self._limits = limits
        self._label = label
        self._budget = budget  # [bytes left for the whole archive], shared by all members
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = 1 << 20  # never decompress a whole member at once
        try:
            data = self._raw.read(size)
        except _CORRUPT as exc:
            raise ArchiveError(f"{self._label}: {self._member.name}: corrupt or truncated ({exc})") from None
        self._read += len(data)
        self._budget[0] -= len(data)
        lim = self._limits
        if self._read > lim.max_member_bytes:
            raise ArchiveError(f"{self._label}: {self._member.name}: more than {lim.max_member_bytes} bytes "
                               "uncompressed (limit)")
        if self._budget[0] < 0:
            raise ArchiveError(f"{self._label}: more than {lim.max_total_bytes} bytes uncompressed in all (limit)")
        if self._read > lim.ratio_floor_bytes and self._read > lim.max_ratio * max(1, self._member.compressed_size):
            raise ArchiveError(f"{self._label}: {self._member.name}: compression ratio above {lim.max_ratio:g} "
                               "(zip bomb?)")
        return data

    def close(self) -> None:
        self._raw.close()
        super().close()


def _open(archive: Path | BinaryIO, label: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(archive)
    except _CORRUPT as exc:
        raise ArchiveError(f"{label}: not a ZIP archive, or truncated ({exc})") from None


def _checked(zf: zipfile.ZipFile, limits: Limits, label: str) -> list[zipfile.ZipInfo]:
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > limits.max_members:
        raise ArchiveError(f"{label}: {len(infos)} members, more than the limit of {limits.max_members}")
    declared = sum(i.file_size for i in infos)
    if declared > limits.max_total_bytes:
        raise ArchiveError(f"{label}: declares {declared} bytes uncompressed, more than the limit of "
                           f"{limits.max_total_bytes} (zip bomb?)")
    return infos


def _label(archive: Path | BinaryIO, label: str | None) -> str:
    return label or (str(archive) if isinstance(archive, Path) else "archive")


def list_members(archive: Path | BinaryIO, limits: Limits | None = None,
                 label: str | None = None) -> list[Member]:
    """The file members (directories skipped), after the archive-wide checks of `iter_members`."""
    label = _label(archive, label)
    with _open(archive, label) as zf:
        return [Member(i.filename, i.file_size, i.compress_size) for i in _checked(zf, limits or Limits(), label)]


def iter_members(archive: Path | BinaryIO, limits: Limits | None = None, label: str | None = None,
                 names: Collection[str] | None = None) -> Iterator[tuple[Member, BinaryIO]]:
    """Each file member (directories skipped; only `names` if given) in archive order, with a
    lazily decompressing stream.

    Raises ArchiveError before yielding anything when the archive is not a readable ZIP or its
    declared sizes break the limits, and from the stream's `read()` when the actual data does.
    Read each stream before advancing the iterator (it is closed when the next member starts).
    Read in blocks (`read(n)`, `readline(n)`): `read()` with no size would hold a member in memory.
    """
    limits = limits or Limits()
    label = _label(archive, label)
    with _open(archive, label) as zf:
        budget = [limits.max_total_bytes]
        for info in _checked(zf, limits, label):
            if names is not None and info.filename not in names:
                continue
            member = Member(info.filename, info.file_size, info.compress_size)
            if info.file_size > limits.max_member_bytes:
                raise ArchiveError(f"{label}: {member.name}: declares {info.file_size} bytes, more than the "
                                   f"limit of {limits.max_member_bytes}")
            if (info.file_size > limits.ratio_floor_bytes
                    and info.file_size > limits.max_ratio * max(1, info.compress_size)):
                raise ArchiveError(f"{label}: {member.name}: compression ratio above {limits.max_ratio:g} "
                                   "(zip bomb?)")
            try:
                raw = zf.open(info)
            except _CORRUPT as exc:
                raise ArchiveError(f"{label}: {member.name}: corrupt or truncated ({exc})") from None
            stream = _Bounded(raw, member, limits, label, budget)  # type: ignore[arg-type]
            try:
                yield member, io.BufferedReader(stream, 1 << 16)  # type: ignore[misc]
            finally:
                stream.close()
