"""Declarative HTTP checks: a rule's `verify: {kind: http, ...}` block (format in rules/README.md)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from urllib3.util import parse_url

from sprawlguard.detect.verifyspec import Condition, VerifySpec, url_host_is_template
from sprawlguard.verify.base import DEAD, LIVE, SKIPPED, Context, Result, unknown
from sprawlguard.verify.net import HttpResponse

_TEMPLATE = re.compile(r"\{\{(secret|part:[A-Za-z_][A-Za-z0-9_]*)\}\}")
_HOST_SAFE = re.compile(r"^[A-Za-z0-9.-]{1,253}$")
_MISSING = object()


def _render(template: str, values: Mapping[str, str], quote_values: bool = False) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        v = values["secret" if name == "secret" else name.split(":", 1)[1]]
        return quote(v, safe="") if quote_values else v

    return _TEMPLATE.sub(sub, template)


def _render_url(template: str, values: Mapping[str, str]) -> str:
    """Fill a URL template: a whole-URL placeholder as is, a host part checked, path parts quoted."""
    if template.startswith("{{"):
        head = _TEMPLATE.match(template)
        assert head is not None
        return _render(head.group(0), values) + _render(template[head.end():], values, quote_values=True)
    scheme_host, slash, rest = template[len("https://"):].partition("/")
    host = _render(scheme_host, values)
    if not _HOST_SAFE.match(host.split(":", 1)[0]):
        raise ValueError("the host taken from the text is not a plain host name")
    return "https://" + host + slash + _render(rest, values, quote_values=True)


def host_allowed(host: str, patterns: tuple[str, ...]) -> bool:
    """Exact names, or `*.suffix` = one or more DNS labels in front of the issuer's suffix."""
    for p in patterns:
        if p.startswith("*."):
            label_part = host[: -len(p) + 1] if host.endswith(p[1:]) else ""
            if label_part and re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*",
                                           label_part):
                return True
        elif host == p:
            return True
    return False


def _dig(doc: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(doc, dict) or key not in doc:
            return _MISSING
        doc = doc[key]
    return doc


def matches(cond: Condition, resp: HttpResponse) -> bool:
    if resp.status not in cond.status:
        return False
    if cond.contains is not None and cond.contains not in resp.text():
        return False
    if cond.json:
        doc = resp.json()
        for path, want in cond.json.items():
            got = _dig(doc, path)
            if want == "*":
                if got is _MISSING or got is None:
                    return False
            elif isinstance(want, list):
                if got is _MISSING or got not in want:
                    return False
            elif got is _MISSING or type(got) is not type(want) or got != want:
                return False
    return True


def identity(spec: VerifySpec, resp: HttpResponse) -> dict[str, str]:
    """The cheap identity/scope facts the rule names (json paths, headers), each at most 200 chars."""
    out: dict[str, str] = {}
    doc = resp.json() if any(v.startswith("json:") for v in spec.identity.values()) else None
    for name, where in spec.identity.items():
        kind, _, key = where.partition(":")
        value: Any = resp.headers.get(key.lower(), _MISSING) if kind == "header" else _dig(doc, key)
        if value is _MISSING or value is None or value == "":
            continue
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        out[name] = str(value)[:200]
    return out


def classify(spec: VerifySpec, resp: HttpResponse) -> Result | None:
    for cond in spec.live:
        if matches(cond, resp):
            if resp.status >= 400 and not resp.is_json:
                return unknown(f"unexpected_status: {resp.status} from {resp.host} without the issuer's JSON")
            return Result(LIVE, f"{resp.status} from {resp.host}", identity(spec, resp))
    for cond in spec.dead:
        if matches(cond, resp):
            return Result(DEAD, f"{resp.status} from {resp.host}")
    for cond in spec.unknown:
        if matches(cond, resp):
            return unknown(f"unexpected_status: {resp.status} from {resp.host}")
    return None


def _request(spec: VerifySpec, values: Mapping[str, str]) -> tuple[dict[str, str], bytes | None]:
    headers = {k: _render(v, values) for k, v in spec.headers.items()}
    if spec.basic is not None:
        user, pw = (_render(x, values) for x in spec.basic)
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
    body: bytes | None = None
    if spec.form is not None:
        body = urlencode({k: _render(v, values) for k, v in spec.form.items()}).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif spec.json is not None:
        body = json.dumps(_render_json(spec.json, values)).encode()
        headers.setdefault("Content-Type", "application/json")
    elif spec.body is not None:
        body = _render(spec.body, values).encode()
    headers.setdefault("Accept", "application/json")
    return headers, body


def _render_json(doc: Any, values: Mapping[str, str]) -> Any:
    if isinstance(doc, str):
        return _render(doc, values)
    if isinstance(doc, list):
        return [_render_json(x, values) for x in doc]
    if isinstance(doc, dict):
        return {k: _render_json(v, values) for k, v in doc.items()}
    return doc


def check(value: str, parts: Mapping[str, str], spec: VerifySpec, ctx: Context) -> Result:
    """Send the rule's request to each of its URLs in turn until one is not `dead`."""
    values = {"secret": value, **parts}
    for name, pattern in spec.derive.items():
        m = re.search(pattern, value)
        if m is None:
            return unknown(f"not_attempted: cannot derive {name} from the secret")
        values[name] = m.group(1)
    missing = [p for p in spec.needs if not values.get(p)]
    if missing:
        return unknown(f"not_attempted: needs {', '.join(missing)} (not found near the secret)")
    headers, body = _request(spec, values)
    dead: list[str] = []
    for template in (spec.url, *spec.fallback_urls):
        try:
            url = _render_url(template, values)
        except ValueError as exc:
            return Result(SKIPPED, f"refused: {exc}")
        host = (parse_url(url).host or "").lower().strip("[]")
        pin = url_host_is_template(template)
        opted_in = spec.text_host and host in ctx.verify_hosts
        if pin and not host_allowed(host, spec.hosts_allowed) and not opted_in:
            return Result(SKIPPED, f"host from scanned text ({host}), not contacted"
                          + (f"; allow it with --verify-host {host}" if spec.text_host else
                             f"; it is not one of {', '.join(spec.hosts_allowed)}"))
        result = ctx.send(spec.method, url, headers, body, pin=pin, classify=lambda r: classify(spec, r))
        if result.status is not DEAD:
            return result
        dead.append(result.reason)
    return Result(DEAD, "; ".join(dead))
