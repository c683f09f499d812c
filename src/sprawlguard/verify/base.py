"""What every verification mechanism shares: its result type and the request context.

A mechanism (declarative HTTP, AWS, GCP, JWT) is a function
``check(value, parts, spec, ctx) -> Result``. It sends requests only through ``ctx.send``,
which applies the host policy, retries transient failures (at most ``retries`` times, honouring
``Retry-After``) and stops at the wall-clock budget. Reasons never contain the secret or a URL
(which may carry one): only status codes, host names and the issuer's error code.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sprawlguard.model import VerdictStatus
from sprawlguard.verify.net import Http, HttpResponse, Refused, Transient

LIVE, DEAD, UNKNOWN, SKIPPED = (VerdictStatus.LIVE, VerdictStatus.DEAD, VerdictStatus.UNKNOWN,
                                VerdictStatus.SKIPPED)
MAX_RETRY_AFTER = 30.0


@dataclass(frozen=True)
class Result:
    """A mechanism's answer; `transient` marks unknowns worth a retry (429, 5xx, timeouts...)."""

    status: VerdictStatus
    reason: str
    identity: Mapping[str, str] = field(default_factory=dict)
    transient: bool = False
    retry_after: float | None = None


def unknown(reason: str) -> Result:
    return Result(UNKNOWN, reason)


def retry_after(resp: HttpResponse) -> float | None:
    """Seconds from a Retry-After header (delta-seconds; HTTP dates are not used by these APIs)."""
    raw = resp.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None


def before_issuer(resp: HttpResponse) -> Result | None:
    """Answers that never decide liveness, whatever a rule says: redirects and HTML pages."""
    if 300 <= resp.status < 400:
        from urllib3.util import parse_url

        to = parse_url(resp.headers.get("location", "")).host or resp.host
        return unknown(f"unexpected_status: {resp.status} redirect from {resp.host} to {to}, not followed")
    if resp.is_html:
        return unknown(f"blocked: HTML page from {resp.host} (login or WAF page, not an API answer)")
    return None


def after_issuer(resp: HttpResponse) -> Result:
    """What an answer the mechanism had no opinion on means: 429 and 5xx are transient unknowns."""
    if resp.status == 429:
        return Result(UNKNOWN, f"rate_limited: 429 from {resp.host}", transient=True,
                      retry_after=retry_after(resp))
    if resp.status >= 500:
        return Result(UNKNOWN, f"server_error: {resp.status} from {resp.host}", transient=True,
                      retry_after=retry_after(resp))
    return unknown(f"unexpected_status: {resp.status} from {resp.host}")


@dataclass
class Context:
    """Per-run request machinery handed to mechanisms."""

    http: Http
    deadline: float  # time.monotonic() after which nothing more is sent
    retries: int = 2
    verify_hosts: frozenset[str] = frozenset()
    offline: bool = False
    sleep: Callable[[float], None] = time.sleep
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def attempt(self, once: Callable[[], Result]) -> Result:
        """Run `once`; retry transient results up to `retries` times (Retry-After, else backoff)."""
        result = once()
        for n in range(self.retries):
            if not result.transient:
                return result
            wait = result.retry_after if result.retry_after is not None else 0.5 * 2**n
            if wait > MAX_RETRY_AFTER or wait >= self.remaining():
                return Result(result.status, f"{result.reason} (retry after {wait:g}s exceeds the budget)",
                              transient=True)
            self.sleep(wait)
            result = once()
        return result

    def send(self, method: str, url: str, headers: Mapping[str, str] | Callable[[], Mapping[str, str]],
             body: bytes | None,
             *, pin: bool, classify: Callable[[HttpResponse], Result | None]) -> Result:
        """One request (with retries); `classify` decides what the issuer's answer means (None: no
        opinion, so 429/5xx are transient unknowns and anything else an unexpected status)."""

        def once() -> Result:
            if self.remaining() <= 0:
                return unknown("not_attempted: verification budget exhausted")
            try:
                hdrs = headers() if callable(headers) else headers
                resp = self.http.request(method, url, hdrs, body, pin=pin)
            except Refused as exc:
                return Result(SKIPPED, f"refused: {exc}")
            except Transient as exc:
                return Result(UNKNOWN, f"{exc.kind}: {exc}", transient=True)
            return before_issuer(resp) or classify(resp) or after_issuer(resp)

        return self.attempt(once)
