"""The baseline file: secrets a team has accepted, so CI fails only on new ones.

A baseline is committed to the repository and read on other machines, so it cannot use the
installation's private fingerprint key. It carries its own random salt instead and stores, per
accepted secret, the rule id and HMAC-SHA-256(salt, normalised value): the baseline's own
fingerprint. Entries are keyed on (rule, fingerprint) and written sorted, with no line numbers, paths
or timestamps, so the file does not change when a secret moves, a history is rebased or squashed,
or the baseline is rewritten from the same findings; and a different value at the same place is never
hidden. The hash is useless for recovering the value.
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

Entry = tuple[str, str]  # (rule_id, salted hash of the value)


@dataclass
class Baseline:
    """Salted hashes of accepted secrets, each with the rule that found it."""

    salt: str = field(default_factory=lambda: _random.token_hex(16))
    entries: set[Entry] = field(default_factory=set)

    def hash(self, value: str) -> str:
        return hmac.new(bytes.fromhex(self.salt), normalise(value).encode("utf-8", "surrogatepass"),
                        hashlib.sha256).hexdigest()

    def entries_for(self, secret: Secret) -> set[Entry]:
        """The (rule, hash) keys of a secret: one per rule that found it."""
        if secret.value is None:
            return set()
        h = self.hash(secret.value)
        return {(rule, h) for rule in {secret.rule_id, *(e.rule_id for e in secret.exposures)}}

    def contains(self, secret: Secret) -> bool:
        """True when this value was accepted for one of the rules that found it now."""
        return bool(self.entries_for(secret) & self.entries)

    def add(self, secrets: Iterable[Secret]) -> int:
        """Accept these secrets; returns how many entries were not there before."""
        before = len(self.entries)
        for s in secrets:
            self.entries |= self.entries_for(s)
        return len(self.entries) - before

    def keep_only(self, secrets: Iterable[Secret]) -> int:
        """Drop the entries none of these secrets has (they are gone); returns how many were dropped."""
        found: set[Entry] = set()
        for s in secrets:
            found |= self.entries_for(s)
        before = len(self.entries)
        self.entries &= found
        return before - len(self.entries)


def load_baseline(path: Path) -> Baseline:
    """Read a baseline file; a clear error when it is missing or malformed."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        salt = str(data["salt"])
        bytes.fromhex(salt)
        entries = {(str(e.get("rule_id", "")), str(e["hash"])) for e in data["secrets"]}
    except OSError as exc:
        raise UsageError(f"{path}: cannot read baseline: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UsageError(f"{path}: not a sprawlguard baseline (expected salt and secrets[].hash)",
                         hint="create one with `sprawlguard baseline create FILE [PATH...]`") from None
    return Baseline(salt=salt, entries=entries)


def write_baseline(path: Path, baseline: Baseline) -> int:
    """Write the baseline sorted and stable (diff-friendly); returns the number of entries."""
    entries = [{"rule_id": r, "hash": h} for r, h in sorted(baseline.entries)]
    doc = {"version": VERSION, "tool": "sprawlguard", "salt": baseline.salt, "secrets": entries}
    try:
        Path(path).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write baseline: {exc.strerror}") from None
    return len(entries)
