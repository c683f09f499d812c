"""`sprawlguard scan --config sprawlguard.yaml`: every configured source, incrementally, in parallel.

Each source entry is turned into the argv of its own `scan <type>` subcommand and parsed by click
inside `collecting()`, so a config accepts exactly the options the command line does, validated
the same way; `run()` hands the job back instead of scanning. Jobs then run through the same
`execute()` as the command line, a few at a time (threads), each with its own scanner, engine and
inventory connection. A source that fails is reported and the others go on (exit code 3).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import click

from sprawlguard.cli.options import Job, collecting, execute, exit_code, scan_options, settings_for
from sprawlguard.config import Settings, data_dir
from sprawlguard.errors import ExitCode, SprawlguardError, UsageError
from sprawlguard.model import ScanResult, ScanStats, Secret
from sprawlguard.redact import scrub_url_credentials

log = logging.getLogger(__name__)

SOURCE_TYPES = ("git", "path", "ci-logs", "slack", "jira", "confluence")
TOP_KEYS = {"name", "inventory", "repos_dir", "defaults", "parallel", "sources", "outputs", "notify"}
GIT_KEYS = {"url", "token_env", "username"}  # scheduled-only keys of git sources (mirror clones)
#: Decided by the config itself (inventory, outputs) or unsafe with parallel sources.
FORBIDDEN = {"format": "use 'outputs'", "output": "use 'outputs'", "db": "use the top-level 'inventory'",
             "no_db": "a scheduled run needs the inventory", "progress": "not shown in scheduled runs",
             "show_secrets": "outputs are always redacted", "jobs": "sources run in parallel instead",
             "write_baseline": "parallel sources would race on the file; use `sprawlguard baseline update`",
             "pre_push": "not for scheduled runs"}
_CREDENTIAL = re.compile(r"token|password|secret", re.I)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
OUTPUT_FORMATS = ("json", "jsonl", "sarif", "html", "terminal", "changes")


@dataclass
class SourceSpec:
    """One configured source, parsed: its job, or why it cannot run."""

    name: str
    type: str
    job: Job | None = field(default=None, repr=False)
    url: str | None = None  # git: clone/fetch this into `mirror`
    mirror: Path | None = None
    auth_env: str | None = None  # git: token for the URL
    username: str = "x-access-token"
    credentials: list[tuple[str, str]] = field(default_factory=list)  # (key, VARIABLE) used
    failure: str | None = None  # a missing credential: the source fails at run time (exit 3)


@dataclass
class Output:
    format: str
    path: Path


@dataclass
class ScheduleConfig:
    path: Path
    name: str
    inventory: Path
    parallel: int
    sources: list[SourceSpec]
    outputs: list[Output]
    notify: dict[str, str]


@dataclass
class Outcome:
    spec: SourceSpec
    result: ScanResult | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def status(self) -> str:
        if self.error is not None or self.result is None:
            return "failed"
        return "error" if self.result.errors or self.result.interrupted else "ok"


# --- the config file --------------------------------------------------------------------------


class ConfigError(UsageError):
    pass


def _option_map(cmd: click.Command) -> dict[str, tuple[click.Parameter, bool]]:
    """config key -> (parameter, flag value): long option names underscored, and parameter names."""
    out: dict[str, tuple[click.Parameter, bool]] = {}
    for p in cmd.params:
        if isinstance(p, click.Argument):
            out[str(p.name)] = (p, True)
            continue
        if not isinstance(p, click.Option) or p.name == "help":
            continue
        for opt in p.opts:
            if opt.startswith("--"):
                out[opt[2:].replace("-", "_")] = (p, True)
        for opt in p.secondary_opts:
            if opt.startswith("--"):
                out[opt[2:].replace("-", "_")] = (p, False)
        out.setdefault(str(p.name), (p, True))
    return out


def shared_keys() -> set[str]:
    """Keys `defaults:` may hold: the options every scan subcommand shares."""
    params = getattr(scan_options(lambda **_kw: 0), "__click_params__", [])
    return set(_option_map(click.Command("x", params=params)))


def _flag(p: click.Option, positive: bool) -> str:
    opts = [o for o in (p.opts if positive else p.secondary_opts) if o.startswith("--")]
    return opts[0]


def _argv_for(cmd: click.Command, options: dict[str, Any], base: Path, where: str,
              spec: SourceSpec) -> list[str]:
    """The subcommand's argv for a source mapping; credentials resolved from `*_env` variables."""
    known = _option_map(cmd)
    argv: list[str] = []
    positional: list[str] = []
    for key, value in options.items():
        if key in FORBIDDEN:
            raise ConfigError(f"{where}: key '{key}' is not allowed here: {FORBIDDEN[key]}")
        if key not in known and key.endswith("_env") and key[:-4] in known:
            param = known[key[:-4]][0]
            if not isinstance(param, click.Option) or param.is_flag:
                raise ConfigError(f"{where}: key '{key}': '{key[:-4]}' does not take a value from the environment")
            if not isinstance(value, str) or not _ENV_NAME.match(value):
                raise ConfigError(f"{where}: key '{key}' must name an environment variable, e.g. {key}: MY_VAR")
            spec.credentials.append((key, value))
            secret = os.environ.get(value, "")
            if not secret.strip():
                spec.failure = f"the environment variable {value} ({key}) is empty or not set"
                continue
            argv += [_flag(param, True), secret]
            continue
        if key not in known:
            raise ConfigError(f"{where}: unknown key '{key}'; known: {', '.join(sorted(known))}")
        param, positive = known[key]
        is_flag = isinstance(param, click.Option) and param.is_flag
        if _CREDENTIAL.search(key) and not key.endswith("_env") and not is_flag:
            raise ConfigError(f"{where}: key '{key}' would put a credential in the config file; "
                              f"keep it in an environment variable and write '{key}_env: VARIABLE_NAME'")
        if key.endswith("_env"):
            if not isinstance(value, str) or not _ENV_NAME.match(value):
                raise ConfigError(f"{where}: key '{key}' must name an environment variable")
            spec.credentials.append((key, value))
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, (dict, list)) or v is None for v in values):
            raise ConfigError(f"{where}: key '{key}' must be a scalar or a list of scalars")
        is_path = isinstance(param.type, click.Path)
        texts = [str(base / str(v)) if is_path and str(v) != "-" and not Path(str(v)).is_absolute()
                 else str(v) for v in values]
        if isinstance(param, click.Argument):
            positional += texts
        elif is_flag:
            assert isinstance(param, click.Option)
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: key '{key}' is a switch: true or false")
            if param.secondary_opts:
                argv.append(_flag(param, positive if value else not positive))
            elif value:
                argv.append(_flag(param, True))
        else:
            assert isinstance(param, click.Option)
            if len(texts) > 1 and not param.multiple:
                raise ConfigError(f"{where}: key '{key}' takes one value, not a list")
            for t in texts:
                argv += [_flag(param, True), t]
    return argv + (["--", *positional] if positional else [])


