"""Classification and remediation: OWASP names, owner hints (CODEOWNERS, authors), risk ordering."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sprawlguard.govern import owasp
from sprawlguard.govern.classify import govern, risk_score
from sprawlguard.govern.remediation import age_days, breadth, codeowners, owner_hints, remediate
from sprawlguard.model import Confidence, Exposure, Location, Secret, Verdict, VerdictStatus

NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)


def _secret(*locs: Location, kind: str = "static_api_key", issuer: str = "acme", **kw: object) -> Secret:
    exps = tuple(Exposure(fingerprint="f" * 64, rule_id="r", location=loc, line=1, column=1,
                          confidence=Confidence.HIGH) for loc in locs)
    return Secret(fingerprint="f" * 64, rule_id="r", rule_name="R", issuer=issuer, nhi_kind=kind,
                  preview="acme****", confidence=Confidence.HIGH, exposures=exps,
                  remediation={"revoke": "Settings > Keys", "docs": "https://acme.example"}, **kw)  # type: ignore[arg-type]


def test_owasp_ids_and_names_match_the_2025_list() -> None:
    assert list(owasp.NHI_TOP10) == [f"NHI{i}" for i in range(1, 11)]
    assert owasp.NHI_TOP10["NHI1"] == "Improper Offboarding"
    assert owasp.NHI_TOP10["NHI6"] == "Insecure Cloud Deployment Configurations"
    assert owasp.NHI_TOP10["NHI10"] == "Human Use of NHI"
    assert owasp.name("NHI9") == "NHI9 NHI Reuse"


def test_owasp_inference() -> None:
    s = _secret(Location("file", "file:.github/workflows/ci.yml", ".github/workflows/ci.yml"),
                Location("slack", "slack:C1/1.2"), issuer="aws")
    ids = owasp.infer(s)
    assert ids[0] == "NHI2" and "NHI6" in ids and "NHI9" in ids
    assert owasp.infer(_secret(Location("file", "file:x", "x"), kind="db_password")) == ("NHI2", "NHI4")


def test_codeowners_last_match_wins(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "CODEOWNERS").write_text("* @org/all\n/config/ @org/platform # infra\n")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "app.env").write_text("x\n")
    (tmp_path / "main.py").write_text("x\n")
    assert codeowners(str(tmp_path / "config" / "app.env")) == ("@org/platform",)
    assert codeowners(str(tmp_path / "main.py")) == ("@org/all",)
    assert codeowners(str(tmp_path / "missing.py")) == ()


def test_owner_hints_breadth_age_and_remediation(tmp_path: Path) -> None:
    git = Location("git", "git:abc:a.py", "a.py", author="Ada <ada@example.com>", when="2025-01-01T00:00:00Z")
    jira = Location("jira", "jira:SEC-1", details={"reporter": "bob"})
    s = _secret(git, jira, first_seen="2025-01-01T00:00:00Z")
    hints = owner_hints(s.exposures)
    assert "commit author: Ada <ada@example.com>" in hints and "jira reporter: bob" in hints
    assert breadth(s.exposures) == {"places": 2, "items": 2, "systems": 2, "historic": 0}
    assert age_days("2025-01-01T00:00:00Z", NOW) == 151
    rem = remediate(govern(s, NOW), NOW)
    assert rem["revoke"] == "Settings > Keys"
    assert "OIDC" in rem["identity_bound"] or "identity" in rem["identity_bound"]
    assert "a.py" in rem["clean_up"] and "2 place(s)" in rem["clean_up"]
    assert "Ada" in rem["owners"] and rem["age"] == "first seen 151 day(s) ago"
    assert remediate(_secret(git, issuer="aws"), NOW)["replace_with"].startswith("IAM roles")


def test_risk_orders_live_broad_old_over_dead_single_new() -> None:
    loc = Location("file", "file:a", "a")
    base = _secret(loc)
    live_old = _secret(loc, Location("slack", "slack:x"), first_seen="2024-01-01T00:00:00Z",
                       verdict=Verdict(VerdictStatus.LIVE, "200"))
    dead = _secret(loc, verdict=Verdict(VerdictStatus.DEAD, "401"))
    assert risk_score(live_old, NOW) > risk_score(base, NOW) > risk_score(dead, NOW)
    assert 0 <= risk_score(dead, NOW) <= risk_score(live_old, NOW) <= 100
