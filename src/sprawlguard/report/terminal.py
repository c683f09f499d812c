"""Terminal report: one row per secret (redacted), with where it was seen and how many places."""

from __future__ import annotations

from typing import TextIO

from sprawlguard.model import ScanResult, Secret


def _where(secret: Secret) -> str:
    first = min(secret.exposures, key=lambda e: (e.location.uri, e.line))
    loc = first.location
    place = f"{loc.path or loc.uri}:{first.line}:{first.column}"
    commit = loc.details.get("commit")
    if commit:
        place += f" @{commit[:10]}"
    more = len(secret.exposures) - 1
    return place + (f"  (+{more} more)" if more else "")


class TerminalFormatter:
    """A rich table on a terminal; plain aligned text when piped."""

    name = "terminal"

    def __init__(self, show_secrets: bool = False) -> None:
        self.show_secrets = show_secrets

    def render(self, result: ScanResult, out: TextIO) -> None:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        # markup and emoji off: paths, authors and reasons come from scanned data; `[red]` in a
        # file name or `:100:` in `file.py:100:81` must print as they are
        console = Console(file=out, highlight=False, soft_wrap=False, markup=False, emoji=False,
                          width=None if out.isatty() else 200)
        if result.secrets:
            table = Table(title=f"{len(result.secrets)} secret(s) found", title_justify="left")
            for col in ("risk", "rule", "secret", "conf", "new", "status", "where"):
                table.add_column(col, overflow="fold")
            for s in result.secrets:
                shown = s.value if self.show_secrets and s.value else s.preview
                table.add_row(str(s.risk), s.rule_id, shown, s.confidence.value,
                              "yes" if s.new else "no", s.status.replace("_", "-"), _where(s))
            console.print(table)
        st = result.stats
        console.print(
            f"scanned {st.files} item(s), {st.bytes / 1e6:.1f} MB; {len(result.secrets)} secret(s); "
            f"skipped {st.skipped_binary} binary, {st.skipped_too_large} too large; "
            f"{len(result.errors)} error(s)"
        )
        for e in result.errors[:20]:
            console.print(Text.assemble(("error", "red"), f" {e.location.uri}: {e.reason}"))
