"""ReDoS budget: every rule's regexes against adversarial input stay within a fixed CPU budget per MB.

The inputs are built from each rule's own material: long runs of the characters its secrets are made
of (behind its keyword), a near miss repeated (an example with its last character cut), and the
keyword repeated with separators. The engine confirms candidates in bounded windows, but a flood of
candidates falls back to confirming the whole chunk, so the whole-input `finditer` cost is what a
hostile file can force. When a rule breaks the budget, fix the rule (bound its quantifiers, drop
nested repetition), never the budget.
"""

from __future__ import annotations

import time

import pytest
import regex

from sprawlguard.detect.rules import Rule, load_rules
from sprawlguard.detect.selftest import cases

RULES = load_rules(check_builtin_regex=True)
SIZE = 128 * 1024  # bytes of adversarial text per input; the budget is scaled to per-MB
BUDGET_S_PER_MB = 4.0  # CPU seconds per MB of adversarial input, per regex; typical rules use < 0.1


def _adversarial(rule: Rule) -> dict[str, str]:
    examples = [c for c in cases([rule]) if c.positive]
    secret = next((c.secret for c in examples if c.secret), None) or examples[0].text
    keyword = rule.keywords[0] if rule.keywords else ""
    body = (secret * (SIZE // max(len(secret), 1) + 1))[:SIZE]
    near = examples[0].text[:-1] + " "
    return {
        "own characters after the keyword": keyword + "=" + body,
        "run of the first secret character": keyword + "=" + secret[0] * SIZE,
        "near miss repeated": (near * (SIZE // max(len(near), 1) + 1))[:SIZE],
        "keyword repeated": ((keyword or "key") + "=" + secret[: len(secret) // 2] + ":")
        * (SIZE // (len(keyword) + len(secret) // 2 + 2) + 1),
        "one long line of separators": keyword + ("= \"'" * (SIZE // 4)),
    }


def _cpu_per_mb(pattern: regex.Pattern[str], text: str) -> float:
    start = time.process_time()
    try:
        for _ in pattern.finditer(text, timeout=30):
            pass
    except TimeoutError:
        return float("inf")
    return (time.process_time() - start) * (1 << 20) / len(text.encode("utf-8", "replace"))


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_regexes_stay_within_the_redos_budget(rule: Rule) -> None:
    patterns = {"pattern": rule.pattern}
    if rule.pair is not None:
        patterns["pair.pattern"] = rule.pair.pattern
    slow = []
    for field, source in patterns.items():
        compiled = regex.compile(source)
        for name, text in _adversarial(rule).items():
            cost = _cpu_per_mb(compiled, text)
            if cost > BUDGET_S_PER_MB:
                slow.append(f"{field} on {name}: {cost:.2f} s/MB")
    assert not slow, f"{rule.id} exceeds {BUDGET_S_PER_MB} s/MB: " + "; ".join(slow)


def test_the_budget_catches_a_quadratic_pattern() -> None:
    # `[a-z]+\d` retries from every start position on a long run of letters: quadratic.
    assert _cpu_per_mb(regex.compile(r"[a-z]+\d"), "a" * 8192) > BUDGET_S_PER_MB
    assert _cpu_per_mb(regex.compile(r"[a-z]{1,40}\d"), "a" * 8192) < BUDGET_S_PER_MB
