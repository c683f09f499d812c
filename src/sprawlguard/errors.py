"""Exit codes and the exception families that map to them."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes; documented in the README."""

    OK = 0  # nothing fails the policy
    FINDINGS = 1  # findings fail the policy (--fail-on)
    USAGE = 2  # bad usage or configuration (click's convention)
    SCAN_ERROR = 3  # a scan error; partial results were still written
    INTERRUPTED = 130


class SprawlguardError(Exception):
    """Base class; `hint` says what the user can do about it. Messages never hold raw secrets."""

    exit_code = ExitCode.SCAN_ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class UsageError(SprawlguardError):
    """Bad options or configuration."""

    exit_code = ExitCode.USAGE


class RuleError(SprawlguardError):
    """A malformed rule file; the message names file, rule and field."""

    exit_code = ExitCode.USAGE


class SourceError(SprawlguardError):
    """A whole source failed (missing path, bad credentials)."""


class StoreError(SprawlguardError):
    """The inventory or baseline could not be read or written."""
