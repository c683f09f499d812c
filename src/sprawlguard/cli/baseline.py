"""`sprawlguard baseline`: create, update and show a baseline file of accepted secrets.

`create` and `update` scan files (like `detect-secrets scan > .secrets.baseline`); for git history or
another source, `sprawlguard scan <source> --write-baseline FILE` adds that scan's secrets instead.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from sprawlguard.cli.options import RULE_OPTIONS, passes_kwargs, scan_opts, settings_for, summarise
from sprawlguard.cli.scan import PATH_OPTIONS, path_source
from sprawlguard.errors import ExitCode, UsageError
from sprawlguard.pipeline import build_scanner
from sprawlguard.store.baseline import Baseline, load_baseline, write_baseline

_FILE = click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
_SCAN = [
    click.argument("paths", nargs=-1, type=click.Path(path_type=Path)),
    *RULE_OPTIONS,
    click.option("--min-confidence", type=click.Choice(["low", "medium", "high"]), default="low",
                 show_default=True,
                 help="Accept findings of at least this confidence (low: whatever a later scan reports)."),
    *PATH_OPTIONS,
]


def _scan_args(fn: Any) -> Any:
    for opt in reversed(_SCAN):
        fn = opt(fn)
    return fn


@click.group()
def baseline() -> None:
    """Accepted secrets, so that `scan ... --baseline FILE --fail-on new` fails only on new ones."""


def _scan_into(base: Baseline, paths: tuple[Path, ...], kw: dict[str, Any], prune: bool,
               file: Path) -> int:
    """Scan PATHS (default: the current directory), merge into `base`, write FILE; the exit code."""
    settings = settings_for(kw["config_file"])
    scanner = build_scanner(scan_opts(settings, {**kw, "baseline": None, "progress": None, "jobs": 0}))
    source = path_source(settings, paths or (Path("."),), kw["include"], kw["exclude"], kw["gitignore"],
                         kw["max_file_size"], kw["follow_symlinks"])
    result = scanner.scan(source)
    summarise(result, sys.stderr)
    if result.interrupted:
        return int(ExitCode.INTERRUPTED)  # a partial scan would accept too little or drop too much
    added = base.add(result.secrets)
    removed = base.keep_only(result.secrets) if prune and not result.errors else 0
    total = write_baseline(file, base)
    click.echo(f"{file}: {total} accepted secret(s); {added} added, {removed} removed", err=True)
    return int(ExitCode.SCAN_ERROR) if result.errors else 0


@baseline.command("create")
@_FILE
@_scan_args
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists (with a new salt).")
@passes_kwargs
def create(file: Path, paths: tuple[Path, ...], force: bool, **kw: Any) -> int:
    """Scan PATHS (default: .) and accept every secret found, in a new baseline FILE."""
    if file.exists() and not force:
        raise UsageError(f"{file}: already exists",
                         hint="use `sprawlguard baseline update FILE` to keep its salt, or --force")
    return _scan_into(Baseline(), paths, kw, prune=False, file=file)


@baseline.command("update")
@_FILE
@_scan_args
@click.option("--prune", is_flag=True,
              help="Also drop accepted secrets this scan no longer finds (not after a scan error).")
@passes_kwargs
def update(file: Path, paths: tuple[Path, ...], prune: bool, **kw: Any) -> int:
    """Scan PATHS (default: .) and add the secrets found to FILE (same salt, same order)."""
    if not file.exists():
        raise UsageError(f"{file}: no such baseline", hint="create it with `sprawlguard baseline create FILE`")
    return _scan_into(load_baseline(file), paths, kw, prune=prune, file=file)


@baseline.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def show(file: Path) -> None:
    """Print the rule id and salted hash of every accepted secret."""
    for rule_id, h in sorted(load_baseline(file).entries):
        click.echo(f"{rule_id}\t{h}")
