"""`sprawlguard scan <source>`: one subcommand per source family."""

from __future__ import annotations

from collections.abc import Callable
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


#: Network sources' subcommands live in their own modules, imported only when used, so the
#: pre-commit path (`scan staged`, `scan path`) never imports slack-sdk, atlassian or requests.
SCAN_COMMANDS: dict[str, str] = {
    "slack": "sprawlguard.cli.scan_slack:scan_slack",
    "ci-logs": "sprawlguard.cli.scan_ci:scan_ci_logs",
    "jira": "sprawlguard.cli.scan_atlassian:scan_jira",
    "confluence": "sprawlguard.cli.scan_atlassian:scan_confluence",
}


def _lazy_group() -> type[click.Group]:
    from sprawlguard.cli import LazyGroup

    return LazyGroup


@click.group(cls=_lazy_group(), lazy=SCAN_COMMANDS, invoke_without_command=True)
@click.option("--config", "schedule_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Run every source of a scheduled-scan config (sprawlguard.yaml); no subcommand.")
@click.option("--source", "only", multiple=True, metavar="NAME",
              help="With --config: only this configured source (repeatable).")
@click.pass_context
def scan(ctx: click.Context, schedule_file: Path | None, only: tuple[str, ...]) -> None:
    """Scan a source for secrets, or every source of a config file (--config FILE)."""
    if ctx.invoked_subcommand is not None:
        if schedule_file is not None or only:
            raise click.UsageError("--config and --source go before no subcommand: "
                                   "`sprawlguard scan --config FILE` (a subcommand takes its own --config)")
        return
    if schedule_file is None:
        if only:
            raise click.UsageError("--source needs --config FILE")
        raise click.exceptions.NoArgsIsHelpError(ctx)  # as before: bare `scan` shows its help
    from sprawlguard.cli.scheduled import run_config

    code = run_config(ctx, schedule_file, only)
    if code:
        raise click.exceptions.Exit(code)


#: How a directory is walked (also used by `baseline create|update`).
PATH_OPTIONS: list[Callable[[Any], Any]] = [
    click.option("--include", multiple=True, help="Only paths matching this gitignore-style glob."),
    click.option("--exclude", multiple=True, help="Skip paths matching this gitignore-style glob."),
    click.option("--gitignore/--no-gitignore", default=None, help="Respect .gitignore files [default: off]."),
    click.option("--max-file-size", default=None, help=f"Skip larger files [default: {DEFAULT_MAX_FILE_SIZE}]."),
    click.option("--follow-symlinks", is_flag=True, help="Follow symbolic links."),
]


def path_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(PATH_OPTIONS):
        fn = opt(fn)
    return fn


@scan.command("path")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@path_options
@scan_options
@passes_kwargs
def scan_path(paths: tuple[Path, ...], include: tuple[str, ...], exclude: tuple[str, ...],
              gitignore: bool | None, max_file_size: str | None, follow_symlinks: bool,
              **kw: Any) -> int:
    """Scan files and directories (`-` reads standard input)."""
    return run(lambda settings: path_source(settings, paths, include, exclude, gitignore, max_file_size,
                                            follow_symlinks), kw)


def path_source(settings: Settings, paths: tuple[Path, ...], include: tuple[str, ...] = (),
                exclude: tuple[str, ...] = (), gitignore: bool | None = None,
                max_file_size: str | None = None, follow_symlinks: bool = False) -> Source:
    """The files source for PATHS, merged with the settings file (`-` alone is stdin)."""
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


@scan.command("stdin")
@click.option("--label", default="<stdin>", help="The path to report for findings.")
@scan_options
@passes_kwargs
def scan_stdin(label: str, **kw: Any) -> int:
    """Scan standard input."""
    return run(lambda _settings: get_source("stdin")(label=label), kw)


@scan.command("git")
@click.argument("repo", required=False, default=".", type=click.Path(path_type=Path))
@click.option("--branch", "branches", multiple=True, metavar="REF",
              help="Only history reachable from REF (repeatable) [default: all refs, tags, stash].")
