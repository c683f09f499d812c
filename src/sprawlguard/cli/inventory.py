"""`sprawlguard inventory`: list, show and triage the governed secrets in the SQLite inventory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sprawlguard.govern.owasp import name as owasp_name
from sprawlguard.store.inventory import STATUSES, Inventory

_DB = click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path),
                   help="Inventory database [default: inventory.sqlite3 in the data directory].")


def _open(db_path: Path | None) -> Inventory:
    return Inventory(db_path)


@click.group()
def inventory() -> None:
    """The inventory of governed secrets (filled by every scan unless --no-db)."""


@inventory.command("list")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES),
              help="Only secrets with this status (repeatable).")
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


@inventory.command("set-status")
@click.argument("fingerprint")
@click.argument("status", type=click.Choice(STATUSES))
@click.option("--note", default="", help="Why (kept in the status history).")
@_DB
def set_status(fingerprint: str, status: str, note: str, db_path: Path | None) -> None:
    """Triage a secret: open, revoked, accepted_risk or false_positive.

    Secrets marked accepted_risk or false_positive no longer fail scans.
    """
    with _open(db_path) as inv:
        fp = inv.resolve(fingerprint)
        inv.set_status(fp, status, note)
    click.echo(f"{fp[:16]}: {status}")
