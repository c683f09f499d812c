"""SARIF output validates against the official SARIF 2.1.0 JSON schema shipped as test data."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from tests.conftest import fake

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
RULES = str(Path(__file__).parent.parent / "data" / "rules")


def test_sarif_validates_and_carries_our_fingerprint(tmp_path: Path, cli) -> None:
    key = fake("acme_{{gen:alnum:24}}", "sarif")
    (tmp_path / "a.py").write_text(f"x = 1\nk = '{key}'\n")
    (tmp_path / "b.py").write_text(f"k = '{key}'\n")
    res = cli("scan", "path", str(tmp_path), "-f", "sarif", "--rules", RULES, "--no-builtin-rules")
    assert res.code == 1
    doc = json.loads(res.out)
    jsonschema.validators.validator_for(SCHEMA)(SCHEMA).validate(doc)
    results = doc["runs"][0]["results"]
    assert len(results) == 2
    fps = {r["partialFingerprints"]["sprawlguardFingerprint/v1"] for r in results}
    assert len(fps) == 1  # one secret, two places: code scanning groups them
    region = next(r for r in results if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                  .endswith("a.py"))["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (2, 6)
    assert key not in res.out


def test_empty_sarif_validates(tmp_path: Path, cli) -> None:
    (tmp_path / "a.txt").write_text("nothing\n")
    res = cli("scan", "path", str(tmp_path), "-f", "sarif", "--rules", RULES, "--no-builtin-rules")
    assert res.code == 0
    jsonschema.validators.validator_for(SCHEMA)(SCHEMA).validate(json.loads(res.out))


def test_invalid_sarif_is_rejected_by_the_schema() -> None:
    """The schema really constrains: a wrong version fails (so the tests above can fail)."""
    bad = {"version": "2.0.0", "runs": []}
    errors = list(jsonschema.validators.validator_for(SCHEMA)(SCHEMA).iter_errors(bad))
    assert errors
