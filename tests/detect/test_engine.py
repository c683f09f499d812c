"""Engine behaviour: decoders, allow comments, filters, confidence, pairs, checksums, huge lines."""

from __future__ import annotations

import base64
import json
import random
import urllib.parse
from pathlib import Path

import pytest

from sprawlguard.detect.checksums import CHECKSUMS
from sprawlguard.detect.engine import Engine, EngineOptions
from sprawlguard.detect.rules import load_file
from sprawlguard.model import Chunk, Confidence, Location
from tests.conftest import fake

RULES_FILE = Path(__file__).parent.parent / "data" / "rules" / "acme.yaml"  # shared with the CLI tests


@pytest.fixture(scope="module")
def rules():
    return load_file(RULES_FILE)


def scan(rules, text: str, path: str = "f.txt", **opts) -> list:
    engine = Engine(rules, EngineOptions(**opts))
    return engine.scan(Chunk(text=text, location=Location("file", "file:" + path, path)))


KEY = fake("acme_{{gen:alnum:24}}", "engine")


def test_position_is_one_based_line_and_column(rules) -> None:
    (m,) = scan(rules, f"a\nbb\n  x = '{KEY}'\n")
    assert (m.line, m.column, m.secret) == (3, 8, KEY)


@pytest.mark.parametrize(
    ("encode", "chain"),
    [
        (lambda s: base64.b64encode(f"key={s}".encode()).decode(), ("base64",)),
        (lambda s: urllib.parse.quote(f"key={s}!", safe=""), ("percent",)),
        (lambda s: json.dumps(f"key=\"{s}\"").replace("_", "\\u005f"), ("escape",)),
        (lambda s: base64.b64encode(base64.b64encode(f"key={s}".encode())).decode(), ("base64", "base64")),
    ],
)
def test_decoders_find_encoded_secrets_and_record_the_chain(rules, encode, chain) -> None:
    text = f"line one\nconfig: {encode(KEY)}\n"
    found = [m for m in scan(rules, text) if m.secret == KEY]
    assert found, chain
    assert found[0].decoders == chain
    assert found[0].line == 2  # reported at the encoded blob's line


def test_decoding_depth_is_bounded(rules) -> None:
    blob = f"key={KEY}".encode()
    for _ in range(3):
        blob = base64.b64encode(blob)
    assert not scan(rules, blob.decode(), decode_depth=2)
    assert scan(rules, blob.decode(), decode_depth=3)


@pytest.mark.parametrize(
    "comment", ["# sprawlguard:allow", "// gitleaks:allow", "# pragma: allowlist secret"]
)
def test_inline_allow_comments(rules, comment: str) -> None:
    assert not scan(rules, f"k = '{KEY}'  {comment}\n")
    assert scan(rules, f"k = '{KEY}'\n")


def test_allow_next_line_comment(rules) -> None:
    assert not scan(rules, f"# pragma: allowlist nextline secret\nk = '{KEY}'\n")


def test_allow_values_drop_matching_secrets(rules) -> None:
    assert not scan(rules, f"k={KEY}", allow_values=[KEY[:10]])


def test_min_confidence(rules) -> None:
    weak = fake("weak_{{gen:lower:10}}")
    assert scan(rules, weak)
    assert not scan(rules, weak, min_confidence=Confidence.MEDIUM)


def test_checksum_is_verified_offline(rules) -> None:
    good = fake("ghp_{{gen:alnum:30}}{{checksum:github}}")
    assert CHECKSUMS["github"].check(good)
    bad = good[:-1] + ("A" if good[-1] != "A" else "B")
    assert [m.secret for m in scan(rules, good)] == [good]
    assert not scan(rules, bad)


def test_required_pair_must_be_nearby(rules) -> None:
    secret = fake("{{gen:base64:40}}", "pair")
    key_id = fake("AKIA{{gen:[A-Z2-7]:16}}", "pair")
    (m,) = scan(rules, f"{key_id}\nsecret={secret}\n")
    assert m.parts["key_id"] == key_id
    assert not scan(rules, f"{key_id}\n\n\n\n\nsecret={secret}\n")


def test_placeholders_and_repeats_are_dropped(rules) -> None:
    assert not scan(rules, "acme_xxxxxxxxxxxxxxxxxxxxxxxx")
    assert not scan(rules, "acme_abcdefghijklmnopqrstuvwx")


def test_huge_line_secret_has_the_right_column(rules) -> None:
    text = "x" * 3_000_000 + " " + KEY + " " + "y" * 1000
    (m,) = scan(rules, text)
    assert (m.line, m.column) == (1, 3_000_002)
    assert len(m.line_text) <= 400


def test_match_repr_never_holds_the_secret(rules) -> None:
    (m,) = scan(rules, KEY)
    assert KEY not in repr(m)


def test_compiled_database_is_cached(rules, tmp_path: Path) -> None:
    Engine(rules, EngineOptions(cache_dir=tmp_path))
    assert list(tmp_path.glob("hsdb-*.bin"))
    engine = Engine(rules, EngineOptions(cache_dir=tmp_path))  # loads from the cache
    assert engine.scan(Chunk(text=KEY, location=Location("file", "f")))


