"""`sprawlguard scan jira` and `sprawlguard scan confluence` (imported only when one of them runs).

Credentials come from the environment, never from the command line (so they stay out of shell
history and process lists) and are never printed:

- Cloud: account email + API token: JIRA_EMAIL / JIRA_API_TOKEN, CONFLUENCE_EMAIL /
  CONFLUENCE_API_TOKEN, or for both ATLASSIAN_EMAIL / ATLASSIAN_API_TOKEN (`--email` may give the
  email, which is not a secret).
- Data Center: personal access token: JIRA_PAT, CONFLUENCE_PAT.
- `--token-env NAME` reads the token (API token on Cloud, PAT on Data Center) from NAME instead.
"""

from __future__ import annotations

import os
from typing import Any

import click

from sprawlguard.cli.options import passes_kwargs, run, scan_options
from sprawlguard.cli.scan import parse_size
from sprawlguard.config import Settings
from sprawlguard.errors import UsageError
from sprawlguard.sources import get_source
from sprawlguard.sources.base import Source


def credentials(product: str, cloud: bool | None, email: str | None, token_env: str | None) -> dict[str, Any]:
    """email/token/pat for the source, from the environment; a usage error names what to set."""
    env = os.environ
    p = product.upper()
    email = email or env.get(f"{p}_EMAIL") or env.get("ATLASSIAN_EMAIL")
    if token_env:
        value = env.get(token_env)
        if not value:
            raise UsageError(f"--token-env {token_env}: that environment variable is not set or empty")
        as_pat = cloud is False and not email or cloud is None and not email
        return {"email": email, "token": None if as_pat else value, "pat": value if as_pat else None}
    token = env.get(f"{p}_API_TOKEN") or env.get("ATLASSIAN_API_TOKEN")
    pat = env.get(f"{p}_PAT")
    if cloud is True and not (email and token):
        raise UsageError(f"{product} Cloud needs an account email and an API token",
                         hint=f"set {p}_EMAIL and {p}_API_TOKEN (or ATLASSIAN_EMAIL / ATLASSIAN_API_TOKEN)")
    if cloud is False and not pat and not (email and token):
        raise UsageError(f"{product} Data Center needs a personal access token", hint=f"set {p}_PAT")
    if not pat and not (email and token):
        raise UsageError(f"no {product} credentials in the environment",
                         hint=f"Cloud: set {p}_EMAIL and {p}_API_TOKEN; Data Center: set {p}_PAT")
    return {"email": email, "token": token, "pat": pat}


_COMMON = [
    click.option("--url", required=True, help="Site URL (Cloud: https://SITE.atlassian.net; DC: base URL "
                                              "with its context path)."),
    click.option("--cloud/--data-center", "cloud", default=None,
                 help="Deployment [default: Cloud for *.atlassian.net or email + API token, DC for a PAT]."),
    click.option("--email", help="Cloud account email [default: $<PRODUCT>_EMAIL or $ATLASSIAN_EMAIL]."),
    click.option("--token-env", metavar="NAME", help="Read the API token / PAT from environment variable NAME."),
    click.option("--max-attachment-size", default="10MB", show_default=True,
                 help="Skip larger attachments (they are counted)."),
    click.option("--no-attachments", is_flag=True, help="Do not download attachments."),
    click.option("--overlap-minutes", type=click.IntRange(1, 24 * 60), default=10, show_default=True,
                 help="Re-query this much before the last checkpoint (dates have minute resolution)."),
]


def _common(fn: Any) -> Any:
    for opt in reversed(_COMMON):
        fn = opt(fn)
    return fn


@click.command("jira")
@_common
@click.option("--jql", help="Only issues this JQL selects (ORDER BY is replaced).")
@click.option("--project", "projects", multiple=True, metavar="KEY", help="Only this project (repeatable).")
@scan_options
@passes_kwargs
def scan_jira(url: str, cloud: bool | None, email: str | None, token_env: str | None, max_attachment_size: str,
              no_attachments: bool, overlap_minutes: int, jql: str | None, projects: tuple[str, ...],
              **kw: Any) -> int:
    """Scan Jira issues: fields, comments, history, worklogs, text attachments (incremental)."""

    def factory(_settings: Settings) -> Source:
        return get_source("jira")(  # type: ignore[no-any-return]
            url=url, cloud=cloud, jql=jql, projects=projects, overlap_minutes=overlap_minutes,
            max_attachment_bytes=parse_size(max_attachment_size), attachments=not no_attachments,
            **credentials("jira", cloud, email, token_env))

    return run(factory, kw)


@click.command("confluence")
@_common
@click.option("--space", "spaces", multiple=True, metavar="KEY", help="Only this space (repeatable).")
@click.option("--cql", help="Only content this CQL selects (pages and blog posts).")
@click.option("--max-versions", type=click.IntRange(0, 10_000), default=100, show_default=True,
              help="Previous versions read per page (0: current versions only).")
@scan_options
@passes_kwargs
def scan_confluence(url: str, cloud: bool | None, email: str | None, token_env: str | None,
                    max_attachment_size: str, no_attachments: bool, overlap_minutes: int,
                    spaces: tuple[str, ...], cql: str | None, max_versions: int, **kw: Any) -> int:
    """Scan Confluence pages and blog posts: versions, comments, text attachments (incremental)."""

    def factory(_settings: Settings) -> Source:
        return get_source("confluence")(  # type: ignore[no-any-return]
            url=url, cloud=cloud, spaces=spaces, cql=cql, overlap_minutes=overlap_minutes,
            max_attachment_bytes=parse_size(max_attachment_size), attachments=not no_attachments,
            max_versions=max_versions, **credentials("confluence", cloud, email, token_env))

    return run(factory, kw)