_FLAG = re.compile(r"'--([a-z0-9-]+)'")


def _click_message(exc: click.ClickException) -> str:
    """click's message with option flags written as config keys ('--thread-days' -> 'thread_days')."""
    return _FLAG.sub(lambda m: "'" + m.group(1).replace("-", "_") + "'", exc.format_message())


def _source_spec(ctx: click.Context, raw: Any, index: int, defaults: dict[str, Any], inventory: Path,
                 origin: str, base: Path, repos: Path) -> SourceSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: sources[{index}] must be a mapping with 'name' and 'type'")
    name, kind = raw.get("name"), raw.get("type")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{origin}: sources[{index}]: 'name' must be a word like acme-slack (letters, digits, . _ -)")
    where = f"{origin}: source '{name}'"
    if kind not in SOURCE_TYPES:
        raise ConfigError(f"{where}: 'type' must be one of {', '.join(SOURCE_TYPES)}")
    spec = SourceSpec(name=name, type=kind)
    where = f"{where} ({kind})"
    options = {**defaults, **{k: v for k, v in raw.items() if k not in ("name", "type")}}
    if kind == "git":
        for key in GIT_KEYS & set(options):
            value = options.pop(key)
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{where}: key '{key}' must be a string")
            if key == "token_env" and not _ENV_NAME.match(value):
                raise ConfigError(f"{where}: key 'token_env' must name an environment variable")
            setattr(spec, {"url": "url", "token_env": "auth_env", "username": "username"}[key], value)
        if spec.url is not None:
            if re.match(r"^[a-z][a-z0-9+.-]*://[^/@]*@", spec.url, re.I) and not spec.url.startswith("ssh://"):
                raise ConfigError(f"{where}: key 'url' must not embed credentials; use 'token_env: VARIABLE_NAME'")
            if "repo" in options:
                raise ConfigError(f"{where}: give 'url' (clone and fetch) or 'repo' (a local path), not both")
            spec.mirror = repos / name
            options["repo"] = str(spec.mirror)
        elif spec.auth_env:
            raise ConfigError(f"{where}: 'token_env' applies to a 'url' source only")
        if spec.auth_env:
            spec.credentials.append(("token_env", spec.auth_env))
            if not os.environ.get(spec.auth_env, "").strip():
                spec.failure = f"the environment variable {spec.auth_env} (token_env) is empty or not set"
        options.setdefault("incremental", True)
    assert ctx.command is not None and isinstance(ctx.command, click.Group)
    cmd = ctx.command.get_command(ctx, kind)
    assert cmd is not None
    argv = _argv_for(cmd, options, base, where, spec)
    argv = ["--db", str(inventory), "--no-progress", "--jobs", "1", *argv]
    with collecting() as jobs:
        try:
            with cmd.make_context(kind, argv, parent=ctx) as sub:
                cmd.invoke(sub)
        except click.ClickException as exc:
            raise ConfigError(f"{where}: {_click_message(exc)}") from None
        except SprawlguardError as exc:  # a token variable that is not set: this source fails (exit 3)
            spec.failure = spec.failure or str(exc)
    if spec.failure is None:
        if len(jobs) != 1:
            raise ConfigError(f"{where}: these options do not describe a scan")
        spec.job = jobs[0]
    return spec


