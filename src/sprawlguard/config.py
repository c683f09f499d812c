"""Settings: the optional `.sprawlguard.yaml` config file, environment overrides and data folders."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sprawlguard.errors import UsageError

CONFIG_NAMES = (".sprawlguard.yaml", ".sprawlguard.yml", "sprawlguard.yaml")
_KEYS = {"rules", "disable_rules", "enable_rules", "allowlist", "min_confidence", "max_file_size",
         "exclude", "include", "gitignore"}
_ALLOW_KEYS = {"paths", "values", "rules"}


def data_dir() -> Path:
    """Where the installation key, the inventory and caches live (SPRAWLGUARD_HOME overrides)."""
    env = os.environ.get("SPRAWLGUARD_HOME")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("sprawlguard", appauthor=False))


def cache_dir() -> Path:
    """Where compiled rule databases are cached."""
    env = os.environ.get("SPRAWLGUARD_HOME")
    if env:
        return Path(env) / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir("sprawlguard", appauthor=False))


def prune_cache(directory: Path, prefix: str, keep: int = 8) -> None:
    """Delete all but the `keep` most recently used cache entries named `<prefix>-<digest>...`
    (an entry is every file sharing a digest). Each rule set (a sprawlguard upgrade, a custom
    rules directory, an edited rule file) leaves an entry of ~2.5 MB; without this the cache grew
    without bound. Called after writing an entry; a file that cannot be removed is left."""
    entries: dict[str, list[Path]] = {}
    try:
        for f in directory.glob(f"{prefix}-*"):
            digest = f.name[len(prefix) + 1 :].split(".")[0].split("-")[0]
            entries.setdefault(digest, []).append(f)
        recent = sorted(entries, key=lambda d: max(_mtime(f) for f in entries[d]), reverse=True)
    except OSError:
        return
    for digest in recent[keep:]:
        for f in entries[digest]:
            with contextlib.suppress(OSError):
                f.unlink()


def touch(path: Path) -> None:
    """Mark a cache file as used now (for `prune_cache`); never fails."""
    with contextlib.suppress(OSError):
        os.utime(path)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@dataclass(frozen=True)
class Settings:
    """What a config file says; CLI options override it."""

    rules_dirs: tuple[Path, ...] = ()
    enable_rules: tuple[str, ...] = ()
    disable_rules: tuple[str, ...] = ()
    allow_paths: tuple[str, ...] = ()
    allow_values: tuple[str, ...] = ()
    allow_rules: tuple[str, ...] = ()
    min_confidence: str | None = None
    max_file_size: int | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    gitignore: bool | None = None
    origin: str | None = field(default=None, compare=False)


def _list(data: dict[str, Any], key: str, origin: str) -> tuple[str, ...]:
    v = data.get(key) or []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise UsageError(f"{origin}: {key!r} must be a list of strings")
    return tuple(v)


def load_settings(path: Path | None, search_dir: Path | None = None) -> Settings:
    """Read an explicit config file, or the first CONFIG_NAMES file in `search_dir`, or defaults."""
    discovered = path is None
    if path is None and search_dir is not None:
        path = next((search_dir / n for n in CONFIG_NAMES if (search_dir / n).is_file()), None)
    if path is None:
        return Settings()
    origin = str(path)
    import regex  # lazy: most runs have no config file
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise UsageError(f"{origin}: cannot read config: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{origin}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{origin}: the config must be a mapping")
    if "sources" in data and discovered:
        return Settings()  # a scheduled-scan config found in the current directory, not a settings file
    unknown = set(data) - _KEYS
    if unknown:
        raise UsageError(f"{origin}: unknown key {sorted(unknown)[0]!r}; known: {sorted(_KEYS)}")
    allow = data.get("allowlist") or {}
    if not isinstance(allow, dict) or set(allow) - _ALLOW_KEYS:
        raise UsageError(f"{origin}: 'allowlist' takes only {sorted(_ALLOW_KEYS)}")
    conf = data.get("min_confidence")
    if conf is not None and conf not in ("low", "medium", "high"):
        raise UsageError(f"{origin}: 'min_confidence' must be low, medium or high")
    for value in _list(allow, "values", origin):
        try:
            regex.compile(value)
        except regex.error as exc:
            raise UsageError(f"{origin}: allowlist 'values' entry {value!r} is not a valid regex: {exc}") from None
    base = Path(path).parent
    return Settings(
        rules_dirs=tuple(base / p for p in _list(data, "rules", origin)),
        enable_rules=_list(data, "enable_rules", origin),
        disable_rules=_list(data, "disable_rules", origin),
        allow_paths=_list(allow, "paths", origin),
        allow_values=_list(allow, "values", origin),
        allow_rules=_list(allow, "rules", origin),
        min_confidence=conf,
        max_file_size=data.get("max_file_size"),
        include=_list(data, "include", origin),
        exclude=_list(data, "exclude", origin),
        gitignore=data.get("gitignore"),
        origin=origin,
    )
