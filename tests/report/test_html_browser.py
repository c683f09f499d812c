"""The HTML report in a real headless browser (Debian's chromium): it renders, with no console message.

Chromium prints every console message (errors, CSP violations, failed loads) on stderr as
``...:CONSOLE:...`` with `--enable-logging=stderr`; a control page with a deliberate error proves the
check sees them. Skipped when no chromium is installed (`apt-get install chromium`).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tests.conftest import fake

RULES = str(Path(__file__).parent.parent / "data" / "rules")
BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)

pytestmark = pytest.mark.skipif(BROWSER is None, reason="no chromium on this machine (apt-get install chromium)")


def render(page: Path, png: Path) -> list[str]:
    """Load `page` headless, screenshot it to `png`; returns the console messages."""
    assert BROWSER is not None
    proc = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
         f"--user-data-dir={png.parent / 'chromium-profile'}", "--window-size=1280,1600",
         "--enable-logging=stderr", "--v=0", f"--screenshot={png}", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]


def png_size(png: Path) -> tuple[int, int]:
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_console_check_sees_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><p>x</p><script>missing()</script></body></html>")
    messages = render(bad, tmp_path / "bad.png")
    assert any("missing is not defined" in m for m in messages)


def test_report_renders_with_no_console_messages(tmp_path: Path, cli) -> None:
    key = fake("acme_{{gen:alnum:24}}", "browser")
    pat = fake("ghp_{{gen:alnum:30}}{{checksum:github}}", "browser")
    root = tmp_path / "tree"
    (root / "<img src=x onerror=alert(1)>").mkdir(parents=True)
    (root / "<img src=x onerror=alert(1)>" / "a.env").write_text(f"ACME={key}\n")
    (root / "ci.yaml").write_text(f"token: {pat}\nacme: {key}\n")
    db = tmp_path / "inv.sqlite3"
    page = tmp_path / "scan.html"
    assert cli("scan", "path", str(root), "--rules", RULES, "--no-builtin-rules", "--db", str(db),
               "-f", "html", "-o", str(page)).code == 1
    inventory_page = tmp_path / "inventory.html"
    assert cli("report", "--db", str(db), "-o", str(inventory_page)).code == 0
    for p in (page, inventory_page):
        png = p.with_suffix(".png")
        assert render(p, png) == []
        assert png_size(png) == (1280, 1600)
        assert png.stat().st_size > 20_000  # a page with content, not a blank screenshot
