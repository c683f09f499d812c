"""The strict `verify:` schema: malformed blocks are rule errors naming the problem."""

from __future__ import annotations

import pytest

from sprawlguard.detect.rules import load_rules, parse_rule
from sprawlguard.errors import RuleError

BASE = {"id": "t.acme.key", "name": "Acme", "issuer": "acme", "nhi_kind": "static_api_key",
        "confidence": "high", "pattern": "(?P<secret>acme_[a-z0-9]{20})", "examples": ["x"],
        "negative_examples": ["y"], "owasp_nhi": ["NHI2"],
        "remediation": {"revoke": "r", "replace_with": "w", "docs": "d"}}
GOOD = {"kind": "http", "url": "https://api.acme.example/me", "headers": {"Authorization": "Bearer {{secret}}"},
        "live": [200], "dead": [401], "flags": ["RO"]}


@pytest.mark.parametrize(("change", "message"), [
    ({"kind": "magic"}, "kind: must be one of"),
    ({"flags": ["READONLY"]}, "flags:"),
    ({"url": "http://api.acme.example/me"}, "must start with https://"),
    ({"url": "https://{tenant}.acme.example/me"}, "stray"),
    ({"url": "https://{{part:site}}/me"}, "hosts_allowed"),
    ({"url": "https://{{part:site}}/me", "hosts_allowed": ["*.acme.example"]}, "part(s) ['site']"),
    ({"headers": {"Authorization": "Bearer {{token}}"}}, "unknown placeholder"),
    ({"live": ["200 and ok"]}, "a condition"),
    ({"auth": "Basic x"}, "unknown keys"),
    ({"method": "GET", "json": {"a": 1}}, "a body needs method POST"),
])
def test_malformed_verify_blocks_are_rejected(change: dict, message: str) -> None:
    with pytest.raises(RuleError) as exc:
        parse_rule({**BASE, "verify": {**GOOD, **change}}, "acme.yaml")
    assert "field 'verify'" in str(exc.value) and message in str(exc.value)


def test_good_block_and_builtins_load() -> None:
    rule = parse_rule({**BASE, "verify": GOOD}, "acme.yaml")
    assert rule.verify is not None and rule.verify.kind == "http" and not rule.verify.unsafe
    checked = {r.issuer for r in load_rules() if r.verify and r.verify.kind != "none" and not r.verify.unsafe}
    assert len(checked) >= 40
