"""Rule files: the Rule type, strict YAML loading and validation (errors name file, rule and field)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sprawlguard.config import prune_cache, touch
from sprawlguard.detect.verifyspec import VerifySpec, parse_verify
from sprawlguard.errors import RuleError

NHI_KINDS = frozenset(
    {
        "static_api_key",
        "personal_access_token",
        "oauth_client_secret",
        "oauth_access_token",
        "refresh_token",
        "bot_token",
        "app_token",
        "service_account_key",
        "signing_key",
        "ssh_key",
        "private_key",
        "db_password",
        "password",
        "webhook_url",
        "session_token",
        "deploy_token",
        "ci_token",
        "registry_token",
        "encryption_key",
        "connection_string",
        "shared_secret",
        "unknown",
    }
)
OWASP_IDS = frozenset(f"NHI{i}" for i in range(1, 11))
CONFIDENCES = ("low", "medium", "high")
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,80}$")
_REQUIRED = ("id", "name", "issuer", "nhi_kind", "confidence", "pattern", "examples",
             "negative_examples", "owasp_nhi", "remediation")
_OPTIONAL = ("keywords", "min_entropy", "checksum", "path", "filters", "pair", "verify",
             "description", "min_length", "max_length", "allow_values", "allow_paths", "secret_group",
             "prefilter")
_PAIR_KEYS = ("name", "pattern", "within_lines", "required")
_REMEDIATION_KEYS = ("revoke", "replace_with", "docs")


@dataclass(frozen=True, slots=True)
class Pair:
    """A second part that must (or may) appear within `within_lines` of the match."""

    name: str
    pattern: str
    within_lines: int = 5
    required: bool = True


@dataclass(frozen=True, slots=True)
class Example:
    """A rule example: `text` (a template) and, when given, the exact secret it must yield."""

    text: str
    secret: str | None = None
    parts: Mapping[str, str] = field(default_factory=dict)
    path: str | None = None  # the file path the example pretends to come from


@dataclass(frozen=True, slots=True)
class Rule:
    """One detection rule, as loaded from a rule file."""

    id: str
    name: str
    issuer: str
    nhi_kind: str
    confidence: str
    pattern: str
    keywords: tuple[str, ...] = ()
    min_entropy: float | None = None
    checksum: str | None = None
    path: str | None = None
    filters: tuple[str, ...] = ()
    pair: Pair | None = None
    min_length: int | None = None
    max_length: int | None = None
    allow_values: tuple[str, ...] = ()
    allow_paths: tuple[str, ...] = ()
    secret_group: int | str | None = None
    prefilter: str | None = None  # a cheaper superset for the one-pass matcher (detect/hsdb.py)
    examples: tuple[Example, ...] = ()
    negative_examples: tuple[str, ...] = ()
    owasp_nhi: tuple[str, ...] = ("NHI2",)
    remediation: Mapping[str, str] = field(default_factory=dict)
    verify: VerifySpec | None = None  # the validated `verify:` block (detect/verifyspec.py)
    description: str = ""
    origin: str = ""  # the file it came from


def _fail(origin: str, rule_id: str, fld: str, msg: str) -> RuleError:
    return RuleError(f"{origin}: rule {rule_id!r}: field {fld!r}: {msg}")


def _str_list(raw: Any, origin: str, rid: str, fld: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise _fail(origin, rid, fld, "must be a list of strings")
    return tuple(raw)


def _example(raw: Any, origin: str, rid: str) -> Example:
    if isinstance(raw, str):
        return Example(text=raw)
    if not isinstance(raw, dict) or not ({"text", "secret"} & raw.keys()):
        raise _fail(origin, rid, "examples", "each example is a string or a mapping with text/secret")
    unknown = set(raw) - {"text", "secret", "parts", "path"}
    if unknown:
        raise _fail(origin, rid, "examples", f"unknown keys {sorted(unknown)}")
    path = raw.get("path")
    if path is not None and (str(path).startswith(("/", "\\")) or ".." in str(path).replace("\\", "/").split("/")
                             or ":" in str(path)):
        raise _fail(origin, rid, "examples", f"path {path!r} must be relative, without '..'")
    parts = raw.get("parts") or {}
    if not isinstance(parts, dict):
        raise _fail(origin, rid, "examples", "parts must be a mapping")
    return Example(text=str(raw.get("text", "{{secret}}")),
                   secret=None if raw.get("secret") is None else str(raw["secret"]),
                   parts={str(k): str(v) for k, v in parts.items()},
                   path=None if raw.get("path") is None else str(raw["path"]))


def _pair(raw: Any, origin: str, rid: str, check_regex: bool) -> Pair | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not {"name", "pattern"} <= raw.keys():
        raise _fail(origin, rid, "pair", "needs name and pattern")
    unknown = set(raw) - set(_PAIR_KEYS)
    if unknown:
        raise _fail(origin, rid, "pair", f"unknown keys {sorted(unknown)}")
    _compile(raw["pattern"], origin, rid, "pair.pattern", check_regex)
    return Pair(name=str(raw["name"]), pattern=str(raw["pattern"]),
                within_lines=int(raw.get("within_lines", 5)), required=bool(raw.get("required", True)))


# Named groups without compiling the pattern (compiling every shipped rule costs a hook ~0.3 s).
_GROUP_NAMES = re.compile(r"\(\?P?<([A-Za-z_]\w*)>")


def _compile(pattern: Any, origin: str, rid: str, fld: str, check: bool = True) -> None:
    import regex

    if not isinstance(pattern, str) or not pattern:
        raise _fail(origin, rid, fld, "must be a non-empty string")
    if not check:
        return
    try:
        regex.compile(pattern)
    except regex.error as exc:
        raise _fail(origin, rid, fld, f"does not compile: {exc}") from None


def parse_rule(raw: Any, origin: str, check_regex: bool = True) -> Rule:
    """Validate one rule mapping strictly and build a Rule; raise RuleError naming the field.

    `check_regex=False` skips compiling the regexes (see `load_rules`); all else is still checked.
    """
    if not isinstance(raw, dict):
        raise RuleError(f"{origin}: each entry of 'rules' must be a mapping")
    rid = str(raw.get("id", "?"))
    for key in _REQUIRED:
        if key not in raw:
            raise _fail(origin, rid, key, "is required")
    unknown = set(raw) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        raise _fail(origin, rid, sorted(unknown)[0], "unknown field")
    if not isinstance(raw["id"], str) or not _ID.match(raw["id"]):
        raise _fail(origin, rid, "id", "must match [a-z0-9][a-z0-9_.-]{2,80}")
    for key in ("name", "issuer"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise _fail(origin, rid, key, "must be a non-empty string")
    if raw["nhi_kind"] not in NHI_KINDS:
        raise _fail(origin, rid, "nhi_kind", f"must be one of {sorted(NHI_KINDS)}")
    if raw["confidence"] not in CONFIDENCES:
        raise _fail(origin, rid, "confidence", "must be high, medium or low")
    _compile(raw["pattern"], origin, rid, "pattern", check_regex)
    if raw.get("path") is not None:
        _compile(raw["path"], origin, rid, "path", check_regex)
    if raw.get("prefilter") is not None:
        _compile(raw["prefilter"], origin, rid, "prefilter", check_regex)
    for key in ("allow_values", "allow_paths"):
        for v in _str_list(raw.get(key), origin, rid, key):
            _compile(v, origin, rid, key, check_regex)
    owasp = _str_list(raw["owasp_nhi"], origin, rid, "owasp_nhi")
    if not owasp or not set(owasp) <= OWASP_IDS:
        raise _fail(origin, rid, "owasp_nhi", "must list ids NHI1..NHI10")
    rem = raw["remediation"]
    if not isinstance(rem, dict) or not set(_REMEDIATION_KEYS) <= rem.keys():
        raise _fail(origin, rid, "remediation", "needs revoke, replace_with and docs")
    if set(rem) - set(_REMEDIATION_KEYS):
        raise _fail(origin, rid, "remediation", f"unknown keys {sorted(set(rem) - set(_REMEDIATION_KEYS))}")
    examples = raw["examples"]
    if not isinstance(examples, list) or not examples:
        raise _fail(origin, rid, "examples", "needs at least one example")
    negatives = _str_list(raw["negative_examples"], origin, rid, "negative_examples")
    if not negatives:
        raise _fail(origin, rid, "negative_examples", "needs at least one negative example")
    checksum = raw.get("checksum")
    if checksum is not None:
        from sprawlguard.detect.checksums import CHECKSUMS

        if checksum not in CHECKSUMS:
            raise _fail(origin, rid, "checksum", f"must be one of {sorted(CHECKSUMS)}")
    filters = _str_list(raw.get("filters"), origin, rid, "filters")
    from sprawlguard.detect.allow import FILTERS

    if set(filters) - FILTERS.keys():
        raise _fail(origin, rid, "filters", f"unknown filter; known: {sorted(FILTERS)}")
    pair_name = raw["pair"].get("name") if isinstance(raw.get("pair"), dict) else None
    parts = set(_GROUP_NAMES.findall(raw["pattern"])) - {"secret"} | ({pair_name} if pair_name else set())
    verify = parse_verify(raw.get("verify"), parts, lambda msg: _fail(origin, rid, "verify", msg))
    min_entropy = raw.get("min_entropy")
    if min_entropy is not None and not isinstance(min_entropy, (int, float)):
        raise _fail(origin, rid, "min_entropy", "must be a number")
    return Rule(
        id=raw["id"], name=raw["name"], issuer=raw["issuer"], nhi_kind=raw["nhi_kind"],
        confidence=raw["confidence"], pattern=raw["pattern"],
        keywords=tuple(k.lower() for k in _str_list(raw.get("keywords"), origin, rid, "keywords")),
        min_entropy=None if min_entropy is None else float(min_entropy),
        checksum=checksum, path=raw.get("path"), filters=filters, pair=_pair(raw.get("pair"), origin, rid, check_regex),
        min_length=raw.get("min_length"), max_length=raw.get("max_length"),
        allow_values=tuple(raw.get("allow_values") or ()),
        allow_paths=tuple(raw.get("allow_paths") or ()), secret_group=raw.get("secret_group"),
        prefilter=raw.get("prefilter"),
        examples=tuple(_example(e, origin, rid) for e in examples), negative_examples=negatives,
        owasp_nhi=owasp, remediation={k: str(v) for k, v in rem.items()}, verify=verify,
        description=str(raw.get("description", "")), origin=origin,
    )


def _yaml_load(path: Path) -> Any:
    import yaml  # lazy: the shipped rules usually come from the JSON cache (see _read_yaml)

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}") from None


def _read_yaml(path: Path) -> Any:
    try:
        return _yaml_load(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"{path}: cannot read: {exc}") from None


class _RuleUnpickler(pickle.Unpickler):
    """Only this module's and verifyspec's dataclasses may be built: a tampered cache file can at
    worst describe other rules (as a tampered rules directory could), never call a function."""

    def find_class(self, module: str, name: str) -> Any:
        if module in (__name__, VerifySpec.__module__):
            obj = getattr(sys.modules[module], name, None)
            if isinstance(obj, type) and dataclasses.is_dataclass(obj):
                return obj
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a rules cache")


class _RulePickler(pickle.Pickler):
    """Writes each rule dataclass as a call `Cls(*fields)`: loading then runs the generated
    `__init__`, ~40% faster than the frozen-dataclass `__setstate__` (which looks up the fields
    again for every object): ~2 ms of a hook's start-up."""

    def reducer_override(self, obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return type(obj), tuple(getattr(obj, f.name) for f in dataclasses.fields(obj))
        return NotImplemented


def _load_cached(paths: list[Path], cache: Path) -> list[Rule]:
    """The shipped rules, parsed and validated once and kept in `cache` keyed by each file's
    name, size and mtime (and our version): a pre-commit hook then skips YAML and validation
    (~15 ms of its start-up)."""
    from sprawlguard import __version__

    sig = "|".join(f"{p.resolve()}:{st.st_size}:{st.st_mtime_ns}" for p in paths for st in [p.stat()])
    key = hashlib.sha256(f"{__version__}|{sig}".encode()).hexdigest()[:24]
    cached = cache / f"rules-{key}.pickle"
    try:
        with cached.open("rb") as fh:
            rules = _RuleUnpickler(fh).load()
        if isinstance(rules, list) and all(isinstance(r, Rule) for r in rules):
            touch(cached)
            return rules
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, TypeError, ValueError):
        pass  # missing, stale or damaged: rebuilt below
    rules = [r for p in paths for r in load_file(p, check_regex=False)]
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            _RulePickler(fh, protocol=pickle.HIGHEST_PROTOCOL).dump(rules)
        os.replace(tmp, cached)
    except OSError:
        pass  # a cache that cannot be written only costs speed
    prune_cache(cache, "rules")
    return rules


