"""`sprawlguard doctor [--config FILE]`: is the scheduled scan set up right? Says what is wrong, plainly.

Checks the config (the same parsing as `scan --config`), each source's credentials (set, accepted,
and the scope that matters where one cheap call tells), the inventory and the outputs. Never
prints a credential: only the names of the variables holding them.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import click

from sprawlguard.errors import SprawlguardError
from sprawlguard.redact import scrub_url_credentials

SLACK_SCOPES = ("channels:read", "channels:history", "users:read", "files:read")


def _say(ok: bool, what: str, text: str) -> bool:
    click.echo(f"{'ok  ' if ok else 'FAIL'}  {what}: {text}")
    return ok


def probe(spec: Any) -> str:
    """Reach the source with its credentials (one cheap call); a sentence on success, raises otherwise."""
    from sprawlguard.cli.scheduled import auth_header, settings_of

    if spec.type == "git" and spec.url is not None:
        from sprawlguard.sources.git import GIT

        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        header = auth_header(spec)
        if header:
            env.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader", "GIT_CONFIG_VALUE_0": header})
        proc = subprocess.run([*GIT, "ls-remote", "--heads", spec.url], env=env, capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no answer"])[-1]
            raise SprawlguardError(f"cannot list {scrub_url_credentials(spec.url)}: {scrub_url_credentials(last)}")
        return f"{scrub_url_credentials(spec.url)} answers ({len(proc.stdout.splitlines())} branch(es))"
    source = spec.job.factory(settings_of(spec.job))  # Slack's factory already calls auth.test
    kind = type(source).__name__
    if kind == "SlackSource":
        resp = source.client.auth_test()
        scopes = resp.headers.get("x-oauth-scopes") or resp.headers.get("X-OAuth-Scopes")
        text = f"token accepted for workspace {source.label}"
        if scopes is None:
            return text + " (scopes not reported)"
        missing = [s for s in SLACK_SCOPES if s not in {x.strip() for x in scopes.split(",")}]
        if missing:
            raise SprawlguardError(f"{text}, but the token lacks the scope(s) {', '.join(missing)}")
        return text + ", scopes ok"
    if kind in ("JiraSource", "ConfluenceSource"):
        source._connect()  # the call a scan starts with: /myself, or the cheapest authenticated listing
        return f"{source.url} accepts the credentials"
    if hasattr(source, "list_after"):  # GitHub Actions / GitLab CI / Jenkins: the first listing page
        next(iter(source.list_after(2**62)), None)
        return f"{source.checkpoint_key or kind}: can list runs, jobs or builds"
    if kind == "GitHistorySource":
        return f"repository {source.git_dir} opens"
    paths = [Path(p) for p in getattr(source, "paths", []) if str(p) != "-"]
    missing_paths = [str(p) for p in paths if not p.exists()]
    if missing_paths:
        raise SprawlguardError(f"no such file or directory: {', '.join(missing_paths)}")
    return f"{len(paths)} path(s) exist"


def check_inventory(path: Path) -> tuple[bool, str]:
    from sprawlguard.store.inventory import MIGRATIONS

    if not path.exists():
        parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), None)
        if parent is None or not os.access(parent, os.W_OK):
            return False, f"{path} does not exist and {parent} is not writable"
        return True, f"{path} will be created on the first run"
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            db.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return False, f"{path} is not a usable sprawlguard inventory ({exc})"
    if version > len(MIGRATIONS):
        return False, f"{path} has schema {version}, newer than this sprawlguard ({len(MIGRATIONS)}): upgrade"
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        return False, f"{path} (or its folder, for the journal) is not writable"
    note = "" if version == len(MIGRATIONS) else f" (will be migrated from schema {version})"
    return True, f"{path} opens, schema {len(MIGRATIONS)}{note}, writable"


@click.command()
@click.option("--config", "config_file", default="sprawlguard.yaml", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path), help="Scheduled-scan config to check.")
@click.option("--offline", is_flag=True, help="Do not contact any source; check only the config and the files.")
@click.pass_context
def doctor(ctx: click.Context, config_file: Path, offline: bool) -> None:
    """Check a scheduled-scan config: options, credentials (reachability, scopes), inventory, outputs.

    Exit code 0 when everything is fine, 1 otherwise. Credentials are never printed.
    """
    from sprawlguard.cli.scan import scan
    from sprawlguard.cli.scheduled import load_config

    if not config_file.is_file():
        _say(False, "config", f"{config_file} not found (give --config FILE)")
        raise click.exceptions.Exit(1)
    scan_ctx = click.Context(scan, info_name="scan", parent=ctx)
    try:
        cfg = load_config(scan_ctx, config_file)
    except SprawlguardError as exc:
        _say(False, "config", str(exc) + (f" ({exc.hint})" if exc.hint else ""))
        raise click.exceptions.Exit(1) from None
    good = _say(True, "config", f"{config_file}: {len(cfg.sources)} source(s), every option valid")
    for spec in cfg.sources:
        what = f"source '{spec.name}' ({spec.type})"
        for key, var in spec.credentials:
            if os.environ.get(var, "").strip():
                _say(True, what, f"{key}: {var} is set")
        if spec.failure is not None:
            good = _say(False, what, spec.failure) and good
            continue
        if offline:
            continue
        try:
            good = _say(True, what, probe(spec)) and good
        except SprawlguardError as exc:
            good = _say(False, what, str(exc) + (f" ({exc.hint})" if exc.hint else "")) and good
        except Exception as exc:  # a network error: say which kind, never a credential
            good = _say(False, what, f"cannot reach it: {type(exc).__name__}: "
                                     f"{scrub_url_credentials(str(exc))[:200]}") and good
    ok, text = check_inventory(cfg.inventory)
    good = _say(ok, "inventory", text) and good
    for o in cfg.outputs:
        parent = next((p for p in [o.path.parent, *o.path.parent.parents] if p.exists()), None)
        writable = parent is not None and os.access(parent, os.W_OK) and (
            not o.path.exists() or os.access(o.path, os.W_OK))
        good = _say(writable, "output", f"{o.path} ({o.format})" + ("" if writable else " is not writable")) and good
    for key in ("webhook_env", "token_env"):
        var = cfg.notify.get(key)
        if var:
            good = _say(bool(os.environ.get(var, "").strip()), "notify",
                        f"{key}: {var} is " + ("set (not contacted)" if os.environ.get(var, "").strip()
                                               else "empty or not set")) and good
    if not good:
        raise click.exceptions.Exit(1)
