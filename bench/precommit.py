"""Pre-commit hook latency: one staged file, sprawlguard vs gitleaks, betterleaks and detect-secrets.

Run by hand:  python bench/precommit.py [--runs 15] [--peers-venv /work/peers-venv]

Builds (once, in $TMPDIR/sprawlguard-bench/precommit) a repository holding this Python's standard
library `email` and `json` packages (code no one here wrote), commits it, then stages a one-file
change with a planted fake token. Each tool scans what is staged, the way its pre-commit hook does:

  sprawlguard scan staged --no-db                   (the hook's command; offline, never verifies)
  gitleaks git --pre-commit --staged --no-banner
  betterleaks git --staged
  detect-secrets-hook <the staged file>

Prints the median and minimum wall time of each, whether it blocked the commit (the planted token),
the ratio to sprawlguard, and sprawlguard's start-up floor (`sprawlguard --version`) and import time
(`python -X importtime`, the sum over the modules a hook run imports). Never gates CI.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dir_scan_peers import ensure_peers  # noqa: E402

from sprawlguard.detect.fakes import expand  # noqa: E402

# PYTHONDONTWRITEBYTECODE (set on the machine these figures come from) is dropped: it makes every
# hook run recompile each module (+30 ms), which no installed hook does (pip writes .pyc files).
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "CI": "true",
       "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
       "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}


def build_repo(root: Path) -> Path:
    repo = root / "precommit"
    if (repo / ".git").is_dir():
        subprocess.run(["git", "-C", str(repo), "reset", "-q", "--hard"], check=True, env=ENV)
    else:
        repo.mkdir(parents=True, exist_ok=True)
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        for pkg in ("email", "json"):
            shutil.copytree(stdlib / pkg, repo / pkg, ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=ENV)
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=ENV)
        subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", "import"], check=True, env=ENV)
    token = expand("ghp_{{gen:alnum:30}}{{checksum:github}}", random.Random(11))
    target = repo / "email" / "charset.py"
    target.write_text(target.read_text() + f"\nGITHUB_TOKEN = '{token}'\n")
    subprocess.run(["git", "-C", str(repo), "add", str(target)], check=True, env=ENV)
    return repo


def timed(cmd: list[str], cwd: Path, runs: int) -> tuple[float, float, int]:
    subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True)  # warm caches (rule DB, page cache)
    times, code = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        code = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True).returncode
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), code


def import_ms(cwd: Path) -> float:
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "sprawlguard", "scan", "staged",
                          "--no-db"], cwd=cwd, env=ENV, capture_output=True, text=True).stderr
    total = 0
    for line in out.splitlines():
        if line.startswith("import time:") and "|" in line:
            fields = line.split("|")
            if not fields[2].startswith("  "):  # top-level imports only (cumulative includes children)
                with contextlib.suppress(ValueError):
                    total += int(fields[1])
    return total / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--peers-venv", type=Path, default=Path("/work/peers-venv"))
    args = ap.parse_args()
    peers = ensure_peers(args.peers_venv)
    repo = build_repo(Path(tempfile.gettempdir()) / "sprawlguard-bench")
    sg = str(Path(sys.executable).with_name("sprawlguard"))
    staged_file = "email/charset.py"
    tools = {
        "sprawlguard": [sg, "scan", "staged", "--no-db"],
        "gitleaks": [peers["gitleaks"], "git", "--pre-commit", "--staged", "--no-banner", "."],
        "betterleaks": [peers["betterleaks"], "git", "--staged", "--no-banner", "."],
        "detect-secrets": [str(Path(peers["detect-secrets"]).with_name("detect-secrets-hook")), staged_file],
    }
    print(f"one staged file ({staged_file}, +1 line with a fake token); {args.runs} runs each")
    print(f"{'tool':<16}{'median s':>10}{'min s':>9}{'blocked':>9}{'ratio':>8}")
    base = None
    for name, cmd in tools.items():
        med, low, code = timed(cmd, repo, args.runs)
        base = base or med
        print(f"{name:<16}{med:>10.3f}{low:>9.3f}{'yes' if code == 1 else f'no ({code})':>9}"
              f"{med / base:>8.2f}")
    floor, _, _ = timed([sg, "--version"], repo, args.runs)
    print(f"sprawlguard --version (interpreter + CLI start-up): {floor:.3f} s; "
          f"imports of a hook run: {import_ms(repo):.0f} ms")


if __name__ == "__main__":
    main()
