"""`sprawlguard inventory`: list, show and export the governed secrets in the SQLite inventory.

Triage (changing a secret's status) is the top-level `sprawlguard triage` command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sprawlguard.govern.owasp import name as owasp_name
from sprawlguard.store.inventory import STATUSES, Inventory

_DB = click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path),
                   help="Inventory database [default: inventory.sqlite3 in the data directory].")
#: Statuses as users type them (accepted-risk) and as they are stored (accepted_risk).
STATUS_CHOICES = tuple(dict.fromkeys((*(s.replace("_", "-") for s in STATUSES), *STATUSES)))


def normalise_status(value: str) -> str:
    return value.replace("-", "_")


def _statuses(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(normalise_status(v) for v in values)


STATUS_FILTER = click.option("--status", "statuses", multiple=True, type=click.Choice(STATUS_CHOICES),
                             callback=_statuses, help="Only secrets with this status (repeatable).")


def _open(db_path: Path | None) -> Inventory:
    return Inventory(db_path)


@click.group()
def inventory() -> None:
    """The inventory of governed secrets (filled by every scan unless --no-db)."""


@inventory.command("list")
@STATUS_FILTER
@click.option("-f", "--format", "fmt", type=click.Choice(["terminal", "json"]), default="terminal",
              show_default=True)
@_DB
def list_(statuses: tuple[str, ...], fmt: str, db_path: Path | None) -> None:
    """Every secret, highest risk first (redacted previews only)."""
    with _open(db_path) as inv:
        rows = inv.list_secrets(statuses)
    if fmt == "json":
        click.echo(json.dumps({"secrets": rows}, indent=2))
        return
    if not rows:
        click.echo("no secrets in the inventory")
        return
    click.echo(f"{'fingerprint':<16} {'risk':>4} {'status':<14} {'places':>6}  {'rule':<28} preview")
    for r in rows:
        click.echo(f"{r['fingerprint'][:16]:<16} {r['risk']:>4} {r['status']:<14} {r['exposures']:>6}  "
                   f"{r['rule_id']:<28} {r['preview']}")


@inventory.command("show")
@click.argument("fingerprint")
@click.option("-f", "--format", "fmt", type=click.Choice(["terminal", "json"]), default="terminal",
              show_default=True)
@_DB
def show(fingerprint: str, fmt: str, db_path: Path | None) -> None:
    """One secret: every exposure, verdict and status change, and its remediation."""
    with _open(db_path) as inv:
        d = inv.show(inv.resolve(fingerprint))
    if fmt == "json":
        click.echo(json.dumps(d, indent=2))
        return
    _print_secret(d)


def _print_secret(d: dict[str, Any]) -> None:
    click.echo(f"fingerprint  {d['fingerprint']}")
    for key in ("preview", "rule_id", "issuer", "nhi_kind", "status", "risk", "first_seen", "last_seen"):
        click.echo(f"{key:<12} {d[key]}")
    click.echo(f"{'owasp':<12} {', '.join(owasp_name(i) for i in d['owasp_nhi'])}")
    if d["owner_hints"]:
        click.echo(f"{'owners':<12} {'; '.join(d['owner_hints'])}")
    click.echo(f"\nexposures ({len(d['exposures'])}):")
    for e in d["exposures"]:
        place = f"{e['path'] or e['uri']}:{e['line']}:{e['column']}"
        extra = f" [{e['details']['decoders']}]" if e["details"].get("decoders") else ""
        click.echo(f"  {e['source']:<7} {place}{extra}  first {e['first_seen']}  last {e['last_seen']}")
    if d["verdicts"]:
        click.echo("\nverdicts:")
        for v in d["verdicts"]:
            click.echo(f"  {v['checked_at']}  {v['status']}: {v['reason']}")
    if d["status_history"]:
        click.echo("\nstatus history:")
        for h in d["status_history"]:
            click.echo(f"  {h['changed_at']}  {h['status']}" + (f": {h['note']}" if h["note"] else ""))
    click.echo("\nremediation:")
    for k, v in d["remediation"].items():
        click.echo(f"  {k}: {v}")


@inventory.command("export")
@click.option("-f", "--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE instead of stdout.")
@STATUS_FILTER
@_DB
def export(fmt: str, output: Path | None, statuses: tuple[str, ...], db_path: Path | None) -> None:
    """Every secret with all its exposures (JSON), or one row per exposure (CSV); redacted."""
    from sprawlguard.cli.report import output_stream
    from sprawlguard.report.base import TOOL
    from sprawlguard.store.export import records, write_csv, write_json

    with _open(db_path) as inv:
        recs = records(inv, statuses)
    with output_stream(output) as out:
        if fmt == "csv":
            write_csv(recs, out)
        else:
            write_json(recs, out, TOOL)
