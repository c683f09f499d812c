"""Git history and staged changes.

History (`GitHistorySource`) is scanned blob by blob, each unique blob once, from one streaming
`git cat-file --batch` process (never one process per commit):

- all refs (default, incl. tags, remotes and the stash) or `--branch` / `--since-commit`:
  `git rev-list --objects --filter=object:type=blob REFS [^SINCE]` feeds `git cat-file --batch`
  (rev-list order is close to pack order, and gives each blob a path for path-scoped rules);
- `--include-unreachable`: `git cat-file --batch-all-objects --batch --unordered`, every object in
  pack order, including blobs only reachable from the reflog or dangling after a deleted branch.

Chunks carry the blob id in ``details["blob"]``. Provenance is attached after matching, and only for
the blobs that matched: the pipeline calls `resolve(matches)`, which makes one
`git log --raw --no-abbrev -c` pass over the commit graph (tree diffs only, no content) and maps each
matched blob to the commits that introduced it; the oldest is ``first_commit``.

Staged changes (`GitStagedSource`) come from one `git diff --cached -U0` process: only added lines,
with their line numbers in the new file, read from the index (not the working tree).
"""

from __future__ import annotations

import codecs
import contextlib
import io
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from sprawlguard.errors import SourceError, UsageError
from sprawlguard.model import Chunk, ItemError, Location, Match
from sprawlguard.sources.base import Checkpoint
from sprawlguard.sources.files import (
    CHUNK_BYTES,
    DEFAULT_MAX_FILE_BYTES,
    SNIFF_BYTES,
    _encoding_for,
    is_binary,
    read_chunks,
)

GIT = ("git", "-c", "core.quotePath=false", "-c", "diff.noprefix=false", "-c", "core.fsmonitor=false",
       "-c", "diff.mnemonicPrefix=false", "-c", "color.ui=false")
PIPE_BUFFER = 1 << 20
_COPY_BYTES = 1 << 20
_SEP = "\x1f"


def _unquote(path: str) -> str:
    """git's C-style quoting (`"a\\tb"`) of unusual paths, undone."""
    if len(path) >= 2 and path[0] == '"' and path[-1] == '"':
        raw = codecs.escape_decode(path[1:-1].encode("utf-8"))[0]
        return raw.decode("utf-8", "replace")  # type: ignore[union-attr]
    return path


def _decode(data: bytes) -> str:
    return data.decode(_encoding_for(data[:4]), errors="replace")


@dataclass
class _Intro:
    """One commit that introduced a blob at a path."""

    commit: str
    path: str
    time: int
    order: int
    author: str
    date: str


