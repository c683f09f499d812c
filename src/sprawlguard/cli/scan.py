"""`sprawlguard scan <source>`: one subcommand per source family."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sprawlguard.cli.options import passes_kwargs, run, scan_options
from sprawlguard.config import Settings
from sprawlguard.sources import get_source
from sprawlguard.sources.base import Source

DEFAULT_MAX_FILE_SIZE = "100MB"
_UNITS = {"": 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3}


def parse_size(text: str) -> int:
    """'10MB' -> 10_000_000; a clear click error otherwise."""
    t = text.strip().upper()
    num = t.rstrip("KMGIB")
    unit = t[len(num):]
    if not num.isdigit() or unit not in _UNITS:
        raise click.BadParameter(f"{text!r} is not a size like 500KB, 10MB or 1GiB")
    return int(num) * _UNITS[unit]


@click.group()
def scan() -> None:
    """Scan a source for secrets."""


@scan.command("path")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--include", multiple=True, help="Only paths matching this gitignore-style glob.")
@click.option("--exclude", multiple=True, help="Skip paths matching this gitignore-style glob.")
@click.option("--gitignore/--no-gitignore", default=None, help="Respect .gitignore files [default: off].")
@click.option("--max-file-size", default=None, help=f"Skip larger files [default: {DEFAULT_MAX_FILE_SIZE}].")
@click.option("--follow-symlinks", is_flag=True, help="Follow symbolic links.")
@scan_options
@passes_kwargs
def scan_path(paths: tuple[Path, ...], include: tuple[str, ...], exclude: tuple[str, ...],
              gitignore: bool | None, max_file_size: str | None, follow_symlinks: bool,
              **kw: Any) -> int:
    """Scan files and directories (`-` reads standard input)."""

    def factory(settings: Settings) -> Source:
        if paths == (Path("-"),):
            return get_source("stdin")()  # type: ignore[no-any-return]
        if Path("-") in paths:
            raise click.UsageError("'-' (stdin) cannot be combined with paths")
        size = parse_size(max_file_size or (str(settings.max_file_size) if settings.max_file_size
                                            else DEFAULT_MAX_FILE_SIZE))
        return get_source("path")(  # type: ignore[no-any-return]
            paths=paths,
            include=tuple(settings.include) + include,
            exclude=tuple(settings.exclude) + exclude,
            gitignore=bool(gitignore if gitignore is not None else settings.gitignore),
            max_file_bytes=size,
            follow_symlinks=follow_symlinks,
        )

    return run(factory, kw)


@scan.command("stdin")
@click.option("--label", default="<stdin>", help="The path to report for findings.")
@scan_options
@passes_kwargs
def scan_stdin(label: str, **kw: Any) -> int:
    """Scan standard input."""
    return run(lambda _settings: get_source("stdin")(label=label), kw)
