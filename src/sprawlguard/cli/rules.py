"""`sprawlguard rules list|check`: inspect and test rule files."""

from __future__ import annotations

from pathlib import Path

import click

from sprawlguard.cli.options import passes_kwargs
from sprawlguard.detect.rules import load_rules


@click.group()
def rules() -> None:
    """Inspect and test detection rules."""


@rules.command("list")
@click.option("--rules", "rules_dirs", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Extra rules directory or file.")
def list_rules(rules_dirs: tuple[Path, ...]) -> None:
    """List every rule: id, confidence, issuer, name."""
    for r in load_rules(rules_dirs):
        click.echo(f"{r.id}\t{r.confidence}\t{r.issuer}\t{r.name}")


@rules.command("check")
@click.argument("dirs", nargs=-1, type=click.Path(exists=True, path_type=Path))
@passes_kwargs
def check(dirs: tuple[Path, ...]) -> int:
    """Load rules strictly and run every example and negative example (built-ins if no DIR)."""
    from sprawlguard.detect.selftest import check_rules

    loaded = load_rules(dirs, builtin=not dirs, check_builtin_regex=True)
    problems = check_rules(loaded)
    for p in problems:
        click.echo(p, err=True)
    click.echo(f"{len(loaded)} rules, {len(problems)} problem(s)")
    return 1 if problems else 0
