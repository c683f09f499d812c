"""HTML report: one self-contained page (inline CSS, no scripts, no external requests).

Secrets are ordered by risk, each with its sprawl map (every exposure) and remediation. Every value
that comes from scanned text or metadata is passed through `html.escape`; raw secret values appear
only with --show-secrets.
"""

from __future__ import annotations

import html
from typing import TextIO

from sprawlguard import __version__
from sprawlguard.govern.owasp import name as owasp_name
from sprawlguard.model import ScanResult, Secret

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1a1a1a;max-width:72rem}
h1{font-size:1.5rem} h2{font-size:1.15rem;margin:0 0 .4rem}
section.secret{border:1px solid #ccc;border-radius:6px;padding:1rem;margin:1rem 0}
.risk{display:inline-block;min-width:2.5rem;text-align:center;border-radius:4px;color:#fff;
 background:#777;padding:0 .4rem;margin-right:.5rem}
.risk.high{background:#b00020}.risk.medium{background:#c66a00}.risk.low{background:#4a7d2a}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #e5e5e5;text-align:left;padding:.25rem .5rem;vertical-align:top}
code{font-family:ui-monospace,monospace;word-break:break-all}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}
dt{font-weight:600}
.muted{color:#666}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _band(risk: int) -> str:
    return "high" if risk >= 70 else "medium" if risk >= 40 else "low"


class HtmlFormatter:
    """A single HTML file a security lead can send around; readable offline."""

    name = "html"

    def __init__(self, show_secrets: bool = False) -> None:
        self.show_secrets = show_secrets
        self.origin: str | None = None  # set to the inventory's path when it, not a scan, is reported

    def _summary(self, result: ScanResult) -> str:
        if self.origin is not None:
            places = sum(len(s.exposures) for s in result.secrets)
            return f"from the inventory <code>{_e(self.origin)}</code>: {places} place(s)."
        st = result.stats
        return (f"scanned {st.files} item(s), {st.bytes} bytes; {len(result.errors)} error(s)"
                f"{'; scan interrupted, results are partial' if result.interrupted else ''}.")

    def render(self, result: ScanResult, out: TextIO) -> None:
        out.write("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                  "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                  "style-src 'unsafe-inline'\">"
                  f"<title>sprawlguard report: {len(result.secrets)} secret(s)</title>"
                  f"<style>{_CSS}</style></head><body>\n")
        out.write(f"<h1>sprawlguard report: {len(result.secrets)} secret(s)</h1>\n"
                  f"<p class=\"muted\">sprawlguard {_e(__version__)}; {self._summary(result)}</p>\n")
        for s in result.secrets:
            out.write(self._secret(s))
        if result.errors:
            out.write("<h2>Errors</h2><ul>")
            for err in result.errors:
                out.write(f"<li><code>{_e(err.location.uri)}</code>: {_e(err.reason)}</li>")
            out.write("</ul>\n")
        out.write("</body></html>\n")

    def _secret(self, s: Secret) -> str:
        shown = s.value if self.show_secrets and s.value else s.preview
        verdict = (f"{s.verdict.status.value}: {s.verdict.reason}" if s.verdict else "not checked")
        facts = [
            ("fingerprint", f"<code>{_e(s.fingerprint)}</code>"),
            ("rule", f"{_e(s.rule_name)} (<code>{_e(s.rule_id)}</code>)"),
            ("issuer / kind", f"{_e(s.issuer)} / {_e(s.nhi_kind)}"),
            ("confidence", _e(s.confidence.value)),
            ("status", _e(s.status.replace("_", " ")) + ("" if s.new or self.origin else " (known)")),
            ("liveness", _e(verdict)),
            ("first / last seen", f"{_e(s.first_seen or 'unknown')} / {_e(s.last_seen or 'unknown')}"),
            ("OWASP NHI", _e(", ".join(owasp_name(i) for i in s.owasp_nhi))),
        ]
        if s.owner_hints:
            facts.append(("owner hints", _e("; ".join(s.owner_hints))))
        rows = "".join(
            f"<tr><td>{_e(e.location.source)}</td><td><code>{_e(e.location.path or e.location.uri)}</code></td>"
            f"<td>{e.line}:{e.column}</td><td>{_e(', '.join(e.decoders))}</td>"
            f"<td>{_e(e.location.author)}</td><td>{_e(e.first_seen or e.location.when)}</td>"
            f"<td>{self._link(e.location.permalink)}</td></tr>"
            for e in sorted(s.exposures, key=lambda e: (e.location.uri, e.line, e.column))
        )
        rem = "".join(f"<dt>{_e(k.replace('_', ' '))}</dt><dd>{self._remedy(k, v)}</dd>"
                      for k, v in s.remediation.items())
        dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
        return (
            f"<section class=\"secret\" id=\"s-{_e(s.fingerprint[:16])}\">"
            f"<h2><span class=\"risk {_band(s.risk)}\">{s.risk}</span><code>{_e(shown)}</code></h2>"
            f"<dl>{dl}</dl>"
            f"<h3>Exposures ({len(s.exposures)})</h3><table><thead><tr><th>source</th><th>where</th>"
            f"<th>line:col</th><th>decoded from</th><th>author</th><th>seen</th><th>link</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
            f"<h3>Remediation</h3><dl>{rem}</dl></section>\n"
        )

    @staticmethod
    def _link(url: str | None) -> str:
        if not url or not url.lower().startswith(("https://", "http://")):
            return _e(url)
        return f"<a href=\"{_e(url)}\" rel=\"noopener noreferrer\">open</a>"

    def _remedy(self, key: str, value: str) -> str:
        return self._link(value) if key == "docs" else _e(value)
