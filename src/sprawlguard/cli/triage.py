"""`sprawlguard triage FINGERPRINT --status ...`: record a decision about one governed secret."""

from __future__ import annotations

from pathlib import Path

import click

from sprawlguard.cli.inventory import STATUS_CHOICES, normalise_status
from sprawlguard.store.inventory import Inventory


@click.command()
@click.argument("fingerprint")
@click.option("--status", required=True, type=click.Choice(STATUS_CHOICES),
              help="open, revoked, accepted-risk or false-positive.")
@click.option("--note", default="", help="Why (kept in the status history).")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Inventory database [default: inventory.sqlite3 in the data directory].")
def triage(fingerprint: str, status: str, note: str, db_path: Path | None) -> None:
    """Set a secret's status (FINGERPRINT: at least 4 leading characters).

    Secrets marked accepted-risk or false-positive no longer fail scans; every change is kept,
    with its note, in the secret's status history (`sprawlguard inventory show`).
    """
    with Inventory(db_path) as inv:
        fp = inv.resolve(fingerprint)
        inv.set_status(fp, normalise_status(status), note)
    click.echo(f"{fp[:16]}: {normalise_status(status)}")
