"""sprawlguard's own tree is clean: rule examples are templates and test secrets are generated at
run time, so a scan of the repository with the built-in rules finds nothing. A finding here is
either a committed realistic literal (generate it instead) or a false positive to fix."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_repository_itself_has_no_findings(cli) -> None:
    targets = [str(ROOT / p) for p in ("rules", "src", "tests", "bench", "README.md", "SECURITY.md")
               if (ROOT / p).exists()]
    res = cli("scan", "path", *targets, "--exclude", ".*/", "--exclude", "__pycache__/",
              "--no-db", "-f", "jsonl")
    found = [(f["rule_id"], f["location"]["path"], f["location"]["line"]) for f in res.jsonl()]
    assert res.code == 0 and found == [], found
