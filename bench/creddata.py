"""CredData accuracy (development half): sprawlguard next to gitleaks, betterleaks, kingfisher and
detect-secrets on the same files in the same run, scored by CredData's own scorer.

Run by hand:  python bench/creddata.py [--creddata ../shared/bench/creddata] [--peers-venv DIR] [--no-peers]

Extracts data.tar.xz once into bench/.creddata, scans `data/` with each tool in directory mode with
default rules and no validation, and prints precision / recall / F1 per tool (score.py's figures).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dir_scan_peers import ensure_peers  # noqa: E402


def extract(src: Path, work: Path) -> None:
    if not (work / "data").exists():
        work.mkdir(parents=True, exist_ok=True)
        with tarfile.open(src / "data.tar.xz") as tar:
            tar.extractall(work, filter="data")
    if not (work / "meta").exists():
        shutil.copytree(src / "meta", work / "meta")


def score(scorer: Path, work: Path, tool: str, report: Path) -> dict[str, str]:
    proc = subprocess.run([sys.executable, str(scorer), str(work), tool, str(report)],
                          capture_output=True, text=True, check=False)
    return dict(re.findall(r"^(\w+): (.*)$", proc.stdout, flags=re.M)) | {"_raw": proc.stdout + proc.stderr}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--creddata", type=Path, default=HERE.parent.parent / "shared" / "bench" / "creddata")
    ap.add_argument("--work", type=Path, default=HERE / ".creddata")
    ap.add_argument("--peers-venv", type=Path, default=HERE / ".peers-venv")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--min-confidence", default=None)
    args = ap.parse_args()
    extract(args.creddata, args.work)
    scorer = args.creddata / "score.py"
    sg = Path(sys.executable).parent / "sprawlguard"
    out = args.work / "reports"
    out.mkdir(exist_ok=True)
    cmd = [str(sg), "scan", "path", "data", "--format", "jsonl", "--output", str(out / "sg.jsonl"), "--no-verify"]
    if args.min_confidence:
        cmd += ["--min-confidence", args.min_confidence]
    runs: dict[str, tuple[list[str], Path, bool]] = {"sprawlguard": (cmd, out / "sg.jsonl", False)}
    if not args.no_peers:
        peers = ensure_peers(args.peers_venv)
        runs |= {
            "gitleaks": ([peers["gitleaks"], "dir", "data", "--no-banner", "-l", "error", "--exit-code", "0",
                          "-f", "json", "-r", str(out / "gl.json")], out / "gl.json", False),
            "betterleaks": ([peers["betterleaks"], "fs", "data", "--no-banner", "-s", "-l", "warn",
                             "--exit-code", "0", "-o", str(out / "bl.json")], out / "bl.json", False),
            "kingfisher": ([peers["kingfisher"], "scan", "data", "--no-validate", "--format", "json",
                            "-o", str(out / "kf.json")], out / "kf.json", False),
            "detect-secrets": ([peers["detect-secrets"], "scan", "--all-files", "data"], out / "ds.json", True),
        }
    print(f"{'tool':15} {'precision':>9} {'recall':>7} {'f1':>6}")
    for tool, (command, report, to_stdout) in runs.items():
        with open(report, "w") as fh:
            subprocess.run(command, cwd=args.work, stdout=fh if to_stdout else subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
        s = score(scorer, args.work, tool, report)
        print(f"{tool:15} {s.get('precision', '?'):>9} {s.get('recall', '?'):>7} {s.get('f1', '?'):>6}")
        if tool == "sprawlguard":
            print("   ", s.get("recall_by_category", ""))


if __name__ == "__main__":
    main()
