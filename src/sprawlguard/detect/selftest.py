"""Run every rule's examples and negative examples through the real engine.

Used by `sprawlguard rules check` and by the test suite, so a rule that stops matching its own
examples (or starts matching its negatives) is caught the same way by users and by CI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sprawlguard.detect.engine import Engine, EngineOptions
from sprawlguard.detect.fakes import expand, seeded
from sprawlguard.detect.rules import Example, Rule
from sprawlguard.model import Chunk, Location
from sprawlguard.redact import redact


@dataclass(frozen=True, slots=True)
class ExampleCase:
    """One expanded example: the text to scan and what the rule must (not) find in it."""

    rule_id: str
    index: int
    text: str
    secret: str | None  # expected secret; None = any match of the rule
    positive: bool
    path: str | None = None


def expand_example(rule: Rule, index: int, ex: Example) -> ExampleCase:
    rng = seeded(rule.id, "example", index)
    secret = expand(ex.secret, rng) if ex.secret is not None else None
    text = ex.text
    for name, template in ex.parts.items():
        text = text.replace("{{part:" + name + "}}", expand(template, rng))
    if secret is not None:
        text = text.replace("{{secret}}", secret)
    return ExampleCase(rule.id, index, expand(text, rng), secret, True, ex.path)


def cases(rules: Sequence[Rule]) -> list[ExampleCase]:
    """Every example and negative example of `rules`, expanded with deterministic fakes."""
    out: list[ExampleCase] = []
    for rule in rules:
        for i, ex in enumerate(rule.examples):
            out.append(expand_example(rule, i, ex))
        for i, neg in enumerate(rule.negative_examples):
            text = expand(neg, seeded(rule.id, "negative", i))
            out.append(ExampleCase(rule.id, i, text, None, False))
    return out


def run_case(engine: Engine, case: ExampleCase) -> str | None:
    """None when the case behaves as declared, else a message (secrets redacted)."""
    path = case.path or "example.txt"
    chunk = Chunk(text=case.text, location=Location(source="example", uri=path, path=path))
    found = [m for m in engine.scan(chunk) if m.rule_id == case.rule_id]
    kind = "example" if case.positive else "negative_example"
    where = f"rule {case.rule_id!r} {kind} #{case.index + 1}"
    if case.positive:
        if not found:
            return f"{where}: no match"
        if case.secret is not None and case.secret not in {m.secret for m in found}:
            got = ", ".join(redact(m.secret) for m in found)
            return f"{where}: matched {got}, expected {redact(case.secret)}"
        return None
    if found:
        return f"{where}: unexpectedly matched {redact(found[0].secret)}"
    return None


def check_rules(rules: Sequence[Rule]) -> list[str]:
    """Problems with the rules' own examples; empty when every rule behaves as declared."""
    engine = Engine(rules, EngineOptions(decode_depth=2))
    return [p for p in (run_case(engine, c) for c in cases(rules)) if p]
