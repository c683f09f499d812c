"""The verifier: picks each secret's check, applies the safety policy, caps and caches results.

Order for one secret: offline pre-checks (GitHub/npm checksums) -> the rule's check kind ->
side-effect flags (MINT, MUT, $, LOCK never run) -> --offline -> the cached verdict, if fresh ->
the wall-clock budget -> the issuer's circuit breaker -> the check itself, under a global thread
cap, a per-issuer cap and (AWS) one request at a time per key id.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from sprawlguard.detect.checksums import CHECKSUMS
from sprawlguard.detect.rules import Rule
from sprawlguard.detect.verifyspec import VerifySpec
from sprawlguard.model import Secret, Verdict, VerdictStatus
from sprawlguard.redact import scrub
from sprawlguard.verify import aws, gcp, http_check, jwt
from sprawlguard.verify.base import SKIPPED, UNKNOWN, Context, Result
from sprawlguard.verify.net import Http

Mechanism = Callable[[str, Mapping[str, str], VerifySpec, Context], Result]
MECHANISMS: dict[str, Mechanism] = {"http": http_check.check, "aws_sts": aws.check,
                                    "gcp_x509": gcp.check, "jwt": jwt.check}
#: How long a verdict from the inventory is reused, by status (skipped verdicts are never reused).
TTL = {VerdictStatus.LIVE: 3600.0, VerdictStatus.UNKNOWN: 900.0, VerdictStatus.DEAD: 7 * 86400.0}
#: Issuers whose checks run one at a time (lockout or ban risk, or per-key signature races).
SERIAL_ISSUERS = frozenset({"aws", "discord", "okta"})
_UNSAFE_WHY = {"MINT": "mints a token or session", "MUT": "can change state", "$": "can cost money",
               "LOCK": "failed attempts count towards lockout or IP bans"}

Cache = Callable[[str], "Verdict | None"]


@dataclass
class VerifyOptions:
    offline: bool = False  # only offline checks; no request leaves the machine
    verify_hosts: Sequence[str] = ()  # hosts from scanned text the operator allows (SSRF opt-in)
    timeout: float = 10.0  # per request
    budget: float = 120.0  # wall clock for the whole run
    workers: int = 8  # global concurrency cap
    per_issuer: int = 2  # concurrency cap per issuer (1 for SERIAL_ISSUERS)
    retries: int = 2  # on 429, 5xx, timeouts and network errors
    breaker_after: int = 3  # consecutive transient failures that open an issuer's circuit
    http: Http | None = None  # default: Http.from_env (honours SPRAWLGUARD_VERIFY_HOST_MAP)


@dataclass
class Verifier:
    rules: Mapping[str, Rule]
    options: VerifyOptions = field(default_factory=VerifyOptions)
    cache: Cache | None = None
    _issuer_locks: dict[str, threading.Semaphore] = field(default_factory=dict)
    _key_locks: defaultdict[str, threading.Lock] = field(default_factory=lambda: defaultdict(threading.Lock))
    _failures: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _cache_hits: dict[str, Verdict | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        o = self.options
        self.http = o.http or Http.from_env(timeout=o.timeout)
        self.ctx = Context(http=self.http, deadline=time.monotonic() + o.budget, retries=o.retries,
                           verify_hosts=frozenset(h.lower() for h in o.verify_hosts), offline=o.offline)

    # --- public -------------------------------------------------------------------------------

    def verify(self, secrets: Iterable[Secret]) -> list[Secret]:
        """The same secrets with `verdict` set, in the same order."""
        items = list(secrets)
        if self.cache is not None:  # looked up here: the inventory connection belongs to this thread
            self._cache_hits = {s.fingerprint: self.cache(s.fingerprint) for s in items}
        with ThreadPoolExecutor(max_workers=max(1, self.options.workers)) as pool:
            verdicts = list(pool.map(self.check, items))
        return [replace(s, verdict=v) for s, v in zip(items, verdicts, strict=True)]

    def check(self, secret: Secret) -> Verdict:
        """One secret's verdict; never raises for a bad answer, never echoes the secret."""
        rule = self.rules.get(secret.rule_id)
        spec = rule.verify if rule is not None else None
        value = secret.value
        if value is None:
            return _verdict(SKIPPED, "the raw value is not available (not stored in the inventory)", "none")
        if rule is not None and rule.checksum and not CHECKSUMS[rule.checksum].check(value):
            return _verdict(SKIPPED, f"fails the {rule.checksum} checksum offline: not a token the issuer "
                            "issued; not sent", "offline")
        if spec is None:
            return _verdict(UNKNOWN, "not_attempted: no safe check for this type", "none")
        if spec.kind == "none":
            return _verdict(UNKNOWN, f"not_attempted: no safe check: {spec.reason}", "none")
        if spec.unsafe:
            flags = sorted(spec.unsafe)
            return _verdict(SKIPPED, f"not_attempted: the only check is {'/'.join(flags)} "
                            f"({'; '.join(_UNSAFE_WHY[f] for f in flags)}), never run by default", spec.kind)
        if self.options.offline and spec.kind in ("http", "gcp_x509"):
            return _verdict(SKIPPED, "offline: issuer not contacted", spec.kind)
        cached = self._cached(secret.fingerprint)
        if cached is not None:
            return cached
        issuer = rule.issuer if rule is not None else "?"
        if self._failures[issuer] >= self.options.breaker_after:
            return _verdict(UNKNOWN, f"circuit_open: {issuer} failed {self._failures[issuer]} times in a row; "
                            "not contacted again in this run", spec.kind)
        parts = dict(secret.parts)
        with self._issuer_lock(issuer), self._key_lock(issuer, parts):
            try:
                result = MECHANISMS[spec.kind](value, parts, spec, self.ctx)
            except Exception as exc:  # a verifier bug must not end the scan or leak the value
                result = Result(UNKNOWN, scrub(f"verifier_error: {type(exc).__name__}: {exc}",
                                               [value, *parts.values()])[:200])
        with self._lock:
            self._failures[issuer] = self._failures[issuer] + 1 if result.transient else 0
        return _verdict(result.status, scrub(result.reason, [value]), _verifier_name(spec), result.identity)

    # --- helpers ------------------------------------------------------------------------------

    def _cached(self, fp: str) -> Verdict | None:
        if self.cache is None:
            return None
        v = self._cache_hits[fp] if fp in self._cache_hits else self.cache(fp)
        if v is None or v.status not in TTL or not v.checked_at:
            return None
        try:
            age = (datetime.now(timezone.utc) - datetime.fromisoformat(v.checked_at)).total_seconds()
        except ValueError:
            return None
        return v if age < TTL[v.status] else None

    def _issuer_lock(self, issuer: str) -> threading.Semaphore:
        with self._lock:
            if issuer not in self._issuer_locks:
                cap = 1 if issuer in SERIAL_ISSUERS else self.options.per_issuer
                self._issuer_locks[issuer] = threading.Semaphore(max(1, cap))
            return self._issuer_locks[issuer]

    def _key_lock(self, issuer: str, parts: Mapping[str, str]) -> AbstractContextManager[object]:
        """One request at a time per key id (AWS signature races); nothing for keys without one."""
        if not parts.get("key_id"):
            return nullcontext()
        with self._lock:
            return self._key_locks[f"{issuer}:{parts['key_id']}"]


def _verifier_name(spec: VerifySpec) -> str:
    if spec.kind == "http":
        host = spec.url.removeprefix("https://").split("/", 1)[0].split("?", 1)[0]
        return "http" if "{{" in host else f"http:{host}"
    return spec.kind


def _verdict(status: VerdictStatus, reason: str, verifier: str,
             identity: Mapping[str, str] | None = None) -> Verdict:
    return Verdict(status=status, reason=reason, verifier=verifier, identity=dict(identity or {}),
                   checked_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
