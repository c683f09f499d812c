"""Full-history scan, wall clock and peak memory: sprawlguard vs gitleaks, betterleaks, kingfisher.

Run by hand:  python bench/git_history.py [--commits 2000] [--runs 3] [--peers-venv /work/peers-venv]

Builds (once, in $TMPDIR/sprawlguard-bench/git-history-N, outside the source tree) a repository no one here wrote: this Python's standard
library sources committed, then N commits of edits, renames and deletions made with
`git fast-import`, with fake GitHub tokens planted along the way (some deleted again later, one on a
side branch that is tagged). Each tool scans the full history without validation; prints median wall
seconds, the peak RSS of the largest process, findings, how many planted tokens each tool reported,
and ratios to sprawlguard (> 1 means the peer is slower). Never gates CI.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dir_scan_peers import count_json, ensure_peers  # noqa: E402

from sprawlguard.detect.fakes import expand  # noqa: E402

HERE = Path(__file__).resolve().parent
TOKEN = "ghp_{{gen:alnum:30}}{{checksum:github}}"


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def build_repo(target: Path, commits: int, seed: int = 7) -> list[str]:
    """The repository and the planted tokens (kept in target/../planted.txt)."""
    planted_file = target.with_suffix(".planted")
    if target.exists() and planted_file.exists():
        return planted_file.read_text().split()
    rng = random.Random(seed)
    root = Path(sysconfig.get_paths()["stdlib"])
    files = {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.py"))
             if "site-packages" not in p.parts and p.stat().st_size < 200_000}
    subprocess.run(["git", "init", "-q", "-b", "main", str(target)], check=True)
    stream: list[bytes] = []
    planted: list[str] = []
    clock = 1_600_000_000

    def commit(ref: str, ops: list[bytes], msg: str, parent: str | None = None) -> None:
        nonlocal clock
        clock += 3600
        who = b"Bench <bench@example.com> %d +0000\n" % clock
        stream.append(b"commit " + ref.encode() + b"\n" + b"author " + who + b"committer " + who)
        stream.append(_data(msg.encode()))
        if parent:
            stream.append(b"from " + parent.encode() + b"\n")
        stream.extend(ops)

    def modify(path: str, content: bytes) -> bytes:
        files[path] = content
        return b"M 100644 inline " + path.encode() + b"\n" + _data(content)

    commit("refs/heads/main", [modify(p, c) for p, c in list(files.items())], "import stdlib")
    live: list[tuple[str, str]] = []
    for i in range(commits):
        ops: list[bytes] = []
        for _ in range(rng.randint(1, 4)):
            path = rng.choice(sorted(files))
            lines = files[path].split(b"\n")
            at = rng.randrange(len(lines))
            if rng.random() < 0.5:
                lines.insert(at, b"# bench edit %d" % i)
            else:
                del lines[at]
            ops.append(modify(path, b"\n".join(lines)))
        roll = rng.random()
        if roll < 0.02:
            old = rng.choice(sorted(files))
            new = old.replace(".py", f"_r{i}.py")
            files[new] = files.pop(old)
            ops.append(b"R " + old.encode() + b" " + new.encode() + b"\n")
        elif roll < 0.04:
            gone = rng.choice(sorted(files))
            del files[gone]
            ops.append(b"D " + gone.encode() + b"\n")
        if i % 97 == 5:  # plant a token
            token = expand(TOKEN, rng)
            planted.append(token)
            path = f"config/settings_{i}.py"
            ops.append(modify(path, b'GITHUB_TOKEN = "%s"\n' % token.encode()))
            live.append((path, token))
        elif live and i % 97 == 50:  # delete an earlier one: history keeps it
            path, _ = live.pop(0)
            del files[path]
            ops.append(b"D " + path.encode() + b"\n")
        commit("refs/heads/main", ops, f"change {i}")
        if i % 500 == 499:
            stream.append(b"reset refs/tags/v%d\nfrom refs/heads/main\n\n" % (i // 500))
    side = expand(TOKEN, rng)
    planted.append(side)
    commit("refs/heads/side", [modify("side/secret.py", b'TOKEN = "%s"\n' % side.encode())],
           "side branch", parent="refs/heads/main")
    stream.append(b"reset refs/tags/side-release\nfrom refs/heads/side\n\n")
    subprocess.run(["git", "-C", str(target), "fast-import", "--quiet"], input=b"".join(stream),
                   check=True)
    subprocess.run(["git", "-C", str(target), "branch", "-D", "-q", "side"], check=True)
    subprocess.run(["git", "-C", str(target), "repack", "-a", "-d", "-q"], check=True)
    planted_file.write_text("\n".join(planted))
    return planted


# Each tool is started by a small Python process that waits for it: Linux carries the peak RSS of
# the memory a process had before exec (with posix_spawn's vfork, this bench's own, which holds the
# fast-import stream when the repository is built in the same run) into the tool's ru_maxrss.
_MEASURE = (
    "import os, sys, time\n"
    "null = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]\n"
    "t0 = time.perf_counter()\n"
    "pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ, file_actions=null)\n"
    "_, _, usage = os.wait4(pid, 0)\n"
    "print(time.perf_counter() - t0, usage.ru_maxrss)\n"
)


def timed(cmd: list[str], out: Path, runs: int) -> tuple[float, float, str]:
    """Median wall seconds, peak RSS MB of the largest process, and the report text."""
    walls, peaks = [], []
    for _ in range(runs):
        res = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True)
        wall, maxrss_kb = res.stdout.split()
        walls.append(float(wall))
        peaks.append(int(maxrss_kb) / 1024)
    text = out.read_text(errors="replace") if out.exists() else ""
    return statistics.median(walls), max(peaks), text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--commits", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peers-venv", type=Path, default=Path("/work/peers-venv"))
    args = ap.parse_args()
    repo = Path(tempfile.gettempdir()) / "sprawlguard-bench" / f"git-history-{args.commits}"
    repo.parent.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    planted = build_repo(repo, args.commits)
    built = time.perf_counter() - t0
    stats = subprocess.run(["git", "-C", str(repo), "cat-file", "--batch-all-objects",
                            "--batch-check=%(objecttype) %(objectsize)"], capture_output=True,
                           text=True, check=True).stdout.split("\n")
    blob_bytes = sum(int(x.split()[1]) for x in stats if x.startswith("blob "))
    ncommits = subprocess.run(["git", "-C", str(repo), "rev-list", "--all", "--count"],
                              capture_output=True, text=True, check=True).stdout.strip()
    print(f"repo: {repo} ({built:.1f} s to build/load); {ncommits} commits; "
          f"{blob_bytes / 1e6:.1f} MB unique blobs; {len(planted)} planted tokens; "
          f"{os.cpu_count()} cores; median of {args.runs}")
    peers = ensure_peers(args.peers_venv)
    sg = Path(sys.executable).parent / "sprawlguard"
    with tempfile.TemporaryDirectory() as tmpdir:
        out = Path(tmpdir)
        tools = {
            "sprawlguard": [str(sg), "scan", "git", str(repo), "--show-secrets", "-f", "json",
                            "-o", str(out / "sg.json"), "--no-progress", "--no-verify"],
            "sprawlguard -j1": [str(sg), "scan", "git", str(repo), "-j", "1", "--show-secrets",
                                "-f", "json", "-o", str(out / "sg1.json"), "--no-progress", "--no-verify"],
            "gitleaks git": [peers["gitleaks"], "git", str(repo), "--no-banner", "-l", "error",
                             "--exit-code", "0", "-f", "json", "-r", str(out / "gl.json")],
            "betterleaks git": [peers["betterleaks"], "git", str(repo), "--no-banner", "-s", "-l",
                                "warn", "--exit-code", "0", "-o", str(out / "bl.json")],
            "kingfisher": [peers["kingfisher"], "scan", str(repo), "--no-validate", "--format",
                           "json", "-o", str(out / "kf.json")],
        }
        outs = dict(zip(tools, ["sg.json", "sg1.json", "gl.json", "bl.json", "kf.json"],
                        strict=True))
        for cmd in tools.values():  # warm page cache and rule caches
            subprocess.run(cmd, capture_output=True, check=False)
        results = {name: timed(cmd, out / outs[name], args.runs) for name, cmd in tools.items()}
        base = results["sprawlguard"][0]
        kf = results["kingfisher"][0]
        print(f"{'tool':16} {'wall s':>7} {'peak MB':>8} {'findings':>9} {'planted':>8} "
              f"{'tool/sg':>8} {'tool/kf':>8}")
        for name, (secs, peak, text) in results.items():
            found = count_json(out / outs[name])
            hit = sum(1 for t in planted if t in text)
            print(f"{name:16} {secs:7.2f} {peak:8.0f} {found:9d} {hit:5d}/{len(planted):<2d} "
                  f"{secs / base:8.2f} {secs / kf:8.2f}")


if __name__ == "__main__":
    main()
