"""`sprawlguard report`: render the inventory (not a scan) as HTML, JSON or SARIF."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import click

from sprawlguard.cli.inventory import STATUS_FILTER
from sprawlguard.errors import UsageError
from sprawlguard.model import ScanResult, ScanStats
from sprawlguard.report import get_formatter
from sprawlguard.store.export import records, to_secret
from sprawlguard.store.inventory import Inventory


@contextmanager
def output_stream(path: Path | None) -> Iterator[TextIO]:
    """Standard output, or FILE opened for writing with a clear error when it cannot be."""
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    try:
        fh = path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror}") from None
    with fh:
        yield fh


@click.command()
@click.option("-f", "--format", "fmt", type=click.Choice(["html", "json", "sarif"]), default="html",
              show_default=True, help="Report format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report to FILE instead of stdout.")
@STATUS_FILTER
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Inventory database [default: inventory.sqlite3 in the data directory].")
def report(fmt: str, output: Path | None, statuses: tuple[str, ...], db_path: Path | None) -> None:
    """Every governed secret in the inventory, highest risk first, with all its places (redacted)."""
    with Inventory(db_path) as inv:
        secrets = [to_secret(d) for d in records(inv, statuses)]
        origin = str(inv.path)
    result = ScanResult(secrets=secrets, stats=ScanStats())
    formatter = get_formatter(fmt)()
    if fmt == "html":
        formatter.origin = origin
    with output_stream(output) as out:
        formatter.render(result, out)
