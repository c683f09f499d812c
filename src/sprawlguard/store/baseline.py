"""The baseline file: secrets a team has accepted, so CI fails only on new ones.

A baseline is committed to the repository and read on other machines, so it cannot use the
installation's private fingerprint key. It carries its own random salt instead and stores
HMAC-SHA-256(salt, normalised value) per secret: portable, stable across rescans (no line numbers),
and useless for recovering the value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets as _random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sprawlguard.errors import UsageError
from sprawlguard.govern.fingerprint import normalise
from sprawlguard.model import Secret

VERSION = 1


@dataclass
class Baseline:
    """Salted hashes of accepted secrets, with the rule that found each (for humans)."""

    salt: str = field(default_factory=lambda: _random.token_hex(16))
    entries: dict[str, str] = field(default_factory=dict)  # hash -> rule_id

    def hash(self, value: str) -> str:
        return hmac.new(bytes.fromhex(self.salt), normalise(value).encode("utf-8", "surrogatepass"),
                        hashlib.sha256).hexdigest()

    def contains(self, secret: Secret) -> bool:
        return secret.value is not None and self.hash(secret.value) in self.entries

    def add(self, secrets: Iterable[Secret]) -> None:
        for s in secrets:
            if s.value is not None:
                self.entries.setdefault(self.hash(s.value), s.rule_id)


def load_baseline(path: Path) -> Baseline:
    """Read a baseline file; a clear error when it is missing or malformed."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        salt = str(data["salt"])
        bytes.fromhex(salt)
        entries = {str(e["hash"]): str(e.get("rule_id", "")) for e in data["secrets"]}
    except OSError as exc:
        raise UsageError(f"{path}: cannot read baseline: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UsageError(f"{path}: not a sprawlguard baseline (expected salt and secrets[].hash)",
                         hint="create one with `sprawlguard scan ... --write-baseline FILE`") from None
    return Baseline(salt=salt, entries=entries)


def write_baseline(path: Path, baseline: Baseline) -> int:
    """Write the baseline sorted and stable (diff-friendly); returns the number of entries."""
    entries = [{"hash": h, "rule_id": r} for h, r in sorted(baseline.entries.items())]
    doc = {"version": VERSION, "tool": "sprawlguard", "salt": baseline.salt, "secrets": entries}
    try:
        Path(path).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write baseline: {exc.strerror}") from None
    return len(entries)
