"""The `verify:` block of a rule: a strict schema, checked when rules load (no network here).

The format is documented in rules/README.md ("Verification"). The verifier (`sprawlguard.verify`)
runs what this module accepts; anything it does not understand is rejected at load time with a
message naming the rule and the field, so a typo never turns into a request to a wrong host.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: kind -> what runs it. `http` is declarative; the others are code in sprawlguard/verify/.
KINDS = ("http", "aws_sts", "gcp_x509", "jwt", "none")
#: Side-effect flags from the issuer reference (issuers.md section 0).
FLAGS = ("RO", "MINT", "MUT", "$", "LOCK", "SSRF", "HOST-ALLOW", "NONE")
#: Checks carrying one of these never run by default: they mint, mutate, cost or lock accounts.
UNSAFE_FLAGS = frozenset({"MINT", "MUT", "$", "LOCK"})
METHODS = ("GET", "HEAD", "POST")
#: Parts a code check reads from the match (a named group or the rule's pair).
CODE_NEEDS: Mapping[str, tuple[str, ...]] = {"aws_sts": ("key_id",), "gcp_x509": ("client_email",),
                                             "jwt": (), "none": ()}

_COMMON = {"kind", "flags", "notes"}
_HTTP = {"method", "url", "fallback_urls", "headers", "basic", "form", "json", "body", "hosts_allowed",
         "derive", "live", "dead", "unknown", "identity"}
_KEYS = {"http": _COMMON | _HTTP, "none": _COMMON | {"reason"}, "aws_sts": _COMMON,
         "gcp_x509": _COMMON, "jwt": _COMMON}
_COND_KEYS = {"status", "json", "contains"}
_TEMPLATE = re.compile(r"\{\{(.*?)\}\}")
_PLACEHOLDER = re.compile(r"^(secret|part:[A-Za-z_][A-Za-z0-9_]*)$")
_HOST_PATTERN = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_IDENTITY = re.compile(r"^(json|header):[A-Za-z0-9_.@-]{1,100}$")


@dataclass(frozen=True, slots=True)
class Condition:
    """A response shape: any of `status`, and every `json` path equal (or one of a list), and `contains`."""

    status: tuple[int, ...]
    json: Mapping[str, Any] = field(default_factory=dict)
    contains: str | None = None


@dataclass(frozen=True, slots=True)
class VerifySpec:
    """A validated `verify:` block."""

    kind: str
    flags: tuple[str, ...]
    notes: str = ""
    reason: str = ""
    method: str = "GET"
    url: str = ""
    fallback_urls: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    basic: tuple[str, str] | None = None
    form: Mapping[str, str] | None = None
    json: Any = None
    body: str | None = None
    hosts_allowed: tuple[str, ...] = ()
    derive: Mapping[str, str] = field(default_factory=dict)
    live: tuple[Condition, ...] = ()
    dead: tuple[Condition, ...] = ()
    unknown: tuple[Condition, ...] = ()
    identity: Mapping[str, str] = field(default_factory=dict)
    needs: tuple[str, ...] = ()

    @property
    def unsafe(self) -> frozenset[str]:
        """The flags that keep this check from running by default (empty when it is read-only)."""
        return frozenset(self.flags) & UNSAFE_FLAGS

    @property
    def text_host(self) -> bool:
        """True when the host comes from the scanned text and only an operator opt-in allows it."""
        return "SSRF" in self.flags


Fail = Callable[[str], Exception]


def _templates(value: str, fail: Fail, where: str, strict: bool = True) -> list[str]:
    """Part names a template uses; `strict` (urls, headers) also refuses stray braces and <...>."""
    names = _TEMPLATE.findall(value)
    for n in names:
        if not _PLACEHOLDER.match(n):
            raise fail(f"{where}: unknown placeholder {{{{{n}}}}}; use {{{{secret}}}} or {{{{part:NAME}}}}")
    rest = _TEMPLATE.sub("", value)
    if strict and any(c in rest for c in "{}<>"):
        raise fail(f"{where}: stray '{{', '}}', '<' or '>': placeholders are {{{{secret}}}} or {{{{part:NAME}}}}")
    return [n.split(":", 1)[1] for n in names if n.startswith("part:")]


def _strings(raw: Any, fail: Fail, where: str) -> list[str]:
    """Every string inside a JSON-like value (to check its placeholders)."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, bool) or raw is None or isinstance(raw, (int, float)):
        return []
    if isinstance(raw, list):
        return [s for x in raw for s in _strings(x, fail, where)]
    if isinstance(raw, dict):
        return [s for k, v in raw.items() for s in (*_strings(str(k), fail, where), *_strings(v, fail, where))]
    raise fail(f"{where}: unsupported value {type(raw).__name__}")


