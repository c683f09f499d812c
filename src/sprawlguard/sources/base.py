"""The Source protocol every connector implements, and text helpers shared by sources."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Protocol

from sprawlguard.model import Chunk, ItemError

Checkpoint = dict[str, Any]


class Source(Protocol):
    """A place to scan. Yields chunks of text (and per-item problems) with exact locations.

    Incremental sources (Slack, Jira, CI logs...) also set `checkpoint_key`, a stable id such as
    ``slack:T0123`` or ``github-actions:owner/repo``. The CLI then loads the inventory's checkpoint
    under that key, passes it to `chunks(resume=...)`, and stores `checkpoint()` in the same
    transaction as the secrets found (every 30 s and at the end). `checkpoint()` must only cover
    items whose chunks have all been yielded *and* consumed: advance the position when the
    generator is resumed after an item's last chunk, not before yielding it. An item that failed
    (yielded as an ItemError) must not be skipped by the checkpoint, so a rerun retries it.
    """

    name: str
    checkpoint_key: str | None  # None: not incremental

    def chunks(self, resume: Checkpoint | None = None) -> Iterator[Chunk | ItemError]:
        """Stream chunks; `resume` is a checkpoint from an earlier, interrupted run."""
        ...  # pragma: no cover

    def checkpoint(self) -> Checkpoint:
        """A JSON-able position from which a later run can resume."""
        ...  # pragma: no cover

    def estimate(self) -> int | None:
        """Total bytes expected, for a progress bar, or None if unknown."""
        ...  # pragma: no cover


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def strip_ansi(text: str) -> str:
    """Remove ANSI colour and cursor escape sequences."""
    return _ANSI.sub("", text)
