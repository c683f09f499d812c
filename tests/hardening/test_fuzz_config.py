"""Fuzzing the scheduled-scan config (`sprawlguard scan --config FILE`): whatever the YAML holds,
loading it succeeds or raises sprawlguard's own error (exit 2), and never echoes a secret-looking
value it was given."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from sprawlguard.cli.scan import scan
from sprawlguard.cli.scheduled import load_config
from sprawlguard.errors import SprawlguardError
from tests.hardening.test_fuzz_core import (
    values,  # also registers and loads the hypothesis profiles
)

TYPES = st.sampled_from(["git", "path", "ci-logs", "slack", "jira", "confluence", "bogus", 3, None])
OPTION_KEYS = st.sampled_from(["name", "repo", "url", "paths", "channel", "include_archived", "github",
                               "github_token_env", "token_env", "token", "jql", "space", "thread_days",
                               "max_file_size", "branch", "password", "format", "db", "nonsense"])
source = st.dictionaries(OPTION_KEYS, values, max_size=6) | values
source_with_type = st.tuples(TYPES, st.dictionaries(OPTION_KEYS, values, max_size=6)).map(
    lambda t: {"type": t[0], **t[1]})
config = st.fixed_dictionaries(
    {"sources": st.lists(source_with_type | source, max_size=4)},
    optional={"inventory": values, "parallel": values, "defaults": st.dictionaries(OPTION_KEYS, values, max_size=4)
              | values, "outputs": values, "notify": values, "bogus": values})
CANARY = "canary-secret-value-0123456789"


@given(config)
def test_config_loads_or_names_the_problem(tmp_path_factory: pytest.TempPathFactory, data: dict) -> None:
    path = tmp_path_factory.mktemp("cfg") / "sprawlguard.yaml"
    for src in data["sources"]:
        if isinstance(src, dict) and "token" in src:
            src["token"] = CANARY  # a literal credential must be refused without being echoed
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with click.Context(scan) as ctx:
        try:
            load_config(ctx, Path(path))
        except SprawlguardError as exc:
            assert CANARY not in str(exc)
