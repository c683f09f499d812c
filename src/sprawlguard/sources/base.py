"""The Source protocol every connector implements, and text helpers shared by sources."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath
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
    # Optional: `helper_processes`, how many cores the source's own helpers keep busy (git
    # history: 1, its `git cat-file`); the automatic worker count leaves them those cores.

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


# What attachment-like sources (Slack files, Jira and Confluence attachments) download and scan.
TEXT_SUFFIXES = frozenset({
    ".txt", ".text", ".log", ".env", ".md", ".rst", ".adoc", ".csv", ".tsv", ".json", ".yaml", ".yml",
    ".toml", ".ini", ".cfg", ".conf", ".config", ".properties", ".xml", ".html", ".htm", ".har",
    ".sh", ".bash", ".zsh", ".ps1", ".bat", ".cmd", ".py", ".ipynb", ".rb", ".js", ".mjs", ".ts",
    ".tsx", ".jsx", ".go", ".java", ".kt", ".scala", ".rs", ".c", ".h", ".cc", ".cpp", ".hpp", ".cs",
    ".php", ".pl", ".swift", ".sql", ".tf", ".tfvars", ".hcl", ".gradle", ".tpl", ".j2", ".pem",
    ".key", ".crt", ".pub", ".npmrc", ".pypirc", ".netrc", ".pgpass", ".htpasswd", ".dockerfile",
    ".diff", ".patch",
})
TEXT_NAMES = frozenset({"dockerfile", "makefile", "jenkinsfile", "procfile", "id_rsa", "id_dsa", "id_ecdsa",
                        "id_ed25519", "credentials", "config"})
TEXT_MIME = ("text/", "application/json", "application/xml", "application/x-yaml", "application/yaml",
             "application/x-sh", "application/javascript", "application/x-pem-file", "application/toml",
             "application/sql", "application/x-httpd-php", "application/x-python")


def is_text_like(filename: str, mime: str | None) -> bool:
    """Worth downloading: a text MIME type, a known text/config/code suffix or name, a dotfile such as
    `.npmrc` (its whole name counts as the suffix), or an `.env*` file."""
    name = PurePosixPath(filename or "").name.lower()
    suffix = PurePosixPath(name).suffix or (name if name.startswith(".") else "")
    return ((mime or "").lower().startswith(TEXT_MIME) or suffix in TEXT_SUFFIXES or name in TEXT_NAMES
            or name.startswith(".env"))