def load_config(ctx: click.Context, path: Path) -> ScheduleConfig:
    """Parse and validate the whole file; a ConfigError (exit 2) names the source and the key."""
    import yaml

    origin = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{origin}: cannot read the config: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or "sources" not in data:
        raise ConfigError(f"{origin}: a scheduled-scan config is a mapping with a 'sources' list",
                          hint="see examples/sprawlguard.yaml")
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"{origin}: unknown key '{unknown[0]}'; known: {', '.join(sorted(TOP_KEYS))}")
    base = path.resolve().parent
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{origin}: 'name' must be a word (letters, digits, . _ -)")
    inventory = data.get("inventory")
    if inventory is not None and not isinstance(inventory, str):
        raise ConfigError(f"{origin}: 'inventory' must be a file path")
    from sprawlguard.store.inventory import default_path

    inv_path = base / inventory if inventory else default_path()
    repos = base / data["repos_dir"] if isinstance(data.get("repos_dir"), str) else data_dir() / "repos"
    parallel = data.get("parallel", 2)
    if not isinstance(parallel, int) or isinstance(parallel, bool) or not 1 <= parallel <= 64:
        raise ConfigError(f"{origin}: 'parallel' must be a number from 1 to 64")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{origin}: 'defaults' must be a mapping of scan options")
    allowed = shared_keys()
    for key in defaults:
        if key not in allowed or key in FORBIDDEN:
            raise ConfigError(f"{origin}: defaults: key '{key}' is not an option every scan takes; "
                              f"known: {', '.join(sorted(allowed - set(FORBIDDEN)))}")
    raw_sources = data["sources"]
    if not isinstance(raw_sources, list) or not raw_sources:
        raise ConfigError(f"{origin}: 'sources' must be a non-empty list")
    specs = [_source_spec(ctx, raw, i, defaults, inv_path, origin, base, repos)
             for i, raw in enumerate(raw_sources)]
    dup = sorted({s.name for s in specs if [t.name for t in specs].count(s.name) > 1})
    if dup:
        raise ConfigError(f"{origin}: two sources are named '{dup[0]}'")
    outputs = []
    for i, o in enumerate(data.get("outputs") or []):
        if not isinstance(o, dict) or set(o) != {"format", "path"} or o["format"] not in OUTPUT_FORMATS \
                or not isinstance(o["path"], str):
            raise ConfigError(f"{origin}: outputs[{i}] must be {{format: {'|'.join(OUTPUT_FORMATS)}, path: FILE}}")
        outputs.append(Output(o["format"], base / o["path"]))
    notify = data.get("notify") or {}
    ok = isinstance(notify, dict) and all(isinstance(v, str) for v in notify.values()) and (
        not notify or set(notify) == {"webhook_env"}
        or set(notify) - {"base_url"} == {"slack_channel", "token_env"})
    if not ok:
        raise ConfigError(f"{origin}: 'notify' takes {{webhook_env: VARIABLE}} or "
                          "{slack_channel: CHANNEL, token_env: VARIABLE}")
    for key in ("webhook_env", "token_env"):
        if key in notify and not _ENV_NAME.match(notify[key]):
            raise ConfigError(f"{origin}: notify: '{key}' must name an environment variable")
    return ScheduleConfig(path=path, name=name, inventory=inv_path, parallel=parallel, sources=specs,
                          outputs=outputs, notify=notify)


