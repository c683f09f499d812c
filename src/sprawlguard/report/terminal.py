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
        rows = [
            (str(s.risk), s.rule_id, s.value if self.show_secrets and s.value else s.preview,
             s.confidence.value, "yes" if s.new else "no", s.status.replace("_", "-"), _where(s))
            for s in result.secrets
        ]
        st = result.stats
        summary = (
            f"scanned {st.files} item(s), {st.bytes / 1e6:.1f} MB; {len(result.secrets)} secret(s); "
            f"skipped {st.skipped_binary} binary, {st.skipped_too_large} too large; "
            f"{len(result.errors)} error(s)"
        )
        errors = [f"{e.location.uri}: {e.reason}" for e in result.errors[:20]]
        if out.isatty():
            _rich(rows, summary, errors, out)
        else:  # piped (CI logs, pre-commit): plain text, and no rich import on the hook's path
            _plain(rows, summary, errors, out)


_COLUMNS = ("risk", "rule", "secret", "conf", "new", "status", "where")


def _plain(rows: list[tuple[str, ...]], summary: str, errors: list[str], out: TextIO) -> None:
    """Aligned columns, one line per secret; scanned text is printed as it is."""
    if rows:
        widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(_COLUMNS)]
        out.write(f"{len(rows)} secret(s) found\n")
        for r in (_COLUMNS, *rows):
            out.write("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")
    out.write(summary + "\n")
    for e in errors:
        out.write(f"error {e}\n")


def _rich(rows: list[tuple[str, ...]], summary: str, errors: list[str], out: TextIO) -> None:
    """A rich table sized to the terminal."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # markup and emoji off: paths, authors and reasons come from scanned data; `[red]` in a
    # file name or `:100:` in `file.py:100:81` must print as they are
    console = Console(file=out, highlight=False, soft_wrap=False, markup=False, emoji=False)
    if rows:
        table = Table(title=f"{len(rows)} secret(s) found", title_justify="left")
        for col in _COLUMNS:
            table.add_column(col, overflow="fold")
        for r in rows:
            table.add_row(*r)
        console.print(table)
    console.print(summary)
    for e in errors:
        console.print(Text.assemble(("error", "red"), f" {e}"))
