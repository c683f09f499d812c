"""`sprawlguard baseline`: manage a baseline file of accepted findings."""

from __future__ import annotations

from pathlib import Path

import click

from sprawlguard.store.baseline import load_baseline


@click.group()
def baseline() -> None:
    """Inspect baseline files (create one with `scan ... --write-baseline FILE`)."""


@baseline.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def show(file: Path) -> None:
    """Print the rule id and salted hash of every baselined secret."""
    for h, rule_id in sorted(load_baseline(file).entries.items()):
        click.echo(f"{rule_id}\t{h}")
