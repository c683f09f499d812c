"""The plain, immutable data types passed between sprawlguard's layers (no I/O here)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from sprawlguard.redact import redact


class Confidence(str, enum.Enum):
    """How sure the engine is that a match is a real credential."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return {"low": 0, "medium": 1, "high": 2}[self.value]


class VerdictStatus(str, enum.Enum):
    """Outcome of asking a secret's issuer whether the secret still works."""

    LIVE = "live"
    DEAD = "dead"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Location:
    """Where a piece of text came from; `details` holds source-specific fields."""

    source: str
    uri: str
    path: str | None = None
    line: int | None = None
    permalink: str | None = None
    author: str | None = None
    when: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Chunk:
    """Text to scan plus its location; `first_line` is the 1-based line of the text's first line,
    `first_column` the 1-based column where the text starts in that line (> 1 when a reader cut an
    over-long line into several chunks)."""

    text: str = field(repr=False)
    location: Location
    first_line: int = 1
    first_column: int = 1


@dataclass(frozen=True, slots=True)
class Match:
    """One hit from the engine. The raw `secret` and `parts` never appear in repr()."""

    rule_id: str
    secret: str = field(repr=False)
    location: Location
    line: int
    column: int
    span: tuple[int, int]
    confidence: Confidence = Confidence.HIGH
    parts: Mapping[str, str] = field(default_factory=dict, repr=False)
    decoders: tuple[str, ...] = ()
    line_text: str = field(default="", repr=False, compare=False)

    @property
    def redacted(self) -> str:
        return redact(self.secret)

    def __repr__(self) -> str:
        return (
            f"Match(rule_id={self.rule_id!r}, secret={self.redacted!r}, uri={self.location.uri!r}, "
            f"line={self.line}, column={self.column}, confidence={self.confidence.value!r})"
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the issuer said about a secret, with a human-readable reason."""

    status: VerdictStatus
    reason: str
    checked_at: str | None = None
    verifier: str | None = None
    identity: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ItemError:
    """A problem with one item (a file, a page, a message); never carries a raw secret.

    `kind` is ``error`` for a real failure (it makes the scan exit 3), or a skip reason such as
    ``binary`` or ``too_large`` that is only counted.
    """

    location: Location
    reason: str
    kind: str = "error"


@dataclass(frozen=True, slots=True)
class Exposure:
    """One place a secret was seen."""

    fingerprint: str
    rule_id: str
    location: Location
    line: int
    column: int
    confidence: Confidence
    decoders: tuple[str, ...] = ()
    first_seen: str | None = None
    last_seen: str | None = None
    historic: bool = False


@dataclass(frozen=True, slots=True)
class Secret:
    """The governed identity: one record per secret value (fingerprint), wherever it sprawled."""

    fingerprint: str
    rule_id: str
    rule_name: str
    issuer: str
    nhi_kind: str
    preview: str
    confidence: Confidence
    exposures: tuple[Exposure, ...]
    owasp_nhi: tuple[str, ...] = ("NHI2",)
    remediation: Mapping[str, str] = field(default_factory=dict)
    verdict: Verdict | None = None
    status: str = "open"
    first_seen: str | None = None
    last_seen: str | None = None
    owner_hints: tuple[str, ...] = ()
    risk: int = 0
    new: bool = True
    value: str | None = field(default=None, repr=False, compare=False)
    parts: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)


@dataclass(slots=True)
class ScanStats:
    """Counters a scan accumulates; mutable while the scan runs."""

    chunks: int = 0
    bytes: int = 0
    files: int = 0
    skipped_binary: int = 0
    skipped_too_large: int = 0
    skipped_excluded: int = 0
    matches: int = 0
    allowed: int = 0
    baselined: int = 0


FAIL_ON = ("any", "new", "live", "never")
#: Inventory statuses a secret can have (`sprawlguard triage`).
STATUSES = ("open", "revoked", "accepted_risk", "false_positive")
#: Statuses that no longer fail a build when the secret is found again (suppressed in SARIF).
SUPPRESSED = frozenset({"accepted_risk", "false_positive"})


@dataclass
class ScanResult:
    """What a scan found: governed secrets (highest risk first), counters and per-item problems."""

    secrets: list[Secret]
    stats: ScanStats
    errors: list[ItemError] = field(default_factory=list)
    skipped: list[ItemError] = field(default_factory=list)
    interrupted: bool = False

    def failing(self, fail_on: str) -> list[Secret]:
        """The secrets that fail the policy: any, only new (not in the baseline), or only live."""
        if fail_on == "never":
            return []
        if fail_on == "new":
            return [s for s in self.secrets if s.new]
        if fail_on == "live":
            return [s for s in self.secrets if s.verdict and s.verdict.status is VerdictStatus.LIVE]
        return list(self.secrets)