def test_percent_encoded_non_utf8_is_ignored_not_fatal(rules) -> None:
    """Found by bench/engine_throughput.py on the stdlib (test_urlparse has %C0%AF sequences)."""
    assert scan(rules, "url = 'http://x/%C0%AF%C0%AF/etc/passwd'\n") == []


def test_prefilter_opens_only_large_bounded_repeats() -> None:
    from sprawlguard.detect.hsdb import RELAX_REPEATS_ABOVE, prefilter_expr

    big = RELAX_REPEATS_ABOVE + 1
    assert prefilter_expr(rf"key_[A-Z]{{20,{big}}}\b") == rb"key_[A-Z]{20,}\b"
    assert prefilter_expr(r"key_[A-Z]{20,40}") == rb"key_[A-Z]{20,40}"
    assert prefilter_expr(rf"\{{1,{big}\}}") == rf"\{{1,{big}\}}".encode()  # a literal brace stays


def test_long_pem_block_is_found_with_a_relaxed_prefilter(tmp_path) -> None:
    """PEM keys are thousands of characters: their prefilter is relaxed, the match stays exact."""
    from sprawlguard.detect.fakes import expand
    from sprawlguard.detect.rules import load_rules

    rules = [r for r in load_rules() if r.id == "sg.private_key.rsa"]
    engine = Engine(rules, EngineOptions(cache_dir=tmp_path))
    key = expand("{{fake:rsa_private_key}}", random.Random(3))
    text = "config:\n" + key + "\nend\n"
    found = engine.scan(Chunk(text=text, location=Location(source="t", uri="k.pem", path="k.pem")))
    assert [m.line for m in found] == [2]
    assert found[0].secret.strip().startswith("-----BEGIN RSA PRIVATE KEY-----")


def test_a_long_run_is_one_candidate_not_one_per_byte(tmp_path) -> None:
    """A relaxed `{100,}` prefilter reports every end of a growing match; the matcher keeps one per
    streak, so a long run cannot flood it into the slow whole-chunk fallback."""
    from sprawlguard.detect.fakes import expand
    from sprawlguard.detect.hsdb import MAX_HITS
    from sprawlguard.detect.rules import parse_rule

    blob_rule = parse_rule({
        "id": "t.blob", "name": "blob", "issuer": "t", "nhi_kind": "static_api_key", "confidence": "high",
        "keywords": ["blob="], "pattern": r"blob=(?P<secret>[A-Za-z0-9+/]{100,400000})",
        "examples": ["x"], "negative_examples": ["y"], "owasp_nhi": ["NHI2"],
        "remediation": {"revoke": "r", "replace_with": "r", "docs": "d"}}, "test")
    engine = Engine([blob_rule], EngineOptions(cache_dir=tmp_path))
    blob = expand(f"{{{{gen:alnum:{MAX_HITS * 3}}}}}", random.Random(5))
    hits = engine._matcher.hits(f"blob={blob}\n".encode())
    assert not hits.overflow and hits.offsets and all(len(v) == 1 for v in hits.offsets.values())


@pytest.mark.parametrize(("prefilter", "found"), [("ACME_KEY", True), ("(?i)zz9qq", False), (None, True)])
def test_a_declared_prefilter_replaces_the_pattern_in_the_one_pass_matcher(rules, prefilter, found) -> None:
    """Candidates come from the rule's `prefilter` (here a word before the secret, so the window
    must reach forward); a prefilter that never fires hides the match: it really is what runs."""
    from dataclasses import replace

    rule = replace(next(r for r in rules if r.id == "t.acme.key"), prefilter=prefilter)
    text = "filler line\n" * 50 + f"ACME_KEY = '{KEY}'\n" + "more filler\n" * 50
    assert [m.secret for m in scan([rule], text)] == ([KEY] if found else [])


def test_a_generic_rule_yields_to_an_issuer_rule_on_the_same_value(tmp_path) -> None:
    """`GITHUB_TOKEN = '<pat>'` is one finding (the GitHub rule), not also a generic one; the
    generic rule still reports a value no issuer rule claims, and yields only to a rule of at
    least its confidence."""
    from dataclasses import replace

    from sprawlguard.detect.fakes import expand
    from sprawlguard.detect.rules import load_rules

    rules = [r for r in load_rules() if r.id in ("sg.github.classic_pat", "sg.generic.secret_quoted")]
    pat = expand("ghp_{{gen:alnum:30}}{{checksum:github}}", random.Random(8))
    other = expand("{{gen:alnum:32}}", random.Random(9))
    text = f"GITHUB_TOKEN = '{pat}'\nAPI_SECRET = '{other}'\n"
    found = scan(rules, text, cache_dir=tmp_path)
    assert sorted((m.rule_id, m.line) for m in found) == [("sg.generic.secret_quoted", 2), ("sg.github.classic_pat", 1)]
    weak = [replace(r, confidence="low") if r.issuer != "generic" else r for r in rules]
    assert sorted((m.rule_id, m.line) for m in scan(weak, text, cache_dir=tmp_path)) == [
        ("sg.generic.secret_quoted", 1), ("sg.generic.secret_quoted", 2), ("sg.github.classic_pat", 1)]
