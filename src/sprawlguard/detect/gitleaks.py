"""Import a gitleaks/betterleaks TOML config: its rules, keywords, entropy and allowlists."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex

from sprawlguard.detect.rules import Rule
from sprawlguard.errors import RuleError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True, slots=True)
class GitleaksConfig:
    """What a gitleaks config contributes: rules plus global value and path allowlists (regexes)."""

    rules: tuple[Rule, ...]
    allow_values: tuple[str, ...]
    allow_path_regexes: tuple[str, ...]


def _allowlists(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """gitleaks 8.x has `[allowlist]`; 8.21+ also `[[allowlists]]` (a list)."""
    out = []
    if isinstance(raw.get("allowlist"), dict):
        out.append(raw["allowlist"])
    out.extend(a for a in raw.get("allowlists") or [] if isinstance(a, dict))
    return out


def _values(allows: list[dict[str, Any]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    values: list[str] = []
    paths: list[str] = []
    for a in allows:
        values.extend(str(r) for r in a.get("regexes") or [])
        values.extend(regex.escape(str(s)) for s in a.get("stopwords") or [])
        paths.extend(str(p) for p in a.get("paths") or [])
    return tuple(values), tuple(paths)


def _check(pattern: str, origin: str, rid: str, fld: str) -> None:
    try:
        regex.compile(pattern)
    except regex.error as exc:
        raise RuleError(f"{origin}: rule {rid!r}: field {fld!r}: does not compile: {exc}") from None


def _rule(raw: dict[str, Any], origin: str) -> Rule | None:
    rid = str(raw.get("id") or "?")
    if not isinstance(raw.get("id"), str) or not raw["id"]:
        raise RuleError(f"{origin}: rule {rid!r}: field 'id': is required (a string)")
    if "entropy" in raw and not isinstance(raw["entropy"], (int, float)):
        raise RuleError(f"{origin}: rule {rid!r}: field 'entropy': must be a number")
    if not isinstance(raw.get("keywords", []), list):
        raise RuleError(f"{origin}: rule {rid!r}: field 'keywords': must be an array of strings")
    if "regex" not in raw:
        return None  # path-only rules (e.g. pkcs12 files) have no text pattern to run
    pattern = str(raw["regex"])
    _check(pattern, origin, rid, "regex")
    allow_values, allow_paths = _values(_allowlists(raw))
    for v in allow_values:
        _check(v, origin, rid, "allowlist.regexes")
    group = raw.get("secretGroup")
    return Rule(
        id=f"gitleaks.{rid}", name=str(raw.get("description") or rid), issuer="gitleaks-config",
        nhi_kind="unknown", confidence="medium", pattern=pattern,
        keywords=tuple(str(k).lower() for k in raw.get("keywords") or []),
        min_entropy=float(raw["entropy"]) if "entropy" in raw else None,
        path=str(raw["path"]) if raw.get("path") else None,
        allow_values=allow_values, allow_paths=allow_paths,
        secret_group=int(group) if group else None,
        owasp_nhi=("NHI2",),
        remediation={"revoke": "Revoke the credential at its issuer.", "replace_with": "-",
                     "docs": "https://github.com/gitleaks/gitleaks#configuration"},
        origin=origin,
    )


def load_gitleaks_config(path: Path) -> GitleaksConfig:
    """Parse a gitleaks TOML file; a clear RuleError naming the rule on anything malformed."""
    origin = str(path)
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RuleError(f"{origin}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{origin}: not valid TOML: {exc}") from None
    rules = raw.get("rules") or []
    if not isinstance(rules, list):
        raise RuleError(f"{origin}: 'rules' must be an array of tables ([[rules]])")
    parsed = tuple(r for r in (_rule(x, origin) for x in rules if isinstance(x, dict)) if r)
    values, paths = _values(_allowlists(raw))
    return GitleaksConfig(rules=parsed, allow_values=values, allow_path_regexes=paths)