def load_file(path: Path, check_regex: bool = True) -> list[Rule]:
    """Load one rule file."""
    data = _read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise RuleError(f"{path}: expected a top-level 'rules:' list")
    return [parse_rule(r, str(path), check_regex) for r in data["rules"]]


def builtin_rules_dir() -> Path:
    """The shipped rules: inside the wheel, or the checkout's top-level rules/ when run from source."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "rules"
    if packaged.is_dir():
        return packaged
    return here.parent.parent / "rules"


def load_rules(dirs: Iterable[Path] = (), *, builtin: bool = True,
               check_builtin_regex: bool = False, cache: Path | None = None) -> list[Rule]:
    """Load built-in rules plus any user directories or files; ids must be unique across all.

    User rules are checked strictly, regexes included. The shipped rules' regexes are compiled
    only when a candidate needs them (the engine does it lazily): compiling all of them up front
    would cost a pre-commit hook most of its time budget. The test suite and `sprawlguard rules
    check` compile every one of them (`check_builtin_regex=True`). With `cache` (a directory),
    the shipped files' parsed YAML is cached there.
    """
    loaded: list[tuple[str, list[Rule]]] = []
    if builtin:
        home = builtin_rules_dir()
        if not home.is_dir():
            raise RuleError(f"{home}: rules path does not exist")
        shipped = sorted(p for p in home.iterdir() if p.suffix in (".yaml", ".yml"))
        if cache is not None and not check_builtin_regex:
            loaded.append((str(home), _load_cached(shipped, cache)))
        else:
            loaded.extend((str(p), load_file(p, check_builtin_regex)) for p in shipped)
    for d in map(Path, dirs):
        if d.is_file():
            loaded.append((str(d), load_file(d)))
        elif d.is_dir():
            loaded.extend((str(p), load_file(p)) for p in sorted(d.iterdir()) if p.suffix in (".yaml", ".yml"))
        else:
            raise RuleError(f"{d}: rules path does not exist")
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for where, batch in loaded:
        for rule in batch:
            if rule.id in seen:
                raise RuleError(f"{rule.origin or where}: rule {rule.id!r}: field 'id': duplicate (also in {seen[rule.id]})")
            seen[rule.id] = rule.origin or where
            rules.append(rule)
    return rules


def select_rules(rules: Sequence[Rule], enable: Sequence[str] = (), disable: Sequence[str] = ()) -> list[Rule]:
    """Keep rules whose id starts with one of `enable` (all if empty) and none of `disable`."""
    out = [r for r in rules if not enable or any(r.id.startswith(e) for e in enable)]
    return [r for r in out if not any(r.id.startswith(d) for d in disable)]
