"""The strict rule loader names file, rule and field for every kind of malformed rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from sprawlguard.detect.rules import load_file, load_rules
from sprawlguard.errors import RuleError

GOOD = """
rules:
  - id: t.acme.key
    name: Acme key
    issuer: acme
    nhi_kind: static_api_key
    confidence: high
    keywords: [acme_]
    pattern: '(?P<secret>acme_[a-z0-9]{20})'
    examples:
      - text: 'k={{secret}}'
        secret: 'acme_{{gen:lowernum:20}}'
    negative_examples: ['acme_short']
    owasp_nhi: [NHI2]
    remediation: {revoke: r, replace_with: w, docs: 'https://acme.example'}
"""


def write(tmp_path: Path, text: str, name: str = "acme.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_good_rule_loads(tmp_path: Path) -> None:
    (rule,) = load_file(write(tmp_path, GOOD))
    assert rule.id == "t.acme.key" and rule.keywords == ("acme_",)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda s: s.replace("    confidence: high\n", ""), "confidence"),
        (lambda s: s.replace("confidence: high", "confidence: certain"), "confidence"),
        (lambda s: s.replace("(?P<secret>acme_[a-z0-9]{20})", "(?P<secret>acme_[a-z0-9"), "pattern"),
        (lambda s: s.replace("nhi_kind: static_api_key", "nhi_kind: robot"), "nhi_kind"),
        (lambda s: s.replace("owasp_nhi: [NHI2]", "owasp_nhi: [NHI99]"), "owasp_nhi"),
        (lambda s: s + "    colour: blue\n", "colour"),
        (lambda s: s.replace("keywords: [acme_]", "keywords: acme_"), "keywords"),
        (lambda s: s.replace("    negative_examples: ['acme_short']\n", ""), "negative_examples"),
    ],
)
def test_malformed_rule_names_file_rule_and_field(tmp_path: Path, edit, field: str) -> None:
    path = write(tmp_path, edit(GOOD))
    with pytest.raises(RuleError) as info:
        load_file(path)
    msg = str(info.value)
    assert str(path) in msg and "t.acme.key" in msg and field in msg


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "rules:\n  - id: [unclosed\n")
    with pytest.raises(RuleError, match="acme.yaml"):
        load_file(path)


def test_duplicate_ids_across_files_are_rejected(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(RuleError, match="t.acme.key"):
        load_rules([tmp_path], builtin=False)


def test_cli_rejects_bad_rules_dir_with_exit_2(tmp_path: Path, cli) -> None:
    write(tmp_path, GOOD.replace("confidence: high", "confidence: certain"))
    target = tmp_path / "scan"
    target.mkdir()
    res = cli("scan", "path", str(target), "--rules", str(tmp_path))
    assert res.code == 2
    assert "confidence" in res.err and "t.acme.key" in res.err


def test_rules_check_reports_a_failing_example(tmp_path: Path, cli) -> None:
    write(tmp_path, GOOD.replace("[a-z0-9]{20})'", "[a-z]{20})'"))  # digits no longer match
    res = cli("rules", "check", str(tmp_path))
    assert res.code == 1
    assert "t.acme.key" in res.err and "example #1" in res.err
    ok = tmp_path / "ok"
    ok.mkdir()
    write(ok, GOOD)
    assert cli("rules", "check", str(ok)).code == 0


@pytest.mark.parametrize("bad", ["/etc/datadog-agent/datadog.yaml", "../outside.yaml", "a/../../b.yaml"])
def test_example_paths_must_stay_relative(tmp_path: Path, bad: str) -> None:
    """Example paths become files in the fixture tree; an absolute or '..' path would escape it."""
    text = GOOD.replace("        secret: 'acme_{{gen:lowernum:20}}'", f"        secret: 'acme_{{{{gen:lowernum:20}}}}'\n        path: '{bad}'")
    with pytest.raises(RuleError, match="relative"):
        load_file(write(tmp_path, text))


def test_shipped_rules_are_cached_parsed_and_a_tampered_cache_cannot_call_code(tmp_path: Path) -> None:
    """The cache holds the validated rules (a hook skips YAML and validation); it is rebuilt when
    unreadable, and a cache naming anything but our rule dataclasses is refused, not run."""
    import os
    import pickle

    fresh = load_rules()
    assert load_rules(cache=tmp_path) == fresh
    (cached,) = tmp_path.glob("rules-*.pickle")
    assert load_rules(cache=tmp_path) == fresh  # from the cache
    ran = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(ran),))

    cached.write_bytes(pickle.dumps([Evil()]))
    assert load_rules(cache=tmp_path) == fresh
    assert not ran.exists()
    cached.write_bytes(b"\x80\x05 damaged")
    assert load_rules(cache=tmp_path) == fresh
    assert pickle.loads(cached.read_bytes()) == fresh  # rewritten


def test_the_cache_keeps_only_the_most_recently_used_entries(tmp_path: Path) -> None:
    """Every rule set leaves a cache entry (several files sharing a digest); the oldest go."""
    import os

    from sprawlguard.config import prune_cache, touch

    for i in range(5):
        for suffix in ("-db.bin", "-single.bin", ".json"):
            f = tmp_path / f"hsdb-d{i}{suffix}"
            f.write_text("x")
            os.utime(f, (1000 + i, 1000 + i))
    (tmp_path / "rules-r1.pickle").write_text("x")  # another kind of entry: untouched
    touch(tmp_path / "hsdb-d0.json")  # used just now: kept although written first
    prune_cache(tmp_path, "hsdb", keep=2)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["hsdb-d0-db.bin", "hsdb-d0-single.bin", "hsdb-d0.json",
                    "hsdb-d4-db.bin", "hsdb-d4-single.bin", "hsdb-d4.json", "rules-r1.pickle"]
