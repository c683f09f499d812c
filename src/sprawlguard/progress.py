"""Progress display: a rich bar on an interactive terminal, nothing in CI or when piped."""

from __future__ import annotations

import os
import sys
from typing import Any, Protocol


class Progress(Protocol):
    """What the pipeline reports progress to."""

    def start(self, total_bytes: int | None) -> None: ...  # pragma: no cover
    def advance(self, nbytes: int, files: int = 0) -> None: ...  # pragma: no cover
    def stop(self) -> None: ...  # pragma: no cover


class SilentProgress:
    """Shows nothing."""

    def start(self, total_bytes: int | None) -> None:
        pass

    def advance(self, nbytes: int, files: int = 0) -> None:
        pass

    def stop(self) -> None:
        pass


class RichProgress:
    """A rich progress bar with bytes, files and throughput, on stderr."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._p = Progress(TextColumn("scanning"), BarColumn(), DownloadColumn(),
                           TransferSpeedColumn(), TextColumn("{task.fields[files]} files"),
                           TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self._task: Any = None

    def start(self, total_bytes: int | None) -> None:
        self._p.start()
        self._task = self._p.add_task("scan", total=total_bytes, files=0)

    def advance(self, nbytes: int, files: int = 0) -> None:
        task = self._p.tasks[0]
        self._p.update(self._task, advance=nbytes, files=task.fields["files"] + files)

    def stop(self) -> None:
        self._p.stop()


def is_interactive() -> bool:
    """A person is watching: stdout and stderr are terminals and we are not in CI (CI=true)."""
    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    return not ci and sys.stdout.isatty() and sys.stderr.isatty()


def make_progress(enabled: bool | None = None) -> Progress:
    """The rich bar when interactive (or forced), else the silent one."""
    return RichProgress() if (is_interactive() if enabled is None else enabled) else SilentProgress()
