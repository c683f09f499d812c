"""The HTML report: self-contained, escaped, redacted, one section per secret with its exposures."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from tests.conftest import fake

RULES = str(Path(__file__).parent.parent / "data" / "rules")
KEY = fake("acme_{{gen:alnum:24}}", "html")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.srcs += [v or "" for k, v in attrs if k in ("src", "href") and tag != "a"]


def test_html_is_escaped_redacted_and_grouped(tmp_path: Path, cli) -> None:
    root = tmp_path / "tree"
    hostile = root / "<script>alert(1)</script>"
    hostile.mkdir(parents=True)
    (hostile / "x&y.txt").write_text(f"k = {KEY}\n")
    (root / "ok.txt").write_text(f"k = {KEY}\n")
    out = tmp_path / "report.html"
    res = cli("scan", "path", str(root), "--rules", RULES, "--no-builtin-rules", "--no-db",
              "-f", "html", "-o", str(out))
    assert res.code == 1
    page = out.read_text(encoding="utf-8")
    assert KEY not in page and KEY not in res.out + res.err
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;/x&amp;y.txt" in page
    parser = _Tags()
    parser.feed(page)
    assert "script" not in parser.tags
    assert parser.srcs == []  # no external resources: readable offline
    assert page.count('<section class="secret"') == 1  # one secret, two exposures
    assert "Exposures (2)" in page
    assert "Remediation" in page and "NHI2 Secret Leakage" in page
    assert "acme****" in page


def test_html_show_secrets_opt_in(tmp_path: Path, cli) -> None:
    (tmp_path / "a.txt").write_text(f"k = {KEY}\n")
    res = cli("scan", "path", str(tmp_path / "a.txt"), "--rules", RULES, "--no-builtin-rules", "--no-db",
              "-f", "html", "--show-secrets")
    assert KEY in res.out
