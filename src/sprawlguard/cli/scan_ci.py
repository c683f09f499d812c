"""`sprawlguard scan ci-logs`: log files, directories, ZIPs and stdin, or GitHub/GitLab/Jenkins logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sprawlguard.cli.options import passes_kwargs, run, scan_options
from sprawlguard.config import Settings
from sprawlguard.sources import get_source
from sprawlguard.sources.base import Source

DEFAULT_MAX_LOG_SIZE = "2GiB"


@click.command("ci-logs")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--github", "github", metavar="OWNER/REPO", help="Scan the workflow run logs of a GitHub repository.")
@click.option("--github-api-url", default="https://api.github.com", show_default=True,
              help="GitHub REST API base URL (GitHub Enterprise Server: https://HOST/api/v3).")
@click.option("--github-token", envvar="GITHUB_TOKEN", show_envvar=True, metavar="TOKEN",
              help="Token with Actions: read.")
@click.option("--gitlab", "gitlab", metavar="PROJECT", help="Scan the job traces of a GitLab project (id or group/name).")
@click.option("--url", "gitlab_url", default="https://gitlab.com", show_default=True, help="GitLab base URL.")
@click.option("--gitlab-token", envvar="GITLAB_TOKEN", show_envvar=True, metavar="TOKEN",
              help="Token with read_api.")
@click.option("--jenkins", "jenkins", metavar="URL", help="Jenkins base URL; scan the builds of --job.")
@click.option("--job", "jenkins_job", metavar="NAME", help="Jenkins job (folders as a/b).")
@click.option("--jenkins-user", envvar="JENKINS_USER", show_envvar=True, metavar="USER",
              help="Jenkins user.")
@click.option("--jenkins-token", envvar="JENKINS_TOKEN", show_envvar=True, metavar="TOKEN",
              help="Jenkins API token.")
@click.option("--since", metavar="DATE", help="Only runs/jobs/builds created on or after DATE (ISO 8601).")
@click.option("--max-log-size", default=None, help=f"Skip (or stop reading) larger logs and archives [default: {DEFAULT_MAX_LOG_SIZE}].")
@click.option("--label", default="<stdin>", help="The path to report for standard input (`-`).")
@scan_options
@passes_kwargs
def scan_ci_logs(paths: tuple[Path, ...], github: str | None, github_api_url: str, github_token: str | None,
                 gitlab: str | None, gitlab_url: str, gitlab_token: str | None, jenkins: str | None,
                 jenkins_job: str | None, jenkins_user: str | None, jenkins_token: str | None,
                 since: str | None, max_log_size: str | None, label: str, **kw: Any) -> int:
    """Scan CI logs: files, directories, ZIP archives and `-` (stdin), or a CI provider's logs.

    Remote scans are incremental: the inventory keeps a checkpoint per provider and project, so
    the next run reads only new runs, jobs or builds.
    """
    from sprawlguard.cli.scan import parse_size

    chosen = [name for name, v in (("PATH", paths), ("--github", github), ("--gitlab", gitlab),
                                   ("--jenkins", jenkins)) if v]
    if len(chosen) != 1:
        raise click.UsageError("give log PATHs (or -), or exactly one of --github, --gitlab, --jenkins")
    if jenkins and not jenkins_job:
        raise click.UsageError("--jenkins needs --job NAME")
    if since and paths:
        raise click.UsageError("--since applies to --github, --gitlab and --jenkins only")
    max_bytes = parse_size(max_log_size or DEFAULT_MAX_LOG_SIZE)

    def factory(_settings: Settings) -> Source:
        if github:
            return get_source("ci-github")(  # type: ignore[no-any-return]
                repo=github, token=github_token, api_url=github_api_url, since=since, max_log_bytes=max_bytes)
        if gitlab:
            return get_source("ci-gitlab")(  # type: ignore[no-any-return]
                project=gitlab, url=gitlab_url, token=gitlab_token, since=since, max_log_bytes=max_bytes)
        if jenkins:
            return get_source("ci-jenkins")(  # type: ignore[no-any-return]
                url=jenkins, job=jenkins_job, user=jenkins_user, token=jenkins_token, since=since,
                max_log_bytes=max_bytes)
        if paths.count(Path("-")) > 1:
            raise click.UsageError("'-' (stdin) can be given once")
        return get_source("ci-logs")(paths=paths, label=label, max_file_bytes=max_bytes)  # type: ignore[no-any-return]

    return run(factory, kw)
