"""Property-based fuzzing (hypothesis) of the parsers that read outside data in the core.

Each parser must either succeed or raise sprawlguard's own clear error (a SprawlguardError
subclass, which the CLI turns into a message and exit code 2/3), never an arbitrary exception.
Connectors' parsers (log normalisation, Slack markup, ADF, storage XHTML, archives) are fuzzed
next to their tests. A longer run: `HYPOTHESIS_PROFILE=long python -m pytest tests/hardening` (see SECURITY.md).
"""

from __future__ import annotations

import contextlib
import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sprawlguard.config import load_settings
from sprawlguard.detect.decoders import decode_base64, decode_escapes, decode_percent
from sprawlguard.detect.engine import Engine, EngineOptions
from sprawlguard.detect.fakes import expand
from sprawlguard.detect.gitleaks import load_gitleaks_config
from sprawlguard.detect.rules import load_rules, parse_rule
from sprawlguard.errors import SprawlguardError
from sprawlguard.model import Chunk, Location
from sprawlguard.store.baseline import load_baseline

settings.register_profile("default", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.register_profile("long", max_examples=20_000, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

TEST_RULES = Path(__file__).resolve().parents[1] / "data" / "rules"
ENGINE = Engine(load_rules([TEST_RULES], builtin=False), EngineOptions())

# Values YAML/TOML/JSON can hold, nested a little: what a hostile or broken file can contain.
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
rule_keys = st.sampled_from(["id", "name", "issuer", "nhi_kind", "confidence", "pattern", "keywords",
                             "examples", "negative_examples", "owasp_nhi", "remediation", "verify",
                             "pair", "filters", "checksum", "min_entropy", "path", "bogus"])


@given(st.dictionaries(rule_keys, values, max_size=14) | values)
def test_rule_parser_accepts_or_names_the_problem(raw: object) -> None:
    try:
        parse_rule(raw, "fuzz.yaml")
    except SprawlguardError as exc:
        assert "fuzz.yaml" in str(exc)


@given(st.text(max_size=400))
def test_rule_files_and_settings_survive_any_text(tmp_path_factory: pytest.TempPathFactory,
                                                  text: str) -> None:
    d = tmp_path_factory.mktemp("fuzz")
    (d / "r.yaml").write_text(text, encoding="utf-8")
    (d / "sprawlguard.toml").write_text(text, encoding="utf-8")
    (d / "baseline.json").write_text(text, encoding="utf-8")
    for load in (lambda: load_rules([d / "r.yaml"], builtin=False),
                 lambda: load_settings(d / "sprawlguard.toml"),
                 lambda: load_gitleaks_config(d / "sprawlguard.toml"),
                 lambda: load_baseline(d / "baseline.json")):
        with contextlib.suppress(SprawlguardError):
            load()


@given(st.text(max_size=300))
def test_decoders_never_raise(text: str) -> None:
    for decode in (decode_base64, decode_percent, decode_escapes):
        out = decode(text)
        assert out is None or isinstance(out, str)


@given(st.text(max_size=2000), st.text(max_size=2000))
def test_engine_survives_any_text_and_still_finds_a_planted_secret(before: str, after: str) -> None:
    token = expand("acme_{{gen:alnum:24}}", random.Random(len(before) * 7919 + len(after)))
    text = before + "\n" + token + "\n" + after
    chunk = Chunk(text=text, location=Location(source="fuzz", uri="fuzz.txt", path="fuzz.txt"))
    found = [m for m in ENGINE.scan(chunk) if m.secret == token]
    assert found, "a secret on its own line is found whatever surrounds it"
    line = text[: text.index(token)].count("\n") + 1
    assert {m.line for m in found} == {line}


@given(st.binary(max_size=2000))
def test_engine_survives_decoded_garbage(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    ENGINE.scan(Chunk(text=text, location=Location(source="fuzz", uri="b.bin")))
