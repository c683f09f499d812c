"""`sprawlguard scan slack`: a workspace through the Web API (incremental), or an export ZIP (offline)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from sprawlguard.cli.options import passes_kwargs, run, scan_options
from sprawlguard.cli.scan import parse_size
from sprawlguard.config import Settings
from sprawlguard.errors import UsageError
from sprawlguard.model import ScanResult
from sprawlguard.sources import get_source
from sprawlguard.sources.base import Source

DEFAULT_MAX_FILE_SIZE = "10MB"


def _token(env: str) -> str:
    token = os.environ.get(env, "").strip()
    if not token:
        raise UsageError(f"no Slack token: the environment variable {env} is empty or not set",
                         hint=f"export {env}=<a bot (xoxb-) or user (xoxp-) token>, or name another "
                              "variable with --token-env")
    return token


@click.command("slack")
@click.option("--channel", "channels", multiple=True, metavar="ID_OR_NAME",
              help="Only this conversation (id or name, repeatable) [default: all the token can read].")
@click.option("--include-archived", is_flag=True, help="Also scan archived channels.")
@click.option("--export", "export_zip", type=click.Path(dir_okay=False, path_type=Path),
              help="Scan a Slack export ZIP offline instead of the Web API.")
@click.option("--token-env", default="SLACK_TOKEN", show_default=True, metavar="NAME",
              help="Environment variable holding the token (the token is never printed).")
@click.option("--base-url", metavar="URL",
              help="Web API base URL, for Enterprise proxies and testing [default: https://slack.com/api/].")
@click.option("--notify", metavar="CHANNEL",
              help="Post a redacted summary of new live findings to CHANNEL [default: off].")
@click.option("--full", is_flag=True,
              help="Ignore the stored checkpoint and rescan every message (finds edits to old messages).")
@click.option("--thread-days", type=click.FloatRange(0), default=30.0, show_default=True,
              help="Re-check threads and edits of messages this many days old for new replies.")
@click.option("--max-file-size", default=DEFAULT_MAX_FILE_SIZE, show_default=True,
              help="Skip shared files larger than this.")
@scan_options
@passes_kwargs
def scan_slack(channels: tuple[str, ...], include_archived: bool, export_zip: Path | None, token_env: str,
               base_url: str | None, notify: str | None, full: bool, thread_days: float,
               max_file_size: str, **kw: Any) -> int:
    """Scan Slack: every conversation the token can read, or an export ZIP (--export)."""
    size = parse_size(max_file_size)
    token = _token(token_env) if export_zip is None or notify is not None else ""  # fail before scanning

    def factory(_settings: Settings) -> Source:
        if export_zip is not None:
            if channels or include_archived or full:
                raise UsageError("--channel, --include-archived and --full apply to the Web API, not --export")
            if not export_zip.is_file():
                raise UsageError(f"{export_zip}: export ZIP not found")
            return get_source("slack-export")(path=export_zip)  # type: ignore[no-any-return]
        source = get_source("slack")(token=token, base_url=base_url, channels=channels,
                                     include_archived=include_archived, full=full,
                                     thread_days=thread_days, max_file_bytes=size)
        source.connect()  # a rejected token fails here, before anything is recorded
        return source  # type: ignore[no-any-return]

    def after(source: Source, result: ScanResult) -> None:
        if notify is None:
            return
        notifier = source if hasattr(source, "notify") else get_source("slack")(
            token=token, base_url=base_url)
        posted = notifier.notify(notify, result.secrets)
        if posted:
            sys.stderr.write(f"sprawlguard: posted {posted} new live finding(s) to {notify}\n")

    return run(factory, kw, after=after)
