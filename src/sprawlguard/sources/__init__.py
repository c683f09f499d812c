"""Sources: one module per place to scan, loaded lazily by name (so the hook never imports slack-sdk)."""

from __future__ import annotations

import importlib
from typing import Any

SOURCES: dict[str, str] = {
    "path": "sprawlguard.sources.files:FilesSource",
    "stdin": "sprawlguard.sources.files:StdinSource",
    "git": "sprawlguard.sources.git:GitHistorySource",
    "staged": "sprawlguard.sources.git:GitStagedSource",
    "jira": "sprawlguard.sources.jira:JiraSource",
    "confluence": "sprawlguard.sources.confluence:ConfluenceSource",
    "slack": "sprawlguard.sources.slack:SlackSource",
    "slack-export": "sprawlguard.sources.slack:SlackExportSource",
    "ci-logs": "sprawlguard.sources.cilogs:CiLogsSource",
    "ci-github": "sprawlguard.sources.ciproviders:GitHubActionsSource",
    "ci-gitlab": "sprawlguard.sources.ciproviders:GitLabSource",
    "ci-jenkins": "sprawlguard.sources.ciproviders:JenkinsSource",
}


def get_source(name: str) -> Any:
    """The Source class registered under `name`."""
    module, _, attr = SOURCES[name].partition(":")
    return getattr(importlib.import_module(module), attr)
