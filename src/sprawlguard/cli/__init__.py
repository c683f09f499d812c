"""The `sprawlguard` command: a thin click layer over the pipeline.

Each subcommand family lives in its own module and is imported only when used, so
`sprawlguard scan path` (the pre-commit path) never imports the network connectors.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from sprawlguard import __version__
from sprawlguard.errors import ExitCode, SprawlguardError
from sprawlguard.redact import scrub_url_credentials

COMMANDS: dict[str, str] = {
    "scan": "sprawlguard.cli.scan:scan",
    "rules": "sprawlguard.cli.rules:rules",
    "baseline": "sprawlguard.cli.baseline:baseline",
    "inventory": "sprawlguard.cli.inventory:inventory",
    "verify": "sprawlguard.cli.verify:verify",
    "triage": "sprawlguard.cli.triage:triage",
    "report": "sprawlguard.cli.report:report",
    "doctor": "sprawlguard.cli.doctor:doctor",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, _, attr = self.lazy[cmd_name].partition(":")
            return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sprawlguard")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def cli(verbose: int) -> None:
    """Find leaked secrets and govern them as non-human identities."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="sprawlguard: %(levelname)s: %(message)s", stream=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run click, turn our errors into a message and an exit code."""
    try:
        rv = cli.main(args=argv, prog_name="sprawlguard", standalone_mode=False)
    except SprawlguardError as exc:
        click.echo(f"sprawlguard: error: {exc}", err=True)
        if exc.hint:
            click.echo(f"  hint: {exc.hint}", err=True)
        return int(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("sprawlguard: interrupted", err=True)
        return int(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("sprawlguard: interrupted", err=True)
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:  # a bug: say so plainly, never echo scanned text
        logging.getLogger("sprawlguard").debug("internal error", exc_info=True)
        click.echo(f"sprawlguard: internal error: {type(exc).__name__}: {scrub_url_credentials(str(exc))[:300]}"
                   " (run with -vv for the traceback)", err=True)
        return int(ExitCode.SCAN_ERROR)
    return int(rv or 0)
