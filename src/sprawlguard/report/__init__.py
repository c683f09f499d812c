"""Report formats: one module per format, registered by name and imported lazily."""

from __future__ import annotations

import importlib
from typing import Any

FORMATTERS: dict[str, str] = {
    "terminal": "sprawlguard.report.terminal:TerminalFormatter",
    "json": "sprawlguard.report.json:JsonFormatter",
    "jsonl": "sprawlguard.report.json:JsonlFormatter",
    "sarif": "sprawlguard.report.sarif:SarifFormatter",
    "html": "sprawlguard.report.html:HtmlFormatter",
}


def get_formatter(name: str) -> Any:
    """The Formatter class registered under `name`."""
    module, _, attr = FORMATTERS[name].partition(":")
    return getattr(importlib.import_module(module), attr)