# --- running ----------------------------------------------------------------------------------


def settings_of(job: Job) -> Settings:
    """A source's settings file only when the config names one (`config: allow.yaml`); never the cwd's."""
    return settings_for(job.kw["config_file"]) if job.kw.get("config_file") else Settings()


def auth_header(spec: SourceSpec) -> str | None:
    if not spec.auth_env:
        return None
    import base64

    raw = f"{spec.username}:{os.environ.get(spec.auth_env, '')}".encode()
    return "Authorization: Basic " + base64.b64encode(raw).decode()


def run_source(spec: SourceSpec) -> Outcome:
    """Fetch (git URL), scan, verify and record one source; every failure is caught and described."""
    started = time.monotonic()
    outcome = Outcome(spec)
    try:
        if spec.failure is not None or spec.job is None:
            raise UsageError(spec.failure or "not runnable")
        if spec.url is not None and spec.mirror is not None:
            from sprawlguard.sources.git import sync_mirror

            sync_mirror(spec.url, spec.mirror, auth_header(spec))
        source, result = execute(spec.job, settings=settings_of(spec.job))
        outcome.result = result
        if spec.job.after is not None:
            spec.job.after(source, result)
    except SprawlguardError as exc:
        outcome.error = str(exc) + (f" ({exc.hint})" if exc.hint else "")
    except Exception as exc:  # a network library's error, or a bug: this source only
        log.debug("source %s failed", spec.name, exc_info=True)
        outcome.error = f"{type(exc).__name__}: {scrub_url_credentials(str(exc))[:300]}"
    outcome.seconds = time.monotonic() - started
    return outcome


def run_all(specs: list[SourceSpec], parallel: int) -> list[Outcome]:
    """At most `parallel` sources at once; Ctrl-C returns at once (each source resumes next run)."""
    slots = threading.Semaphore(parallel)
    outcomes: dict[str, Outcome] = {}

    def worker(spec: SourceSpec) -> None:
        with slots:
            sys.stderr.write(f"sprawlguard: [{spec.name}] scanning ({spec.type})\n")
            outcomes[spec.name] = o = run_source(spec)
            state = o.status if o.error is None else f"failed: {o.error}"
            sys.stderr.write(f"sprawlguard: [{spec.name}] {state} in {o.seconds:.1f} s\n")

    threads = [threading.Thread(target=worker, args=(s,), name=f"sprawlguard-{s.name}", daemon=True)
               for s in specs]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)
    return [outcomes[s.name] for s in specs]


def merge(results: list[ScanResult]) -> ScanResult:
    """All sources' results as one (a secret found by two sources is one, with every place)."""
    from dataclasses import replace

    from sprawlguard.govern.classify import by_risk

    stats = ScanStats()
    secrets: dict[str, Secret] = {}
    out = ScanResult(secrets=[], stats=stats)
    for r in results:
        for f in fields(ScanStats):
            if isinstance(getattr(stats, f.name), int):
                setattr(stats, f.name, getattr(stats, f.name) + getattr(r.stats, f.name))
        out.errors += r.errors
        out.skipped += r.skipped
        out.interrupted = out.interrupted or r.interrupted
        for s in r.secrets:
            have = secrets.get(s.fingerprint)
            if have is None:
                secrets[s.fingerprint] = s
            else:
                places = {(e.location.uri, e.line, e.column) for e in have.exposures}
                extra = tuple(e for e in s.exposures if (e.location.uri, e.line, e.column) not in places)
                secrets[s.fingerprint] = replace(have, exposures=have.exposures + extra, new=have.new or s.new,
                                                 verdict=have.verdict or s.verdict, risk=max(have.risk, s.risk))
    out.secrets = by_risk(secrets.values())
    return out


