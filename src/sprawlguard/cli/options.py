"""Options shared by every `scan` subcommand, and the one function that runs a scan and reports it."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from sprawlguard.config import Settings, load_settings
from sprawlguard.errors import ExitCode, UsageError
from sprawlguard.model import FAIL_ON, SUPPRESSED, ScanResult
from sprawlguard.pipeline import Scanner, ScanOptions, build_scanner
from sprawlguard.report import FORMATTERS, get_formatter
from sprawlguard.sources.base import Checkpoint, Source

if TYPE_CHECKING:
    from sprawlguard.store.inventory import Inventory

#: Which rules run (also used by `baseline create|update`).
RULE_OPTIONS: list[Callable[[Any], Any]] = [
    click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
                 help="Settings file (default: .sprawlguard.yaml in the current directory)."),
    click.option("--rules", "rules_dirs", multiple=True, type=click.Path(exists=True, path_type=Path),
                 help="Extra rules directory or file (repeatable)."),
    click.option("--no-builtin-rules", is_flag=True, help="Use only --rules / --gitleaks-config rules."),
    click.option("--gitleaks-config", type=click.Path(path_type=Path),
                 help="Import rules and allowlists from a gitleaks/betterleaks TOML config."),
    click.option("--enable-rule", "enable_rules", multiple=True, help="Only these rule ids (prefixes)."),
    click.option("--disable-rule", "disable_rules", multiple=True, help="Skip these rule ids (prefixes)."),
]

_SCAN_OPTIONS: list[Callable[[Any], Any]] = [
    click.option("-f", "--format", "fmt", type=click.Choice(sorted(FORMATTERS)), default="terminal",
                 show_default=True, help="Report format."),
    click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                 help="Write the report to FILE instead of stdout."),
    *RULE_OPTIONS,
    click.option("--min-confidence", type=click.Choice(["low", "medium", "high"]), default=None,
                 help="Report findings of at least this confidence [default: medium]."),
    click.option("--fail-on", type=click.Choice(FAIL_ON), default="any", show_default=True,
                 help="Which findings make the exit code 1."),
    click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path),
                 help="Accepted secrets (`baseline create`, --write-baseline): reported as not new."),
    click.option("--write-baseline", type=click.Path(dir_okay=False, path_type=Path),
                 help="Add every secret of this scan to a baseline file (created if missing)."),
    click.option("--show-secrets", is_flag=True, help="Print raw secret values (never the default)."),
    click.option("--ignore-inline-allow", is_flag=True,
                 help="Audit mode: report secrets even on lines with a `sprawlguard:allow` comment."),
    click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path),
                 help="Inventory database [default: inventory.sqlite3 in the data directory]."),
    click.option("--no-db", is_flag=True, help="Do not read or write the inventory."),
    click.option("--store-values", is_flag=True,
                 help="Also store raw secret values in the inventory (never the default)."),
    click.option("--no-verify", is_flag=True,
                 help="Do not verify at all (also SPRAWLGUARD_NO_VERIFY=1) [default: verify]."),
    click.option("--offline", is_flag=True,
                 help="Only offline checks (checksums, JWT expiry, AWS canaries); contact no issuer."),
    click.option("--verify-host", "verify_hosts", multiple=True, metavar="HOST",
                 help="Allow verifying against this host taken from scanned text (self-hosted Vault...)."),
    click.option("-j", "--jobs", type=click.IntRange(0, 256), default=0,
                 help="Worker processes for large scans [default: 0 = one per core, less one for git in history scans]."),
    click.option("--progress/--no-progress", default=None,
                 help="Force the progress bar on or off [default: on for an interactive terminal]."),
]


def scan_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a scan subcommand with the shared options."""
    for opt in reversed(_SCAN_OPTIONS):
        fn = opt(fn)
    return fn


def settings_for(config_file: Path | None) -> Settings:
    if config_file is not None and not config_file.is_file():
        raise UsageError(f"{config_file}: config file not found")
    return load_settings(config_file, search_dir=Path.cwd())


def scan_opts(settings: Settings, kw: dict[str, Any]) -> ScanOptions:
    """Merge the settings file and the command line (the command line wins)."""
    return ScanOptions(
        rules_dirs=tuple(settings.rules_dirs) + tuple(kw["rules_dirs"]),
        builtin_rules=not kw["no_builtin_rules"],
        gitleaks_config=kw["gitleaks_config"],
        enable_rules=tuple(settings.enable_rules) + tuple(kw["enable_rules"]),
        disable_rules=tuple(settings.disable_rules) + tuple(kw["disable_rules"]),
        min_confidence=kw["min_confidence"] or settings.min_confidence or "medium",
        allow_paths=settings.allow_paths,
        allow_values=settings.allow_values,
        allow_rules=settings.allow_rules,
        baseline=kw["baseline"],
        honour_inline_allow=not kw.get("ignore_inline_allow"),
        progress=kw["progress"],
        jobs=kw["jobs"],
    )


def exit_code(result: ScanResult, fail_on: str) -> int:
    """130 interrupted > 3 scan errors > 1 findings failing the policy > 0.

    Secrets triaged in the inventory as false_positive or accepted_risk never fail the policy.
    """
    if result.interrupted:
        return int(ExitCode.INTERRUPTED)
    if result.errors:
        return int(ExitCode.SCAN_ERROR)
    if any(s.status not in SUPPRESSED for s in result.failing(fail_on)):
        return int(ExitCode.FINDINGS)
    return int(ExitCode.OK)


