"""Sources: one module per place to scan, loaded lazily by name (so the hook never imports slack-sdk)."""

from __future__ import annotations

import importlib
from typing import Any

SOURCES: dict[str, str] = {
    "path": "sprawlguard.sources.files:FilesSource",
    "stdin": "sprawlguard.sources.files:StdinSource",
    "git": "sprawlguard.sources.git:GitHistorySource",
    "staged": "sprawlguard.sources.git:GitStagedSource",
}


def get_source(name: str) -> Any:
    """The Source class registered under `name`."""
    module, _, attr = SOURCES[name].partition(":")
    return getattr(importlib.import_module(module), attr)