def _source_doc(o: Outcome) -> dict[str, Any]:
    r = o.result
    return {"name": o.spec.name, "type": o.spec.type, "status": o.status, "error": o.error,
            "seconds": round(o.seconds, 3),
            "stats": {f.name: getattr(r.stats, f.name) for f in fields(ScanStats)} if r else None,
            "secrets": len(r.secrets) if r else 0,
            "new_secrets": sum(1 for s in r.secrets if s.new) if r else 0,
            "errors": [f"{e.location.uri}: {e.reason}" for e in r.errors] if r else []}


def write_outputs(cfg: ScheduleConfig, doc: dict[str, Any], merged: ScanResult) -> list[str]:
    from sprawlguard.report import get_formatter
    from sprawlguard.report.changes import render_json

    problems = []
    for o in cfg.outputs:
        try:
            o.path.parent.mkdir(parents=True, exist_ok=True)
            with o.path.open("w", encoding="utf-8") as fh:
                if o.format == "changes":
                    render_json(doc, fh)
                else:
                    get_formatter(o.format)(show_secrets=False).render(merged, fh)
        except OSError as exc:
            problems.append(f"{o.path}: cannot write the {o.format} output: {exc.strerror}")
    return problems


def notify(cfg: ScheduleConfig, doc: dict[str, Any]) -> None:
    from sprawlguard import notify as post
    from sprawlguard.report.changes import chat_text

    text = chat_text(doc)
    if "webhook_env" in cfg.notify:
        post.post_webhook(cfg.notify["webhook_env"], text)
    elif "slack_channel" in cfg.notify:
        post.post_slack(cfg.notify["token_env"], cfg.notify["slack_channel"], text, cfg.notify.get("base_url"))


def run_config(ctx: click.Context, path: Path, only: tuple[str, ...] = ()) -> int:
    """Load, run every source, record what is new, write outputs and alerts; the exit code."""
    from sprawlguard.report.changes import render_terminal
    from sprawlguard.store.changes import between, current_mark, load_mark, save_mark
    from sprawlguard.store.inventory import Inventory

    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    cfg = load_config(ctx, path)
    specs = cfg.sources
    if only:
        names = {s.name for s in specs}
        missing = [n for n in only if n not in names]
        if missing:
            raise ConfigError(f"{path}: no source named '{missing[0]}'; configured: {', '.join(sorted(names))}")
        specs = [s for s in specs if s.name in only]
    with Inventory(cfg.inventory) as inv:  # created and migrated once, before the threads start
        previous = load_mark(inv, cfg.name)
    outcomes = run_all(specs, cfg.parallel)
    with Inventory(cfg.inventory) as inv:
        mark = current_mark(inv)
        changes = between(inv, previous, mark)
        save_mark(inv, cfg.name, mark)
    codes = [exit_code(o.result, o.spec.job.kw["fail_on"]) if o.result is not None and o.spec.job is not None
             else int(ExitCode.SCAN_ERROR) for o in outcomes]
    merged = merge([o.result for o in outcomes if o.result is not None])
    doc: dict[str, Any] = {"config": str(path), "config_name": cfg.name, "inventory": str(cfg.inventory),
                           "sources": [_source_doc(o) for o in outcomes], "changes": changes.to_dict()}
    problems = write_outputs(cfg, doc, merged)
    if cfg.notify and (not changes.empty or any(o.status != "ok" for o in outcomes)):
        try:
            notify(cfg, doc)
        except SprawlguardError as exc:
            problems.append(str(exc))
    render_terminal(doc, sys.stdout)
    sys.stdout.flush()
    for o in outcomes:
        if o.error is not None:
            sys.stderr.write(f"sprawlguard: error: source '{o.spec.name}' failed: {o.error}\n")
        for e in o.result.errors if o.result else []:
            sys.stderr.write(f"sprawlguard: error: source '{o.spec.name}': {e.location.uri}: {e.reason}\n")
    for p in problems:
        sys.stderr.write(f"sprawlguard: error: {p}\n")
    if problems:
        codes.append(int(ExitCode.SCAN_ERROR))
    order = (int(ExitCode.INTERRUPTED), int(ExitCode.SCAN_ERROR), int(ExitCode.FINDINGS))
    return next((c for c in order if c in codes), 0)