@dataclass
class GitHistorySource:
    """Every unique blob of a repository's history, once; provenance only for what matched."""

    repo: Path = Path(".")
    branches: Sequence[str] = ()
    since_commit: str | None = None
    include_unreachable: bool = False
    all_locations: bool = False
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    exclude: Sequence[str] = ()  # revisions whose history is left out (already pushed)
    not_on_remotes: bool = False  # leave out commits any remote-tracking branch has
    incremental: bool = False  # checkpoint the ref tips scanned; later runs scan only newer commits
    name: str = "git"
    helper_processes: int = 1  # git cat-file decompresses while we scan (see pipeline.auto_jobs)
    _commits: list[str] = field(default_factory=list, init=False, repr=False)
    _log: tuple[subprocess.Popen[bytes], IO[bytes]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        # plain `git rev-parse`, not gitpython: importing gitpython (which runs `git version`)
        # took ~80 ms of every history scan's start-up, for two plumbing calls
        if not Path(self.repo).is_dir():
            raise SourceError(f"{self.repo}: no such directory")
        out = subprocess.run([*GIT, "-C", str(self.repo), "rev-parse", "--absolute-git-dir"],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise SourceError(f"{self.repo}: not a git repository",
                              hint="pass the path of a git work tree or bare repository")
        self.git_dir = Path(out.stdout.strip())
        self._revs = [self._resolve_rev(b) for b in self.branches]
        self._since = self._resolve_rev(self.since_commit) if self.since_commit else None
        self._exclude = [self._resolve_rev(x) for x in self.exclude]
        # Incremental: the tips scanned by the last run are excluded (`tips ^old_tips`), so only
        # commits (and blobs) added since are read. Keyed on the repository's git directory.
        self.checkpoint_key: str | None = None
        self._tips: list[str] | None = None  # the tips this run scans (fixed at its start)
        self._old_tips: list[str] = []  # the tips the last run scanned (excluded now)
        self._scanned_tips: list[str] = []  # what checkpoint() reports: old tips until the stream ends
        if self.incremental:
            if self.include_unreachable or self.not_on_remotes:
                raise UsageError("--incremental cannot be combined with --include-unreachable or --pre-push")
            self.checkpoint_key = f"git:{self.git_dir.resolve()}"

    def _resolve_rev(self, rev: str) -> str:
        out = None if rev.startswith("-") else subprocess.run(
            self._git("rev-parse", "--verify", "--quiet", rev), capture_output=True, text=True)
        if out is None or out.returncode != 0 or not out.stdout.strip():
            raise UsageError(f"{rev}: unknown revision in {self.repo}",
                             hint="use a branch, tag or commit id (see `git branch -a`)")
        return out.stdout.strip()

    def _git(self, *args: str) -> list[str]:
        return [*GIT, "--git-dir", str(self.git_dir), *args]

    def _rev_args(self) -> list[str]:
        if self._tips is not None:  # incremental: exactly the tips read at the start of this run
            revs = list(self._tips) + ["^" + x for x in self._old_tips]
        else:
            revs = list(self._revs) if self._revs else ["--all"]
        revs += ["^" + x for x in ([self._since] if self._since else []) + self._exclude]
        if self.not_on_remotes:
            revs += ["--not", "--remotes"]
        return revs

    # -- Source protocol ---------------------------------------------------------------------

    def estimate(self) -> int | None:
        """Roughly the unpacked size: packs hold deltas, text inflates several times over."""
        out = subprocess.run(self._git("count-objects", "-v"), capture_output=True, text=True)
        kib = dict(line.split(": ", 1) for line in out.stdout.splitlines() if ": " in line)
        return (int(kib.get("size-pack", 0)) * 6 + int(kib.get("size", 0))) * 1024

    def checkpoint(self) -> Checkpoint:
        return {"version": 1, "tips": sorted(self._scanned_tips)} if self.incremental else {}

    def chunks(self, resume: Checkpoint | None = None) -> Iterator[Chunk | ItemError]:
        if self.include_unreachable:
            yield from self._all_objects()
            return
        if not self.incremental:
            yield from self._rev_list_objects()
            return
        self._old_tips = self._scanned_tips = self._existing(list((resume or {}).get("tips") or []))
        self._tips = self._current_tips()
        if set(self._tips) <= set(self._scanned_tips):
            return  # nothing new (or an empty repository)
        failed = False
        for item in self._rev_list_objects():
            failed = failed or (isinstance(item, ItemError) and item.kind == "error")
            yield item
        if not failed:  # every blob of the new commits was yielded and consumed
            self._scanned_tips = list(self._tips)

    def _current_tips(self) -> list[str]:
        """The commits (or tags) every ref and HEAD point at now; or the --branch revisions."""
        if self._revs:
            return list(dict.fromkeys(self._revs))
        out = subprocess.run(self._git("rev-parse", "--all"), capture_output=True, text=True)
        head = subprocess.run(self._git("rev-parse", "--verify", "--quiet", "HEAD"), capture_output=True, text=True)
        return list(dict.fromkeys(out.stdout.split() + head.stdout.split()))

    def _existing(self, shas: list[str]) -> list[str]:
        """The old tips still in the repository (a force-push and gc may have dropped some)."""
        shas = [s for s in shas if isinstance(s, str) and len(s) in (40, 64) and s.isalnum()]
        if not shas:
            return []
        out = subprocess.run(self._git("cat-file", "--batch-check"), input="".join(s + "\n" for s in shas),
                             capture_output=True, text=True)
        return [line.split()[0] for line in out.stdout.splitlines() if not line.endswith(" missing")]

    # -- the hot path: one cat-file stream ---------------------------------------------------

    def _all_objects(self) -> Iterator[Chunk | ItemError]:
        cmd = self._git("cat-file", "--batch-all-objects", "--batch", "--unordered")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, bufsize=PIPE_BUFFER)
        assert proc.stdout is not None
        _widen(proc.stdout)
        try:
            yield from self._read_batch(proc.stdout, {})
        finally:
            proc.kill()
            proc.wait()

    def _rev_list_objects(self) -> Iterator[Chunk | ItemError]:
        self._start_log()
        rev_list = subprocess.Popen(
            self._git("rev-list", "--objects", "--filter=object:type=blob", *self._rev_args()),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=PIPE_BUFFER)
        cat = subprocess.Popen(self._git("cat-file", "--batch"), stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, bufsize=PIPE_BUFFER)
        _widen(cat.stdout)
        paths: dict[str, str] = {}
        feeder = threading.Thread(target=self._feed, args=(rev_list.stdout, cat.stdin, paths),
                                  daemon=True)
        feeder.start()
        assert cat.stdout is not None
        try:
            yield from self._read_batch(cat.stdout, paths)
            feeder.join()
            if rev_list.wait() != 0:
                assert rev_list.stderr is not None
                err = rev_list.stderr.read().decode("utf-8", "replace").strip()
                yield ItemError(Location("git", f"git:{self.repo}"), f"git rev-list failed: {err}")
        finally:
            for p in (rev_list, cat):
                p.kill()
                p.wait()

    @staticmethod
    def _feed(src: IO[bytes] | None, dst: IO[bytes] | None, paths: dict[str, str]) -> None:
        """rev-list -> cat-file: blob ids (with their path remembered); commits are dropped."""
        assert src is not None and dst is not None
        try:
            for line in src:
                sha, _, path = line.rstrip(b"\n").partition(b" ")
                if not path:
                    continue  # a commit (trees are filtered out)
                paths[sha.decode()] = path.decode("utf-8", "replace")
                dst.write(sha + b"\n")
        except BrokenPipeError:  # pragma: no cover - the reader stopped early
            return
        finally:
            with contextlib.suppress(BrokenPipeError):
                dst.close()

    def _read_batch(self, out: IO[bytes], paths: dict[str, str]) -> Iterator[Chunk | ItemError]:
        readline, read = out.readline, out.read
        while True:
            header = readline()
            if not header:
                return
            fields = header.split()
            if len(fields) != 3:
                continue  # "<id> missing"
            sha_b, kind_b, size_b = fields
            size = int(size_b)
            sha = sha_b.decode()
            if kind_b != b"blob":
                if kind_b == b"commit":
                    self._commits.append(sha)
                read(size + 1)
                continue
            path = paths.pop(sha, None)
            loc = Location(source="git", uri=f"git:blob:{sha}", path=path, details={"blob": sha})
            if size > self.max_file_bytes:
                _Blob(read, size + 1).drain()  # and the newline after it
                yield ItemError(loc, f"blob of {size} bytes, larger than --max-file-size "
                                f"({self.max_file_bytes} bytes)", kind="too_large")
                continue
            if size <= CHUNK_BYTES:
                data = read(size)
                read(1)  # the newline after each object
                if is_binary(data[:SNIFF_BYTES]):
                    yield ItemError(loc, "binary blob", kind="binary")
                elif data:
                    yield Chunk(text=_decode(data), location=loc)
                continue
            # a big blob is streamed from the pipe in chunks, never held whole
            blob = _Blob(read, size)
            head = blob.peek(SNIFF_BYTES)
            if is_binary(head):
                yield ItemError(loc, "binary blob", kind="binary")
            else:
                yield from read_chunks(blob, loc, _encoding_for(head[:4]),  # type: ignore[arg-type]
                                       chunk_bytes=CHUNK_BYTES)
            blob.drain()
            read(1)

    # -- provenance, after matching ------------------------------------------------------------

    def resolve(self, matches: Sequence[Match]) -> list[Match]:
        """Matches on blobs -> matches on commits (first introduction; or every one if asked).

        Called by the pipeline once, after scanning, with the matches of this source only. Blobs
        that no commit in the scanned range introduces (dangling blobs, or unreachable ones when
        scanning refs) keep an empty commit and are reported as historic.
        """
        wanted = {m.location.details.get("blob", "") for m in matches} - {""}
        if not wanted:
            return list(matches)
        intros = self._introductions(wanted)
        head = self._head_blobs()
        out: list[Match] = []
        for m in matches:
            blob = m.location.details.get("blob")
            if not blob:
                out.append(m)
                continue
            found = sorted(intros.get(blob, []), key=lambda i: (i.time, -i.order))
            if not found:
                details = {"blob": blob, "commit": "", "first_commit": "", "commits_count": "0",
                           "historic": "true", "path": m.location.path or ""}
                out.append(replace(m, location=replace(m.location, details=details)))
                continue
            first = found[0]
            chosen = found if self.all_locations else [first]
            for intro in chosen:
                details = {
                    "commit": intro.commit,
                    "first_commit": first.commit,
                    "author": intro.author,
                    "date": intro.date,
                    "path": intro.path,
                    "commits_count": str(len(found) - 1),
                    "historic": "false" if (blob, intro.path) in head else "true",
                    "blob": blob,
                }
                loc = Location(source="git", uri=f"git:{intro.commit}:{intro.path}",
                               path=intro.path, author=intro.author, when=intro.date,
                               details=details)
                out.append(replace(m, location=loc))
        return out

    def _log_args(self) -> list[str]:
        fmt = _SEP.join(["%x00%H", "%ct", "%an <%ae>", "%aI"])
        return ["log", "--raw", "--no-abbrev", "-c", "--no-renames", "--no-color", f"--format={fmt}"]

    def _start_log(self) -> None:
        """Start the provenance pass while the blobs are scanned (its output goes to a temporary
        file), so `resolve` does not wait for git afterwards. Not for --include-unreachable,
        whose commit list is known only at the end of the object stream."""
        import tempfile

        out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _introductions, or with the source
        self._log = (subprocess.Popen(self._git(*self._log_args(), *self._rev_args()),
                                      stdout=out, stderr=subprocess.DEVNULL), out)

    def _introductions(self, wanted: set[str]) -> dict[str, list[_Intro]]:
        """One `git log --raw` pass: for each wanted blob, the commits whose diff adds it."""
        if self._log is not None:
            proc, out = self._log
            self._log = None
            proc.wait()
            out.seek(0)
            with out:
                return self._parse_log(out, wanted)
        args = self._log_args()
        stdin = None
        if self.include_unreachable:
            args += ["--all", "--reflog", "--stdin"]
            stdin = "".join(c + "\n" for c in self._commits)
        else:
            args += self._rev_args()
        proc = subprocess.Popen(self._git(*args), stdin=subprocess.PIPE if stdin else None,
                                stdout=subprocess.PIPE, bufsize=PIPE_BUFFER)
        if stdin:
            assert proc.stdin is not None
            threading.Thread(target=_write_close, args=(proc.stdin, stdin.encode()),
                             daemon=True).start()
        assert proc.stdout is not None
        found = self._parse_log(proc.stdout, wanted)
        proc.wait()
        return found

    @staticmethod
    def _parse_log(lines: IO[bytes], wanted: set[str]) -> dict[str, list[_Intro]]:
        """Only lines adding a wanted blob are decoded (the log holds every change of history)."""
        found: dict[str, list[_Intro]] = {}
        seen: set[tuple[str, str, str]] = set()
        header = b""
        order = 0
        want = {w.encode() for w in wanted}
        for raw in lines:
            if raw.startswith(b"\x00"):
                header = raw
                order += 1
            elif raw.startswith(b":"):
                meta, _, path_b = raw.rstrip(b"\n").partition(b"\t")
                fields = meta.lstrip(b":").split()
                nparents = len(meta) - len(meta.lstrip(b":"))
                new_b = fields[2 * (nparents + 1) - 1] if len(fields) > 2 * nparents + 1 else b""
                if new_b not in want:
                    continue
                commit, ct, author, date = header[1:].decode("utf-8", "replace").rstrip("\n").split(_SEP, 3)
                new, path = new_b.decode(), path_b.decode("utf-8", "replace")
                if (new, commit, path) not in seen:
                    seen.add((new, commit, path))
                    found.setdefault(new, []).append(
                        _Intro(commit, _unquote(path), int(ct), order, author, date))
        return found

    def _head_blobs(self) -> set[tuple[str, str]]:
        """(blob, path) pairs in HEAD's tree, to tell current exposures from historic ones."""
        out = subprocess.run(self._git("ls-tree", "-r", "--full-tree", "HEAD"),
                             capture_output=True)
        pairs: set[tuple[str, str]] = set()
        for raw in out.stdout.decode("utf-8", "replace").splitlines():
            meta, _, path = raw.partition("\t")
            parts = meta.split()
            if len(parts) == 3 and parts[1] == "blob":
                pairs.add((parts[2], _unquote(path)))
        return pairs


class _Blob:
    """The next `size` bytes of a `cat-file --batch` stream, read on demand in bounded pieces."""

    def __init__(self, read: Callable[[int], bytes], size: int) -> None:
        self._read = read
        self._left = size
        self._head = b""

    def peek(self, n: int) -> bytes:
        if len(self._head) < n:
            more = self._read(min(n, self._left) - len(self._head))
            self._head += more
            self._left -= len(more)
        return self._head[:n]

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = len(self._head) + self._left
        data, self._head = self._head[:n], self._head[n:]
        if len(data) < n and self._left:
            more = self._read(min(n - len(data), self._left))
            self._left -= len(more)
            data += more
        return data

    def drain(self) -> None:
        """Skip what was not read (a binary blob), so the stream is at the next object."""
        self._head = b""
        while self._left:
            got = len(self._read(min(self._left, _COPY_BYTES)))
            if not got:
                return  # git stopped early: the next readline() sees the end
            self._left -= got


def _widen(pipe: IO[bytes] | None) -> None:
    """Let git run up to 1 MB ahead of us (Linux; the default pipe holds 64 KB). With a small
    pipe git stalls whenever one blob takes us longer to scan, and we then wait for git."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BUFFER)  # type: ignore[union-attr]
    except (ImportError, AttributeError, OSError):  # not Linux, or above /proc/sys/fs/pipe-max-size
        pass


def _write_close(stream: IO[bytes], data: bytes) -> None:
    try:
        stream.write(data)
        stream.close()
    except BrokenPipeError:  # pragma: no cover
        pass


@dataclass
class GitStagedSource:
    """Only what is staged for the next commit: added lines from the index, with new line numbers."""

    repo: Path = Path(".")
    name: str = "staged"
    _diff: bytes | None = field(default=None, init=False, repr=False)

    def estimate(self) -> int | None:
        return len(self._read_diff())

    def checkpoint(self) -> Checkpoint:
        return {}

    def _read_diff(self) -> bytes:
        if self._diff is None:
            cmd = [*GIT, "-C", str(self.repo), "diff", "--cached", "-U0", "--no-color",
                   "--no-ext-diff", "--no-textconv", "--diff-filter=ACMR", "--src-prefix=a/",
                   "--dst-prefix=b/", "--ignore-submodules", "--"]
            try:
                proc = subprocess.run(cmd, capture_output=True)
            except FileNotFoundError:
                raise SourceError("git is not installed or not on PATH") from None
            if proc.returncode != 0:
                if not Path(self.repo).is_dir():
                    raise SourceError(f"{self.repo}: no such directory")
                err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
                if proc.returncode == 129 or any("not a git repository" in e.lower() for e in err):
                    raise SourceError(f"{self.repo}: not a git repository",
                                      hint="run `sprawlguard scan staged` inside a git work tree")
                raise SourceError(f"git diff --cached failed: {err[-1] if err else proc.returncode}")
            self._diff = proc.stdout
        return self._diff

    def chunks(self, resume: Checkpoint | None = None) -> Iterator[Chunk | ItemError]:
        path = ""
        start = 0
        lines: list[str] = []

        def flush() -> Iterator[Chunk]:
            if lines and path:
                loc = Location(source="staged", uri=f"staged:{path}", path=path,
                               details={"staged": "true"})
                yield Chunk(text="".join(lines), location=loc, first_line=start)
            lines.clear()

        for raw in io.BytesIO(self._read_diff()):
            if raw.startswith(b"+") and not raw.startswith(b"+++ "):
                lines.append(raw[1:].decode("utf-8", "replace"))
            elif raw.startswith(b"@@ "):
                yield from flush()
                new = raw.split(b" ")[2]  # +c,d
                start = int(new[1:].split(b",")[0])
            elif raw.startswith(b"+++ "):
                yield from flush()
                target = _unquote(raw[4:].rstrip(b"\n").decode("utf-8", "replace"))
                path = target[2:] if target.startswith("b/") else target
            elif raw.startswith(b"diff --git "):
                yield from flush()
                path = ""
            elif raw.startswith(b"Binary files "):
                target = raw.rstrip(b"\n").rsplit(b" and ", 1)[-1].removesuffix(b" differ")
                name = _unquote(target.decode("utf-8", "replace"))
                name = name[2:] if name.startswith("b/") else name
                yield ItemError(Location(source="staged", uri=f"staged:{name}", path=name),
                                "binary file", kind="binary")
        yield from flush()


ZERO_SHA = "0" * 40


def pre_push_revs(stdin_text: str, environ: dict[str, str]) -> tuple[list[str], list[str]]:
    """(revisions to scan, revisions to leave out) for a pre-push hook.

    pre-commit passes the pushed range as PRE_COMMIT_FROM_REF/PRE_COMMIT_TO_REF; a plain git
    pre-push hook gets `<local ref> <local sha> <remote ref> <remote sha>` lines on stdin. Without
    either, what HEAD has that no remote-tracking branch has. Deleting a remote branch pushes nothing.
    """
    to_ref, from_ref = environ.get("PRE_COMMIT_TO_REF"), environ.get("PRE_COMMIT_FROM_REF")
    if to_ref:
        return [to_ref], [from_ref] if from_ref and from_ref != ZERO_SHA else []
    scan, leave = [], []
    for line in stdin_text.splitlines():
        fields = line.split()
        if len(fields) != 4 or fields[1] == ZERO_SHA:
            continue
        scan.append(fields[1])
        if fields[3] != ZERO_SHA:
            leave.append(fields[3])
    if not stdin_text.strip():
        scan = ["HEAD"]
    return scan, leave


def describe_findings(result: Any, limit: int = 20) -> list[str]:
    """`path:line (rule)` for each failing exposure, for the pre-commit failure message."""
    out = dict.fromkeys(f"{e.location.path or e.location.uri}:{e.line} ({s.rule_id})"
                        for s in result.secrets for e in s.exposures)  # two rules, one place: once
    return list(out)[:limit]


def sync_mirror(url: str, dest: Path, auth_header: str | None = None, timeout: float = 3600) -> None:
    """Clone `url` as a bare mirror into `dest` on first use, `git fetch --prune` afterwards.

    `auth_header` (e.g. ``Authorization: Basic ...``) is handed to git through the environment
    (GIT_CONFIG_*), never on the command line, so it does not show in process lists. Errors name
    the URL without any credentials it may embed.
    """
    import os

    from sprawlguard.redact import scrub_url_credentials

    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    if auth_header:
        env.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                    "GIT_CONFIG_VALUE_0": auth_header})
    if (dest / "HEAD").is_file():
        cmd = [*GIT, "--git-dir", str(dest), "fetch", "--prune", "--quiet", "origin"]
        what = "fetch"
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".partial")
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp)
        cmd = [*GIT, "clone", "--mirror", "--quiet", url, str(tmp)]
        what = "clone"
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise SourceError(f"git {what} {scrub_url_credentials(url)}: timed out after {timeout:.0f} s") from None
    if proc.returncode != 0:
        lines = [x for x in proc.stderr.strip().splitlines() if x.strip()]
        reason = scrub_url_credentials(lines[-1] if lines else f"exit code {proc.returncode}")
        raise SourceError(f"git {what} {scrub_url_credentials(url)} failed: {reason[:300]}",
                          hint="check the URL and the credentials (token_env) of this repository")
    if what == "clone":
        tmp.rename(dest)
