"""`sprawlguard verify`: re-check inventory secrets; and the verification step of every scan."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click

from sprawlguard.detect.rules import Rule
from sprawlguard.errors import UsageError
from sprawlguard.model import Confidence, Secret
from sprawlguard.store.inventory import Inventory

NO_VERIFY_ENV = "SPRAWLGUARD_NO_VERIFY"


def _verifier(rules: Mapping[str, Rule], offline: bool, verify_hosts: Sequence[str],
              inventory: Inventory | None, use_cache: bool = True) -> Any:
    from sprawlguard.verify import Verifier, VerifyOptions

    try:
        return Verifier(rules, VerifyOptions(offline=offline, verify_hosts=tuple(verify_hosts)),
                        cache=inventory.latest_verdict if inventory is not None and use_cache else None)
    except ValueError as exc:  # a malformed SPRAWLGUARD_VERIFY_HOST_MAP
        raise UsageError(str(exc)) from None


def verify_result(secrets: list[Secret], rules: Mapping[str, Rule], kw: Mapping[str, Any],
                  inventory: Inventory | None) -> list[Secret]:
    """A scan's secrets with verdicts, unless --no-verify / SPRAWLGUARD_NO_VERIFY=1 (or none found)."""
    if kw.get("no_verify") or os.environ.get(NO_VERIFY_ENV, "").lower() in ("1", "true", "yes") or not secrets:
        return secrets
    from sprawlguard.govern.classify import by_risk, govern

    verifier = _verifier(rules, bool(kw.get("offline")), kw.get("verify_hosts") or (), inventory)
    return by_risk(govern(s) for s in verifier.verify(secrets))  # liveness changes risk and OWASP ids


def _stale(inv: Inventory, fp: str, days: float) -> bool:
    v = inv.latest_verdict(fp)
    if v is None or not v.checked_at:
        return True
    return datetime.fromisoformat(v.checked_at) < datetime.now(timezone.utc) - timedelta(days=days)


@click.command()
@click.argument("fingerprint", required=False)
@click.option("--all", "all_", is_flag=True, help="Every secret in the inventory.")
@click.option("--stale", type=click.FloatRange(0), metavar="DAYS",
              help="Secrets never verified, or last verified more than DAYS days ago.")
@click.option("--offline", is_flag=True, help="Only offline checks; contact no issuer.")
@click.option("--verify-host", "verify_hosts", multiple=True, metavar="HOST",
              help="Allow verifying against this host taken from scanned text.")
@click.option("--no-cache", is_flag=True, help="Ask the issuer even when a recent verdict exists.")
@click.option("-f", "--format", "fmt", type=click.Choice(["terminal", "json"]), default="terminal",
              show_default=True)
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Inventory database [default: inventory.sqlite3 in the data directory].")
def verify(fingerprint: str | None, all_: bool, stale: float | None, offline: bool,
           verify_hosts: tuple[str, ...], no_cache: bool, fmt: str, db_path: Path | None) -> None:
    """Re-check secrets in the inventory with their issuers and add the verdicts to their history.

    The raw value is needed: it is in the inventory only when a scan ran with --store-values.
    Otherwise re-scan the place the secret was found (`sprawlguard inventory show FP` lists them).
    """
    if sum(x is not None and x is not False for x in (fingerprint, all_ or None, stale)) != 1:
        raise UsageError("give exactly one of FINGERPRINT, --all or --stale DAYS")
    from sprawlguard.detect.rules import load_rules

    rules = {r.id: r for r in load_rules()}
    with Inventory(db_path) as inv:
        if fingerprint is not None:
            fps = [inv.resolve(fingerprint)]
        else:
            fps = [d["fingerprint"] for d in inv.list_secrets()]
            if stale is not None:
                fps = [fp for fp in fps if _stale(inv, fp, stale)]
        rows = {d["fingerprint"]: d for d in inv.list_secrets()}
        todo: list[Secret] = []
        out: list[dict[str, Any]] = []
        for fp in fps:
            d = rows[fp]
            value = inv.stored_value(fp)
            if value is None:
                out.append({"fingerprint": fp, "rule_id": d["rule_id"], "status": "not_checked",
                            "reason": "the raw value is not stored (scan with --store-values), so it cannot "
                                      "be re-checked; re-scan where it was found to verify it"})
                continue
            todo.append(Secret(fingerprint=fp, rule_id=d["rule_id"], rule_name=d["rule_name"], issuer=d["issuer"],
                               nhi_kind=d["nhi_kind"], preview=d["preview"], confidence=Confidence(d["confidence"]),
                               exposures=(), value=value))
        verifier = _verifier(rules, offline, verify_hosts, inv, use_cache=not no_cache and stale is None)
        for s in verifier.verify(todo):
            assert s.verdict is not None
            inv.put_verdict(s.fingerprint, s.verdict)
            out.append({"fingerprint": s.fingerprint, "rule_id": s.rule_id, "status": s.verdict.status.value,
                        "reason": s.verdict.reason, "checked_at": s.verdict.checked_at,
                        "identity": dict(s.verdict.identity)})
    if fmt == "json":
        click.echo(json.dumps(out, indent=2, sort_keys=True))
        return
    for r in out:
        click.echo(f"{r['fingerprint'][:12]}  {r['rule_id']:<34} {r['status']:<11} {r['reason']}")
    if not out:
        click.echo("nothing to verify")
