"""JSON (one document) and JSON Lines (one finding per line) output, schema version 1.0."""

from __future__ import annotations

import json
from typing import TextIO

from sprawlguard.model import ScanResult
from sprawlguard.report.base import SCHEMA_VERSION, TOOL, findings, stats_dict


class JsonFormatter:
    """`{"schema_version", "tool", "stats", "findings": [...]}`."""

    name = "json"

    def __init__(self, show_secrets: bool = False) -> None:
        self.show_secrets = show_secrets

    def render(self, result: ScanResult, out: TextIO) -> None:
        doc = {"schema_version": SCHEMA_VERSION, "tool": TOOL, "stats": stats_dict(result),
               "findings": findings(result, self.show_secrets)}
        json.dump(doc, out, indent=2)
        out.write("\n")


class JsonlFormatter:
    """One finding object per line (each carries `schema_version`)."""

    name = "jsonl"

    def __init__(self, show_secrets: bool = False) -> None:
        self.show_secrets = show_secrets

    def render(self, result: ScanResult, out: TextIO) -> None:
        for f in findings(result, self.show_secrets):
            out.write(json.dumps({"schema_version": SCHEMA_VERSION, **f}) + "\n")