def url_host_is_template(url: str) -> bool:
    """Whether the host of a url template comes from a placeholder (the text), not a constant."""
    if url.startswith("{{"):
        return True
    host = url[len("https://"):].split("/", 1)[0].split("?", 1)[0]
    return "{{" in host


def _url(url: Any, fail: Fail, where: str, spec_flags: set[str], hosts_allowed: tuple[str, ...]) -> list[str]:
    if not isinstance(url, str) or not url:
        raise fail(f"{where}: must be a non-empty string")
    parts = _templates(url, fail, where)
    if not (url.startswith("https://") or url.startswith("{{")):
        raise fail(f"{where}: must start with https:// (or be a {{{{secret}}}}/{{{{part:NAME}}}} URL)")
    if url_host_is_template(url) and not hosts_allowed and "SSRF" not in spec_flags:
        raise fail(f"{where}: the host comes from the text: give hosts_allowed patterns or flag SSRF")
    if not url_host_is_template(url):
        host = url[len("https://"):].split("/", 1)[0].split("?", 1)[0]
        if not _HOST_PATTERN.match(host) or host.startswith("*."):
            raise fail(f"{where}: {host!r} is not a plain host name")
    return parts


def _condition(raw: Any, fail: Fail, where: str) -> Condition:
    if isinstance(raw, bool):
        raise fail(f"{where}: a condition is a status code or a mapping")
    if isinstance(raw, int):
        raw = {"status": raw}
    if not isinstance(raw, dict) or "status" not in raw:
        raise fail(f"{where}: a condition is a status code or a mapping with status (and json/contains)")
    unknown = set(raw) - _COND_KEYS
    if unknown:
        raise fail(f"{where}: unknown keys {sorted(unknown)}")
    status = raw["status"] if isinstance(raw["status"], list) else [raw["status"]]
    if not status or not all(isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599 for s in status):
        raise fail(f"{where}: status must be an HTTP status code or a list of them")
    js = raw.get("json") or {}
    if not isinstance(js, dict) or not all(isinstance(k, str) for k in js):
        raise fail(f"{where}: json must map dotted paths to expected values")
    contains = raw.get("contains")
    if contains is not None and (not isinstance(contains, str) or not contains):
        raise fail(f"{where}: contains must be a non-empty string")
    return Condition(status=tuple(status), json=dict(js), contains=contains)


def _conditions(raw: Any, fail: Fail, where: str, required: bool) -> tuple[Condition, ...]:
    if raw is None and not required:
        return ()
    if not isinstance(raw, list) or (required and not raw):
        raise fail(f"{where}: must be a non-empty list of conditions")
    return tuple(_condition(c, fail, f"{where}[{i}]") for i, c in enumerate(raw))