@click.option("--since-commit", metavar="REF", help="Only commits after REF (REF itself excluded).")
@click.option("--include-unreachable", is_flag=True,
              help="Also objects no ref reaches: reflog, deleted branches, dangling blobs.")
@click.option("--all-locations", is_flag=True,
              help="One location per introducing commit instead of the first one and a count.")
@click.option("--max-file-size", default=None, help=f"Skip larger blobs [default: {DEFAULT_MAX_FILE_SIZE}].")
@click.option("--pre-push", is_flag=True,
              help="Only commits being pushed (git pre-push stdin or pre-commit's refs; else HEAD "
                   "minus every remote-tracking branch).")
@click.option("--incremental", is_flag=True,
              help="Only commits added since the last --incremental scan of this repository "
                   "(ref tips kept in the inventory).")
@scan_options
@passes_kwargs
def scan_git(repo: Path, branches: tuple[str, ...], since_commit: str | None,
             include_unreachable: bool, all_locations: bool, max_file_size: str | None,
             pre_push: bool, incremental: bool, **kw: Any) -> int:
    """Scan the full history of a local git repository (each unique blob once)."""
    exclude: list[str] = []
    if pre_push:
        import os
        import sys

        from sprawlguard.sources.git import pre_push_revs

        if branches or include_unreachable:
            raise click.UsageError("--pre-push cannot be combined with --branch or --include-unreachable")
        # git's pre-push hook pipes the pushed refs; pre-commit passes them in the environment.
        piped = ("" if "PRE_COMMIT_TO_REF" in os.environ or sys.stdin is None or sys.stdin.isatty()
                 else sys.stdin.read())
        revs, exclude = pre_push_revs(piped, dict(os.environ))
        if not revs:
            return 0  # only branch deletions: nothing is pushed
        branches = tuple(revs)

    def factory(settings: Settings) -> Source:
        size = parse_size(max_file_size or (str(settings.max_file_size) if settings.max_file_size
                                            else DEFAULT_MAX_FILE_SIZE))
        return get_source("git")(  # type: ignore[no-any-return]
            repo=repo, branches=branches, since_commit=since_commit,
            include_unreachable=include_unreachable, all_locations=all_locations,
            max_file_bytes=size, exclude=tuple(exclude), not_on_remotes=pre_push,
            incremental=incremental,
        )

    return run(factory, kw)


ALLOW_HINT = (
    "sprawlguard: commit blocked: secret(s) in staged changes:\n{where}\n"
    "Remove the secret (and rotate it if it was real). If it is a false positive, either add a\n"
    "`sprawlguard:allow` comment on that line, or record it in a baseline:\n"
    "  sprawlguard scan staged --write-baseline .sprawlguard-baseline.json --fail-on never\n"
    "and run the hook with `--baseline .sprawlguard-baseline.json --fail-on new`.\n"
)


@scan.command("staged")
@click.argument("repo", required=False, default=".", type=click.Path(path_type=Path))
@scan_options
@passes_kwargs
def scan_staged(repo: Path, **kw: Any) -> int:
    """Scan only what is staged for the next commit (for pre-commit hooks); offline."""
    kw["no_verify"] = True  # the pre-commit path never contacts issuers
    import sys

    from sprawlguard.cli.options import exit_code, report, scan_opts, settings_for, summarise
    from sprawlguard.pipeline import build_scanner
    from sprawlguard.sources.git import describe_findings

    if kw["write_baseline"] is not None:
        return run(lambda _settings: get_source("staged")(repo=repo), kw)
    settings = settings_for(kw["config_file"])
    scanner = build_scanner(scan_opts(settings, kw))
    result = scanner.scan(get_source("staged")(repo=repo))
    report(result, kw)
    summarise(result, sys.stderr)
    code = exit_code(result, kw["fail_on"])
    if code == 1:
        failing = result.failing(kw["fail_on"])
        where = "\n".join(f"  {w}" for w in describe_findings(type(result)(failing, result.stats)))
        sys.stderr.write(ALLOW_HINT.format(where=where))
    return code
