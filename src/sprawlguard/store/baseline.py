"""The baseline file: known secrets as sorted (rule_id, fingerprint) pairs; no lines, no timestamps."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from sprawlguard.errors import UsageError
from sprawlguard.model import Secret

VERSION = 1


def load_baseline(path: Path) -> set[tuple[str, str]]:
    """(rule_id, fingerprint) pairs from a baseline file; a clear error when it is malformed."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        entries = data["secrets"]
        return {(str(e["rule_id"]), str(e["fingerprint"])) for e in entries}
    except OSError as exc:
        raise UsageError(f"{path}: cannot read baseline: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"{path}: not a sprawlguard baseline (expected {{'secrets': [...]}})") from None


def is_baselined(secret: Secret, known: set[tuple[str, str]]) -> bool:
    """A secret is known when any rule that matched it recorded its fingerprint."""
    return any((e.rule_id, secret.fingerprint) in known for e in secret.exposures)


def write_baseline(path: Path, secrets: Iterable[Secret], keep: set[tuple[str, str]] = frozenset()) -> int:  # type: ignore[assignment]
    """Write the baseline (sorted, stable); returns the number of entries."""
    pairs = set(keep)
    for s in secrets:
        pairs.update((e.rule_id, s.fingerprint) for e in s.exposures)
    entries = [{"rule_id": r, "fingerprint": f} for r, f in sorted(pairs)]
    doc = {"version": VERSION, "tool": "sprawlguard", "secrets": entries}
    Path(path).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return len(entries)
