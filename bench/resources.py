"""Resource bounds: huge and hostile inputs, peak memory and the reason for any skip or error.

Run by hand:  python bench/resources.py [--only NAME ...] [--jobs N] [--keep]

Each case builds its input at run time in $TMPDIR/sprawlguard-resources (deleted afterwards unless
--keep), with fake GitHub tokens planted near the start, in the middle and at the end, then runs the
real CLI in a child process (`sprawlguard scan path|git|ci-logs ... --no-db --no-verify -f json`)
and prints wall seconds, the peak RSS of the largest process of the child's tree (os.wait4
ru_maxrss: sprawlguard, its engine workers or git, whichever peaked highest), the exit code, the
planted tokens found at their exact line and column, the other findings, and the skip or error
reason the scan stated. Cases:

  baseline        one small file: start-up, rules and engine (the fixed part of the bound)
  2gb-skipped     a 2 GB text file with the default --max-file-size: skipped, with the reason
  2gb-scanned     the same file with --max-file-size 3GB: scanned in 4 MB chunks
  line-200mb      a 200 MB file that is one single line (--max-file-size 1GB: the default skips it)
  zip-10k         a GitHub Actions run-log ZIP with 10,000 step logs (`scan ci-logs`)
  zip-bomb        a ZIP whose one log inflates to 3 GiB at ratio ~1000 (`scan ci-logs`): refused
  zip-bomb-lying  a ZIP whose headers declare 1 MB for a log that inflates to 1 GiB: refused
  git-500mb       a repository whose history holds a 500 MB blob, default limit: skipped
  git-500mb-scan  the same with --max-file-size 1GB: streamed from `git cat-file --batch`

Never gates CI.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sprawlguard.detect.fakes import expand

TOKEN = "ghp_{{gen:alnum:30}}{{checksum:github}}"
WORDS = ["request", "worker", "batch", "queue", "status", "ok", "done", "retry", "cache", "index", "build",
         "step", "deploy", "user", "service", "config", "value", "record", "table", "node", "cluster",
         "shard", "region", "backup", "report", "event"]
MB = 1_000_000


@dataclass
class Planted:
    """A fake token written at a known place."""

    token: str
    path: str  # the reported location path (file, archive!member or git path)
    line: int
    column: int


@dataclass
class Case:
    name: str
    what: str
    args: list[str]
    planted: list[Planted] = field(default_factory=list)  # what a complete scan must report


def filler_lines(rng: random.Random, n: int) -> list[str]:
    """Log-like lines of plain words: nothing a rule reports."""
    out = []
    for i in range(n):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))
        out.append(f"INFO {i % 60:02d}:{i % 59:02d} {words} in {rng.randint(1, 999)} ms\n")
    return out


def block(rng: random.Random, size: int) -> tuple[bytes, int]:
    """About `size` bytes of filler lines, and how many lines that is."""
    lines = filler_lines(rng, size // 60)
    data = "".join(lines).encode()
    return data, len(lines)


# -- inputs ------------------------------------------------------------------------------------


def big_text(path: Path, size: int, rng: random.Random) -> list[Planted]:
    """A text file of `size` bytes in lines, with tokens in lines near the start, middle and end."""
    blk, nlines = block(rng, 1 << 20)
    planted: list[Planted] = []
    line = 1
    written = 0
    marks = [0, size // 2, size - len(blk) - 200]
    with path.open("wb") as fh:
        while written < size - 200:
            if marks and written >= marks[0]:
                marks.pop(0)
                token = expand(TOKEN, rng)
                prefix = "    github_token: "
                fh.write(f"{prefix}{token}\n".encode())
                planted.append(Planted(token, str(path), line, len(prefix) + 1))
                written += len(prefix) + len(token) + 1
                line += 1
                continue
            fh.write(blk)
            written += len(blk)
            line += nlines
    return planted


def single_line(path: Path, size: int, rng: random.Random) -> list[Planted]:
    """One line of `size` bytes (a minified bundle), tokens near its start, middle and end."""
    words = " ".join(rng.choice(WORDS) for _ in range(200_000)).encode() + b" "
    planted: list[Planted] = []
    column = 1
    marks = [1000, size // 2, size - 5000]
    with path.open("wb") as fh:
        while column - 1 < size:
            if marks and column - 1 >= marks[0]:
                marks.pop(0)
                token = expand(TOKEN, rng)
                piece = f'var gh="{token}"; '.encode()
                planted.append(Planted(token, str(path), 1, column + len('var gh="')))
            else:
                upto = marks[0] if marks else size
                piece = words[: max(1, min(len(words), upto - (column - 1)))]
            fh.write(piece)
            column += len(piece)
        fh.write(b"\n")
    return planted


STAMP = "2025-04-07T12:57:33.2904078Z "


def run_log_zip(path: Path, members: int, rng: random.Random) -> list[Planted]:
    """A GitHub Actions run-log archive: `job_J/S_step S.txt` files with timestamped lines."""
    lines = [STAMP + ln for ln in filler_lines(rng, 50)]
    body = "".join(lines)
    jobs = max(1, members // 100)
    planted: list[Planted] = []
    marks = {0, members // 2, members - 1}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for i in range(members):
            name = f"job_{i % jobs}/{i // jobs + 1}_step {i // jobs + 1}.txt"
            text = body
            if i in marks:
                token = expand(TOKEN, rng)
                text += f"{STAMP}+ export GITHUB_TOKEN={token}\n"
                planted.append(Planted(token, f"{path}!{name}", 51, len("export GITHUB_TOKEN=") + 1))
            zf.writestr(name, text)
    return planted


def zip_bomb(path: Path, size: int) -> None:
    """One text log of `size` bytes of a repeated line: deflate squeezes it ~1000 times."""
    line = (STAMP + "ok " * 20 + "\n").encode()
    blk = line * ((1 << 20) // len(line))
    with (zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
          zf.open("1_build.txt", "w", force_zip64=size >= 1 << 31) as fh):
        left = size
        while left > 0:
            fh.write(blk[:left])
            left -= len(blk)


def lying_zip_bomb(path: Path, size: int, declared: int) -> None:
    """A bomb whose local and central headers declare `declared` bytes (and a plausible ratio)."""
    zip_bomb(path, size)
    data = bytearray(path.read_bytes())
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, declared)  # uncompressed size
    struct.pack_into("<I", data, central + 24, declared)
    path.write_bytes(bytes(data))


def git_big_blob(repo: Path, size: int, rng: random.Random) -> tuple[list[Planted], list[Planted]]:
    """A repository: a small config with a token, then a `size`-byte log file committed and deleted.
    Returns (tokens in the big blob, tokens elsewhere)."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}

    def commit(msg: str) -> None:
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
        subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", msg], check=True, env=env)

    small = expand(TOKEN, rng)
    (repo / "settings.py").write_text(f'GITHUB_TOKEN = "{small}"\n')
    commit("settings")
    big = big_text(repo / "dump.log", size, rng)
    commit("add a dump by mistake")
    (repo / "dump.log").unlink()
    commit("remove the dump")
    for p in big:
        p.path = "dump.log"
    return big, [Planted(small, "settings.py", 1, len('GITHUB_TOKEN = "') + 1)]