def _str_map(raw: Any, fail: Fail, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise fail(f"{where}: must map strings to strings")
    return dict(raw)


def parse_verify(raw: Any, available_parts: set[str], fail: Fail) -> VerifySpec | None:
    """Validate a rule's `verify:` mapping; `fail(message)` builds the error to raise."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise fail("must be a mapping")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise fail(f"kind: must be one of {', '.join(KINDS)}")
    unknown = set(raw) - _KEYS[kind]
    if unknown:
        raise fail(f"unknown keys for kind {kind}: {sorted(unknown)}")
    flags = raw.get("flags")
    if not isinstance(flags, list) or not flags or not set(flags) <= set(FLAGS):
        raise fail(f"flags: must be a non-empty list of {', '.join(FLAGS)}")
    notes = raw.get("notes", "")
    if not isinstance(notes, str):
        raise fail("notes: must be a string")
    if kind == "none":
        reason = raw.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise fail("reason: kind none needs a reason (why there is no safe check)")
        return VerifySpec(kind=kind, flags=tuple(flags), notes=notes, reason=reason.strip())
    if kind != "http":
        missing = [p for p in CODE_NEEDS[kind] if p not in available_parts]
        if missing:
            raise fail(f"kind {kind} needs part(s) {missing}, which the rule does not capture")
        return VerifySpec(kind=kind, flags=tuple(flags), notes=notes, needs=CODE_NEEDS[kind])
    return _parse_http(raw, set(flags), available_parts, fail, notes)


def _parse_http(raw: dict[str, Any], flags: set[str], available: set[str], fail: Fail, notes: str) -> VerifySpec:
    method = raw.get("method", "GET")
    if method not in METHODS:
        raise fail(f"method: must be one of {', '.join(METHODS)}")
    hosts = raw.get("hosts_allowed") or []
    if not isinstance(hosts, list) or not all(isinstance(h, str) and _HOST_PATTERN.match(h) for h in hosts):
        raise fail("hosts_allowed: must be a list of host names or *.suffix patterns")
    used: list[str] = _url(raw.get("url"), fail, "url", flags, tuple(hosts))
    fallbacks = raw.get("fallback_urls") or []
    if not isinstance(fallbacks, list):
        raise fail("fallback_urls: must be a list of urls")
    for i, u in enumerate(fallbacks):
        used += _url(u, fail, f"fallback_urls[{i}]", flags, tuple(hosts))
    headers = _str_map(raw.get("headers"), fail, "headers")
    for k, v in headers.items():
        if not _HEADER_NAME.match(k):
            raise fail(f"headers: {k!r} is not a header name")
        used += _templates(v, fail, f"headers.{k}")
    basic = raw.get("basic")
    if basic is not None:
        if not isinstance(basic, list) or len(basic) != 2 or not all(isinstance(x, str) for x in basic):
            raise fail("basic: must be [user, password]")
        used += _templates(basic[0], fail, "basic") + _templates(basic[1], fail, "basic")
    bodies = [k for k in ("form", "json", "body") if raw.get(k) is not None]
    if len(bodies) > 1:
        raise fail("give at most one of form, json and body")
    if bodies and method != "POST":
        raise fail(f"{bodies[0]}: a body needs method POST")
    form = raw.get("form")
    if form is not None:
        form = _str_map(form, fail, "form")
        for k, v in form.items():
            used += _templates(v, fail, f"form.{k}", strict=False)
    for s in _strings(raw.get("json"), fail, "json"):
        used += _templates(s, fail, "json", strict=False)
    body = raw.get("body")
    if body is not None:
        if not isinstance(body, str):
            raise fail("body: must be a string")
        used += _templates(body, fail, "body", strict=False)
    derive = _str_map(raw.get("derive"), fail, "derive")
    for name, pattern in derive.items():
        try:
            if re.compile(pattern).groups != 1:
                raise fail(f"derive.{name}: the regex needs exactly one group")
        except re.error as exc:
            raise fail(f"derive.{name}: does not compile: {exc}") from None
    identity = _str_map(raw.get("identity"), fail, "identity")
    for k, v in identity.items():
        if not _IDENTITY.match(v):
            raise fail(f"identity.{k}: must be json:dotted.path or header:Name")
    missing = sorted(set(used) - available - set(derive))
    if missing:
        raise fail(f"uses part(s) {missing}, which the rule does not capture (named group or pair)")
    return VerifySpec(
        kind="http", flags=tuple(sorted(flags, key=FLAGS.index)), notes=notes, method=method,
        url=raw["url"], fallback_urls=tuple(fallbacks), headers=headers,
        basic=(basic[0], basic[1]) if basic else None, form=form, json=raw.get("json"), body=body,
        hosts_allowed=tuple(hosts), derive=derive,
        live=_conditions(raw.get("live"), fail, "live", True),
        dead=_conditions(raw.get("dead"), fail, "dead", True),
        unknown=_conditions(raw.get("unknown"), fail, "unknown", False),
        identity=identity, needs=tuple(dict.fromkeys(p for p in used if p not in derive)),
    )
