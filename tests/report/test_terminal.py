"""The terminal report: a rich table on a terminal, plain aligned text when piped; both print
scanned names verbatim and never the raw secret unless asked."""

from __future__ import annotations

import io

from sprawlguard.model import (
    Confidence,
    Exposure,
    ItemError,
    Location,
    ScanResult,
    ScanStats,
    Secret,
)
from sprawlguard.report.terminal import TerminalFormatter


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _result() -> ScanResult:
    loc = Location("file", "[bold]x.py", path="[bold]x.py")
    exp = Exposure("fp1", "acme.key", loc, line=100, column=7, confidence=Confidence.HIGH)
    other = Exposure("fp1", "acme.key", Location("file", "y.py", path="y.py"), line=3, column=1,
                     confidence=Confidence.HIGH)
    secret = Secret(fingerprint="fp1", rule_id="acme.key", rule_name="Acme key", issuer="acme",
                    nhi_kind="api_key", preview="acme_ab…yz", confidence=Confidence.HIGH,
                    exposures=(exp, other), risk=7, value="acme_RAWVALUE")
    err = ItemError(Location("file", "broken.zip"), "not a zip archive")
    return ScanResult([secret], ScanStats(files=2, bytes=2_000_000), errors=[err])


def test_piped_output_is_plain_aligned_columns() -> None:
    out = io.StringIO()
    TerminalFormatter().render(_result(), out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "1 secret(s) found"
    header, row = lines[1], lines[2]
    assert header.split() == ["risk", "rule", "secret", "conf", "new", "status", "where"]
    assert row.split()[:6] == ["7", "acme.key", "acme_ab…yz", "high", "yes", "open"]
    assert row.index("acme.key") == header.index("rule")  # columns line up under their header
    assert "[bold]x.py:100:7  (+1 more)" in row  # no markup, no emoji
    assert "scanned 2 item(s), 2.0 MB; 1 secret(s)" in lines[3]
    assert lines[4] == "error broken.zip: not a zip archive"
    assert "RAWVALUE" not in out.getvalue()


def test_terminal_output_is_a_rich_table_printed_verbatim() -> None:
    out = _Tty()
    TerminalFormatter().render(_result(), out)
    text = out.getvalue()
    assert "┃" in text or "│" in text  # a drawn table, not the plain text
    assert "[bold]x.py:100:7" in text and "\N{HUNDRED POINTS SYMBOL}" not in text
    assert "RAWVALUE" not in text


def test_show_secrets_prints_the_value_in_both_modes() -> None:
    for out in (io.StringIO(), _Tty()):
        TerminalFormatter(show_secrets=True).render(_result(), out)
        assert "acme_RAWVALUE" in out.getvalue()