# -- running -----------------------------------------------------------------------------------


class PeakWatcher(threading.Thread):
    """Polls VmHWM (peak RSS) of every process under `pid`: sprawlguard's own (main and engine
    workers) apart from git's, whose RSS includes the object files it maps."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peaks: dict[str, float] = {"sprawlguard": 0.0, "git": 0.0, "total": 0.0}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            todo = [self.pid]
            total = 0.0  # RSS of all sprawlguard processes now (shared pages counted in each)
            while todo:
                p = todo.pop()
                try:
                    status = Path(f"/proc/{p}/status").read_text()
                    todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
                except (OSError, ValueError):
                    continue
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                kind = "git" if fields.get("Name", "").strip().startswith("git") else "sprawlguard"
                hwm = int(fields.get("VmHWM", "0 kB").split()[0]) / 1024
                self.peaks[kind] = max(self.peaks[kind], hwm)
                if kind == "sprawlguard":
                    total += int(fields.get("VmRSS", "0 kB").split()[0]) / 1024
            self.peaks["total"] = max(self.peaks["total"], total)


@dataclass
class Outcome:
    wall: float
    peak_mb: float  # the largest process of the tree (os.wait4)
    sg_mb: float  # sprawlguard's own processes, the largest one (polled)
    sum_mb: float  # sprawlguard's own processes together (polled)
    git_mb: float
    code: int
    found: int  # planted tokens reported at their exact line and column
    other: int  # findings that are not a planted token
    misplaced: list[str]
    reasons: list[str]


def run_case(case: Case, work: Path, env: dict[str, str], jobs: int) -> Outcome:
    sg = str(Path(sys.executable).parent / "sprawlguard")
    out = work / f"{case.name}.json"
    err = work / f"{case.name}.err"
    cmd = [sg, *case.args, "--no-db", "--no-verify", "--no-progress", "--show-secrets",
           "-j", str(jobs), "-f", "json", "-o", str(out)]
    files = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
             (os.POSIX_SPAWN_OPEN, 2, str(err), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)]
    t0 = time.perf_counter()
    pid = os.posix_spawn(cmd[0], cmd, env, file_actions=files)  # vfork: RSS starts from the child
    watch = PeakWatcher(pid)
    watch.start()
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    watch.done.set()
    watch.join()
    doc = json.loads(out.read_text()) if out.exists() and out.stat().st_size else {"findings": [], "stats": {}}
    findings = doc["findings"]
    at = {(f.get("secret"), f["location"].get("path"), f["location"].get("line"), f["location"].get("column"))
          for f in findings}
    values = {f.get("secret") for f in findings}
    found, misplaced = 0, []
    for p in case.planted:
        if (p.token, p.path, p.line, p.column) in at:
            found += 1
        elif p.token in values:
            got = [(f["location"].get("path"), f["location"].get("line"), f["location"].get("column"))
                   for f in findings if f.get("secret") == p.token]
            misplaced.append(f"expected {Path(p.path).name}:{p.line}:{p.column}, got {got[:2]}")
    planted = {p.token for p in case.planted}
    other = sum(1 for f in findings if f.get("secret") not in planted)
    stats = doc.get("stats", {})
    reasons = [f"{e['uri']}: {e['reason']}" for e in stats.get("skipped", []) + stats.get("errors", [])]
    if not reasons:  # older versions state reasons on stderr only
        reasons = [ln.strip() for ln in err.read_text(errors="replace").splitlines() if ln.strip()]
    return Outcome(wall, usage.ru_maxrss / 1024, watch.peaks["sprawlguard"], watch.peaks["total"], watch.peaks["git"],
                   os.waitstatus_to_exitcode(status), found, other, misplaced, reasons)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help="run only these cases (see the list above)")
    ap.add_argument("--jobs", type=int, default=0, help="engine worker processes (-j; 0 = one per core)")
    ap.add_argument("--keep", action="store_true", help="keep the generated inputs")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply input sizes (a quick smoke run of this script: --scale 0.01)")
    args = ap.parse_args()
    root = Path(tempfile.gettempdir()) / "sprawlguard-resources"
    work = root / "inputs"
    shutil.rmtree(work, ignore_errors=True)  # inputs of an earlier --keep run
    work.mkdir(parents=True)
    env = {**os.environ, "SPRAWLGUARD_HOME": str(root / "home"), "NO_PROXY": "*"}
    rng = random.Random(11)
    made: dict[str, object] = {}

    def once(key: str, build: Callable[[], object]) -> object:
        if key not in made:
            t0 = time.perf_counter()
            made[key] = build()
            print(f"  (built {key} in {time.perf_counter() - t0:.1f} s)", flush=True)
        return made[key]

    def c_baseline() -> Case:
        p = work / "small.txt"
        planted = once("small", lambda: big_text(p, 64 * 1024, rng))
        return Case("baseline", "one 64 KB file", ["scan", "path", str(p)], planted)  # type: ignore[arg-type]

    def c_2gb(scan: bool) -> Case:
        p = work / "big-2gb.log"
        planted = once("2gb", lambda: big_text(p, int(2000 * MB * args.scale), rng))
        if scan:
            return Case("2gb-scanned", "2 GB text, --max-file-size 3GB",
                        ["scan", "path", str(p), "--max-file-size", "3GB"], planted)  # type: ignore[arg-type]
        return Case("2gb-skipped", "2 GB text, default limit", ["scan", "path", str(p)])

    def c_line() -> Case:
        p = work / "line-200mb.js"
        planted = once("line", lambda: single_line(p, int(200 * MB * args.scale), rng))
        return Case("line-200mb", "200 MB single line, --max-file-size 1GB",
                    ["scan", "path", str(p), "--max-file-size", "1GB"], planted)  # type: ignore[arg-type]

    def c_zip10k() -> Case:
        p = work / "logs_10k.zip"
        planted = once("zip10k", lambda: run_log_zip(p, 10_000, rng))
        return Case("zip-10k", "run-log ZIP, 10,000 members", ["scan", "ci-logs", str(p)], planted)  # type: ignore[arg-type]

    def c_bomb() -> Case:
        p = work / "bomb.zip"
        once("bomb", lambda: zip_bomb(p, int((3 << 30) * args.scale)))
        return Case("zip-bomb", f"ZIP bomb, 3 GiB member ({p.stat().st_size / MB:.1f} MB zipped)",
                    ["scan", "ci-logs", str(p)])

    def c_lying() -> Case:
        p = work / "bomb-lying.zip"
        once("lying", lambda: lying_zip_bomb(p, int((1 << 30) * args.scale), 1 << 20))
        return Case("zip-bomb-lying", "ZIP bomb, headers say 1 MB, inflates to 1 GiB",
                    ["scan", "ci-logs", str(p)])

    def c_git(scan: bool) -> Case:
        repo = work / "git-big"
        big, small = once("git", lambda: git_big_blob(repo, int(500 * MB * args.scale), rng))  # type: ignore[misc]
        if scan:
            return Case("git-500mb-scan", "git, 500 MB blob, --max-file-size 1GB",
                        ["scan", "git", str(repo), "--max-file-size", "1GB"], big + small)
        return Case("git-500mb", "git, 500 MB blob, default limit", ["scan", "git", str(repo)], small)

    cases: dict[str, Callable[[], Case]] = {
        "baseline": c_baseline,
        "2gb-skipped": lambda: c_2gb(False),
        "2gb-scanned": lambda: c_2gb(True),
        "line-200mb": c_line,
        "zip-10k": c_zip10k,
        "zip-bomb": c_bomb,
        "zip-bomb-lying": c_lying,
        "git-500mb": lambda: c_git(False),
        "git-500mb-scan": lambda: c_git(True),
    }
    chosen = args.only or list(cases)
    unknown = set(chosen) - set(cases)
    if unknown:
        ap.error(f"unknown case(s): {', '.join(sorted(unknown))}")
    if "baseline" not in chosen:
        chosen.insert(0, "baseline")  # warms the rule cache, so no case pays for building it
    print(f"{os.cpu_count()} cores, jobs={args.jobs or os.cpu_count()}, inputs in {work}", flush=True)
    rows = []
    try:
        run_case(c_baseline(), work, env, args.jobs)  # warm-up: rule and hyperscan caches
        for name in chosen:
            case = cases[name]()
            res = run_case(case, work, env, args.jobs)
            rows.append((case, res))
            print(f"  {name}: {res.wall:.1f} s, {res.peak_mb:.0f} MB, exit {res.code}, "
                  f"{res.found}/{len(case.planted)} planted", flush=True)
            for reason in res.reasons:
                print(f"    {reason}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print("peak MB: the largest process of the tree (wait4 ru_maxrss); sg MB: the largest sprawlguard process"
          " (main or an engine worker); sum MB: all sprawlguard processes at once (polled RSS, shared pages"
          " counted in each); git MB: git's (polled VmHWM)")
    print(f"{'case':15} {'input':46} {'wall s':>7} {'peak MB':>8} {'sg MB':>6} {'sum MB':>6} {'git MB':>6} "
          f"{'exit':>4} {'planted':>8} {'other':>5}  reason")
    for case, res in rows:
        hit = f"{res.found}/{len(case.planted)}"
        reason = "; ".join(r[:110] for r in res.reasons[:2]) or "-"
        print(f"{case.name:15} {case.what:46} {res.wall:7.1f} {res.peak_mb:8.0f} {res.sg_mb:6.0f} {res.sum_mb:6.0f} "
              f"{res.git_mb:6.0f} "
              f"{res.code:4d} {hit:>8} {res.other:5d}  {reason}")
        for m in res.misplaced:
            print(f"{'':15} misplaced: {m}")


if __name__ == "__main__":
    main()
