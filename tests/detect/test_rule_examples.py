"""Every built-in rule's examples must match (with the exact secret) and its negatives must not."""

from __future__ import annotations

import pytest

from sprawlguard.detect.engine import Engine, EngineOptions
from sprawlguard.detect.rules import NHI_KINDS, load_rules
from sprawlguard.detect.selftest import cases, run_case

RULES = load_rules(check_builtin_regex=True)
ENGINE = Engine(RULES, EngineOptions())


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_examples(rule) -> None:
    problems = [p for p in (run_case(ENGINE, c) for c in cases([rule])) if p]
    assert problems == []


def test_every_rule_has_examples_both_ways() -> None:
    for rule in RULES:
        assert rule.examples, rule.id
        assert rule.negative_examples, rule.id
        assert rule.nhi_kind in NHI_KINDS
        assert {"revoke", "replace_with", "docs"} <= set(rule.remediation), rule.id


def test_at_least_150_issuer_specific_rules() -> None:
    specific = [r for r in RULES if r.issuer != "generic"]
    assert len(specific) >= 150, len(specific)


def test_positive_examples_expect_exact_secrets() -> None:
    """An example without an expected secret would let a rule match the wrong span silently."""
    missing = [r.id for r in RULES for ex in r.examples if ex.secret is None]
    assert missing == []


def test_every_rule_has_a_positional_prefilter() -> None:
    """A rule hyperscan cannot compile falls back to keywords or runs everywhere: slow; fix the
    rule. (A rule's declared `prefilter` must compile: it is no fallback.)"""
    from sprawlguard.detect.hsdb import plan

    p = plan(RULES)
    slow = [RULES[i].id for i in range(len(RULES)) if i not in set(p.exact) and RULES[i].prefilter is None]
    assert slow == [] and not p.always
    declared = {RULES[i].id for i, e in zip(p.ids, p.exprs, strict=True) if e == (RULES[i].prefilter or "").encode()}
    assert declared == {r.id for r in RULES if r.prefilter is not None}