def open_inventory(kw: dict[str, Any]) -> Inventory | None:
    """The inventory the options ask for, or None with --no-db."""
    if kw.get("no_db"):
        if kw.get("db_path") is not None:
            raise UsageError("--db and --no-db cannot be combined")
        return None
    from sprawlguard.store.inventory import Inventory  # lazy: `scan staged` never opens it

    return Inventory(kw.get("db_path"), store_values=bool(kw.get("store_values")))


def source_label(source: Source) -> str:
    """A short description of what was scanned, for the scans table (no text from the scan)."""
    paths = getattr(source, "paths", None) or [getattr(source, "repo", None) or getattr(source, "label", None)]
    where = ", ".join(str(p) for p in paths if p)
    return f"{getattr(source, 'name', 'source')}:{where}" if where else str(getattr(source, "name", "source"))


def report(result: ScanResult, kw: dict[str, Any]) -> None:
    formatter = get_formatter(kw["fmt"])(show_secrets=kw["show_secrets"])
    output: Path | None = kw["output"]
    if output is None:
        formatter.render(result, sys.stdout)
        sys.stdout.flush()
        return
    try:
        with output.open("w", encoding="utf-8") as fh:
            formatter.render(result, fh)
    except OSError as exc:
        raise UsageError(f"{output}: cannot write the report: {exc.strerror}") from None


def summarise(result: ScanResult, out: TextIO) -> None:
    """One line on stderr for machine formats, plus every error and every item skipped as too large
    (neither ever holds a secret)."""
    for e in result.errors:
        out.write(f"sprawlguard: error: {e.location.uri}: {e.reason}\n")
    for e in result.skipped:
        if e.kind == "too_large":
            out.write(f"sprawlguard: skipped: {e.location.uri}: {e.reason}\n")
    if result.interrupted:
        out.write("sprawlguard: interrupted; partial results were written\n")


@dataclass
class Job:
    """One scan as a subcommand's options describe it: build the source, then scan, record, report."""

    factory: Callable[[Settings], Source]
    kw: dict[str, Any]
    after: Callable[[Source, ScanResult], None] | None = None


# While set (by `collecting()`), `run()` appends its job here instead of executing it: this is how
# `scan --config` and `doctor` parse each configured source with the subcommand's own click options.
_COLLECTOR: contextvars.ContextVar[list[Job] | None] = contextvars.ContextVar("sprawlguard_jobs", default=None)


@contextlib.contextmanager
def collecting() -> Iterator[list[Job]]:
    """Within this block, scan subcommands return their job (appended to the list) instead of scanning."""
    jobs: list[Job] = []
    token = _COLLECTOR.set(jobs)
    try:
        yield jobs
    finally:
        _COLLECTOR.reset(token)


def execute(job: Job, settings: Settings | None = None) -> tuple[Source, ScanResult]:
    """Build the scanner and the source, scan (with checkpoints), verify and record; no report.

    `settings` replaces the settings file lookup (scheduled runs pass their own).
    """
    kw = job.kw
    if settings is None:
        settings = settings_for(kw["config_file"])
    scanner: Scanner = build_scanner(scan_opts(settings, kw))
    source = job.factory(settings)
    inventory = open_inventory(kw)
    try:
        scan_id = inventory.begin_scan(source_label(source)) if inventory else 0
        # Incremental sources (checkpoint_key set) resume from the inventory's checkpoint and
        # commit their position with their secrets, periodically and at the end.
        key: str | None = getattr(source, "checkpoint_key", None) if inventory is not None else None
        resume = inventory.get_checkpoint(key) if inventory is not None and key else None
        keep_new = scanner.baseline is not None

        def flush(partial: ScanResult, state: Checkpoint) -> None:
            assert inventory is not None and key
            inventory.record(scan_id, partial, keep_new=keep_new, checkpoint=(key, state), final=False)

        try:
            result = scanner.scan(source, resume=resume, flush=flush if key else None)
        except BaseException:
            if inventory is not None:
                inventory.fail_scan(scan_id)
            raise
        if not result.interrupted:
            from sprawlguard.cli.verify import verify_result

            result.secrets = verify_result(result.secrets, scanner.rules, kw, inventory)
        if inventory is not None:
            result.secrets = inventory.record(scan_id, result, keep_new=keep_new,
                                              checkpoint=(key, source.checkpoint()) if key else None)
    finally:
        if inventory is not None:
            inventory.close()
    return source, result


def write_baseline_of(result: ScanResult, kw: dict[str, Any]) -> None:
    """--write-baseline FILE: add this scan's secrets to FILE."""
    if kw["write_baseline"] is None:
        return
    from sprawlguard.store.baseline import Baseline, load_baseline, write_baseline

    target: Path = kw["write_baseline"]
    base = load_baseline(target) if target.exists() else Baseline()
    base.add(result.secrets)
    write_baseline(target, base)


def run(source_factory: Callable[[Settings], Source], kw: dict[str, Any],
        after: Callable[[Source, ScanResult], None] | None = None) -> int:
    """Build everything from the options, scan one source, write the report, return the exit code.

    `after(source, result)` runs once the result is recorded and reported (e.g. `scan slack --notify`).
    Inside `collecting()`, only hand the job over (returns 0).
    """
    job = Job(source_factory, kw, after)
    jobs = _COLLECTOR.get()
    if jobs is not None:
        jobs.append(job)
        return 0
    source, result = execute(job)
    report(result, kw)
    write_baseline_of(result, kw)
    summarise(result, sys.stderr)
    if after is not None:
        after(source, result)
    return exit_code(result, kw["fail_on"])


def passes_kwargs(fn: Callable[..., int]) -> Callable[..., None]:
    """Turn a command returning an exit code into one that exits with it."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        code = fn(*args, **kwargs)
        if code:
            raise click.exceptions.Exit(code)

    return wrapper
