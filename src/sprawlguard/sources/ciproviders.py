"""CI providers: GitHub Actions run logs, GitLab CI job traces, Jenkins build consoles (with `requests`).

Each provider lists its items (workflow runs, jobs, builds; each with an increasing numeric id),
scans the logs of the finished ones in ascending id order, and keeps a checkpoint::

    {"last_id": N, "retry": [ids]}

meaning every item with an id up to N is done except those in `retry` (unfinished when seen, or
failed), which the next run fetches again. A second run therefore scans only new items, and an
interrupted run resumes after the last item whose chunks were all consumed.

Tokens go only to the configured API host; GitHub's log redirect (a short-lived signed URL on
another host) is followed without them. Error messages name the provider, the request path and
the HTTP status, never a header, a token or a signed query string.
"""

from __future__ import annotations

import email.utils
import io
import logging
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests

from sprawlguard.errors import SourceError
from sprawlguard.model import Chunk, ItemError, Location, Match
from sprawlguard.sources.archive import Limits
from sprawlguard.sources.base import Checkpoint
from sprawlguard.sources.cilogs import (
    DEFAULT_MAX_LOG_BYTES,
    ZipEntry,
    github_zip_chunks,
    log_chunks,
)

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0
MAX_RETRIES = 4
MAX_WAIT_S = 120.0  # a longer Retry-After stops the scan (the checkpoint keeps the position)
PAGE_SIZE = 100
DOWNLOAD_BLOCK = 1 << 16


class HttpError(SourceError):
    """An HTTP request failed; `status` is 0 for a connection failure."""

    def __init__(self, message: str, status: int = 0, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


def _retry_after(resp: requests.Response, attempt: int) -> float:
    value = resp.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    if value:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    reset = resp.headers.get("x-ratelimit-reset", "")
    if resp.headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
        return max(0.0, int(reset) - time.time())
    return float(2**attempt)


_REDIRECTS = (301, 302, 303, 307, 308)


class Http:
    """A requests session for one provider's API host.

    Retries 429/503 (and GitHub's 403 rate limits) after Retry-After; turns failures into HttpError
    with a message that holds no credentials. Credentials go to `base_url`'s host only: redirects
    are followed by hand, and to any other host (a signed log URL) without them.
    """

    def __init__(self, provider: str, base_url: str, headers: dict[str, str] | None = None,
                 auth: tuple[str, str] | None = None, token_hint: str = "",
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.provider = provider
        self.netloc = urlsplit(base_url).netloc
        self.token_hint = token_hint
        self.sleep = sleep
        self.session = requests.Session()
        self.session.headers.update(headers or {})
        self.session.auth = auth
        self.plain = requests.Session()  # for other hosts: no headers, and no ~/.netrc either
        self.plain.auth = lambda r: r

    def get(self, url: str, params: dict[str, Any] | None = None, *, stream: bool = False) -> requests.Response:
        resp = self._get(url, params, stream)
        for _ in range(5):
            if resp.status_code not in _REDIRECTS:
                return resp
            target = urljoin(url, resp.headers.get("Location", ""))
            resp.close()
            if not target.startswith(("https://", "http://")):
                break
            url = target
            resp = self._get(url, None, stream)
        raise HttpError(f"{self.provider}: GET {urlsplit(url).path}: bad or too many redirects")

    def _get(self, url: str, params: dict[str, Any] | None, stream: bool) -> requests.Response:
        where = f"{self.provider}: GET {urlsplit(url).path}"
        http = self.session if urlsplit(url).netloc == self.netloc else self.plain
        for attempt in range(MAX_RETRIES + 1):
            try:
                resp = http.get(url, params=params, stream=stream, timeout=TIMEOUT_S, allow_redirects=False)
            except requests.RequestException as exc:
                if attempt < MAX_RETRIES:
                    self.sleep(float(2**attempt))
                    continue
                raise HttpError(f"{where}: connection failed ({type(exc).__name__})") from None
            limited = resp.status_code in (429, 503) or (
                resp.status_code == 403 and ("Retry-After" in resp.headers
                                             or resp.headers.get("x-ratelimit-remaining") == "0"))
            if limited:
                wait = _retry_after(resp, attempt)
                resp.close()
                if attempt < MAX_RETRIES and wait <= MAX_WAIT_S:
                    log.info("%s: rate limited (HTTP %s), waiting %.0fs", where, resp.status_code, wait)
                    self.sleep(wait)
                    continue
                raise HttpError(f"{where}: rate limited (HTTP {resp.status_code}); try again later",
                                resp.status_code)
            if resp.status_code >= 400:
                resp.close()
                hint = self.token_hint if resp.status_code in (401, 403) and http is self.session else None
                raise HttpError(f"{where}: HTTP {resp.status_code}{_REASONS.get(resp.status_code, '')}",
                                resp.status_code, hint)
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    def json(self, url: str, params: dict[str, Any] | None = None) -> tuple[Any, requests.Response]:
        if urlsplit(url).netloc != self.netloc:  # e.g. a `Link: next` pointing elsewhere
            raise HttpError(f"{self.provider}: refusing to send credentials to {urlsplit(url).netloc}")
        resp = self.get(url, params)
        try:
            return resp.json(), resp
        except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
            raise HttpError(f"{self.provider}: GET {urlsplit(url).path}: the answer is not JSON "
                            f"(Content-Type {resp.headers.get('Content-Type', '?')})") from None


class _TooLarge(Exception):
    pass


_REASONS = {401: " (authentication failed: missing, wrong or expired token)",
            403: " (forbidden: the token lacks a permission)", 404: " (not found, or not visible to this token)",
            410: " (gone: logs expired or deleted)"}


class _Body(io.RawIOBase):
    """A streamed response body as a raw binary stream, cut off after `limit` bytes."""

    def __init__(self, resp: requests.Response, limit: int, what: str) -> None:
        self._it = resp.iter_content(DOWNLOAD_BLOCK)
        self._pending = b""
        self._left = limit
        self._what = what
        self.truncated = False

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        if not self._pending:
            try:
                self._pending = next(self._it, b"")
            except requests.RequestException as exc:
                raise HttpError(f"{self._what}: download failed ({type(exc).__name__})") from None
        if self._pending and self._left <= 0:
            self.truncated = True
            return 0
        n = min(len(buf), len(self._pending), self._left)
        buf[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self._left -= n
        return n


def _plain_log(http: Any, url: str, loc: Location, max_bytes: int, what: str) -> Iterator[Chunk | ItemError]:
    """A plain-text log streamed from `url` (GitLab traces, Jenkins consoles), at most `max_bytes`."""
    resp = http.get(url, stream=True)
    with resp:
        body, stream = _body(resp, max_bytes, what)
        yield from log_chunks(stream, loc)
        if body.truncated:
            yield ItemError(loc, f"log larger than {max_bytes} bytes; the rest was not scanned", kind="too_large")


def _body(resp: requests.Response, limit: int, what: str) -> tuple[_Body, io.BufferedReader]:
    raw = _Body(resp, limit, what)
    return raw, io.BufferedReader(raw, DOWNLOAD_BLOCK)


def _parse_since(since: str | None) -> datetime | None:
    if not since:
        return None
    try:
        when = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError:
        raise SourceError(f"--since {since!r}: not an ISO date such as 2025-01-31") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _iso(value: str | None) -> datetime | None:
    return _parse_since(value) if value else None


@dataclass
class Item:
    """One workflow run, job or build: an increasing id, whether it finished, provider data."""

    id: int
    finished: bool
    data: dict[str, Any]
    has_log: bool = True


class _RemoteSource:
    """The incremental loop shared by the providers; subclasses list, get and read items."""

    name = "ci-logs"
    provider = ""
    checkpoint_key: str | None = None
    max_log_bytes: int = DEFAULT_MAX_LOG_BYTES

    def __init__(self) -> None:
        self._last = 0
        self._retry: set[int] = set()

    # subclasses --------------------------------------------------------------------------------
    def list_after(self, last_id: int) -> Iterator[Item]:
        raise NotImplementedError

    def get_item(self, item_id: int) -> Item:
        raise NotImplementedError

    def read(self, item: Item) -> Iterator[Chunk | ItemError]:
        raise NotImplementedError

    def item_location(self, item: Item) -> Location:
        raise NotImplementedError

    # Source ------------------------------------------------------------------------------------
    def estimate(self) -> int | None:
        return None

    def checkpoint(self) -> Checkpoint:
        return {"last_id": self._last, "retry": sorted(self._retry)}

    def chunks(self, resume: Checkpoint | None = None) -> Iterator[Chunk | ItemError]:
        state = resume or {}
        self._last = int(state.get("last_id") or 0)
        self._retry = {int(i) for i in state.get("retry") or ()}
        listed = {i.id: i for i in self.list_after(self._last) if i.id > self._last}
        todo: list[Item | int] = [i for i in sorted(self._retry) if i not in listed]
        todo += [listed[i] for i in sorted(listed)]
        for entry in todo:
            try:
                item = entry if isinstance(entry, Item) else self.get_item(entry)
            except HttpError as exc:
                yield ItemError(Location(source="ci", uri=f"{self.provider}:{entry}"), str(exc))
                if exc.status in (401, 403, 429):
                    return
                continue
            failed = False
            stop = False
            if item.finished and item.has_log:
                try:
                    for piece in self.read(item):
                        if isinstance(piece, ItemError) and piece.kind == "error":
                            failed = True
                        yield piece
                except HttpError as exc:
                    failed = True
                    stop = exc.status in (401, 403, 429)
                    yield ItemError(self.item_location(item), str(exc))
            # reached only once every chunk of the item was consumed
            if item.finished and not failed:
                self._retry.discard(item.id)
            else:
                self._retry.add(item.id)
            self._last = max(self._last, item.id)
            if stop:
                return

    def resolve(self, matches: Sequence[Match]) -> list[Match]:
        """Line-precise permalinks, once the lines are known."""
        return [replace(m, location=replace(m.location, permalink=self.line_link(m.location, m.line)))
                for m in matches]

    def line_link(self, loc: Location, line: int) -> str | None:
        return loc.permalink


# --- GitHub Actions -----------------------------------------------------------------------------


_LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


class GitHubActionsSource(_RemoteSource):
    """Workflow runs of a repository: each run's log ZIP (per step, else per job)."""

    provider = "github"

    def __init__(self, repo: str, token: str | None = None, api_url: str = "https://api.github.com",
                 since: str | None = None, max_log_bytes: int = DEFAULT_MAX_LOG_BYTES,
                 limits: Limits | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__()
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
            raise SourceError(f"--github {repo!r}: expected OWNER/REPO")
        self.repo = repo
        self.api = api_url.rstrip("/")
        self.since = _parse_since(since)
        self.max_log_bytes = max_log_bytes
        self.limits = limits or Limits()
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = Http("github", self.api, headers, token_hint="set GITHUB_TOKEN (or --github-token) to a "
                         "token with Actions: read on the repository", sleep=sleep)
        self.checkpoint_key = f"github-actions:{urlsplit(self.api).netloc}/{repo}"

    def _run_item(self, run: dict[str, Any]) -> Item:
        return Item(int(run["id"]), run.get("status") == "completed", run)

    def list_after(self, last_id: int) -> Iterator[Item]:
        url: str | None = f"{self.api}/repos/{self.repo}/actions/runs"
        params: dict[str, Any] | None = {"per_page": PAGE_SIZE}
        if self.since is not None and params is not None:
            params["created"] = f">={self.since.date().isoformat()}"
        pages: set[str] = set()
        while url:
            _once(pages, url, f"github: GET {urlsplit(url).path}")
            body, resp = self.http.json(url, params)
            runs = body.get("workflow_runs") if isinstance(body, dict) else None
            if not isinstance(runs, list):
                raise HttpError(f"github: GET {urlsplit(url).path}: unexpected answer (no workflow_runs)")
            for run in runs:
                when = _iso(run.get("created_at"))
                if self.since is not None and when is not None and when < self.since:
                    continue
                yield self._run_item(run)
            if not runs or min(int(r["id"]) for r in runs) <= last_id:
                return
            m = _LINK_NEXT.search(resp.headers.get("Link", ""))
            url, params = (m.group(1), None) if m else (None, None)

    def get_item(self, item_id: int) -> Item:
        body, _ = self.http.json(f"{self.api}/repos/{self.repo}/actions/runs/{item_id}")
        return self._run_item(body)

    def _jobs(self, run_id: int) -> dict[str, dict[str, Any]]:
        jobs: dict[str, dict[str, Any]] = {}
        url: str | None = f"{self.api}/repos/{self.repo}/actions/runs/{run_id}/jobs"
        params: dict[str, Any] | None = {"per_page": PAGE_SIZE, "filter": "latest"}
        pages: set[str] = set()
        while url:
            _once(pages, url, f"github: GET {urlsplit(url).path}")
            body, resp = self.http.json(url, params)
            for job in body.get("jobs") or []:
                jobs[_job_key(job.get("name", ""))] = job
            m = _LINK_NEXT.search(resp.headers.get("Link", ""))
            url, params = (m.group(1), None) if m else (None, None)
        return jobs

    def item_location(self, item: Item) -> Location:
        run = item.data
        return Location(source="ci", uri=f"github:{self.repo}/actions/runs/{item.id}",
                        path=f"{self.repo}/actions/runs/{item.id}", permalink=run.get("html_url"),
                        details={"provider": "github", "project": self.repo, "run_id": str(item.id)})

    def read(self, item: Item) -> Iterator[Chunk | ItemError]:
        run = item.data
        jobs = self._jobs(item.id)
        base = {"provider": "github", "project": self.repo, "run_id": str(item.id),
                "run_attempt": str(run.get("run_attempt") or 1), "workflow": str(run.get("name") or ""),
                "branch": str(run.get("head_branch") or ""), "head_sha": str(run.get("head_sha") or "")}
        actor = (run.get("triggering_actor") or run.get("actor") or {}).get("login")

        def locate(e: ZipEntry) -> Location:
            job = jobs.get(_job_key(e.job or "")) or {}
            details = {**base, **{k: v for k, v in (("job", e.job), ("job_id", str(job.get("id") or "")),
                                                    ("step", e.step), ("step_number", e.step_number)) if v}}
            link = job.get("html_url") or run.get("html_url")
            return Location(source="ci", uri=f"github:{self.repo}/actions/runs/{item.id}/{e.name}",
                            path=f"{self.repo}/actions/runs/{item.id}/{e.name}", permalink=link,
                            author=actor, when=run.get("created_at"), details=details)

        with tempfile.TemporaryFile() as tmp:
            try:
                self._download_zip(item.id, tmp)
            except _TooLarge as exc:
                yield ItemError(self.item_location(item), str(exc), kind="too_large")
                return
            yield from github_zip_chunks(tmp, f"github run {item.id} logs", locate, self.limits)

    def _download_zip(self, run_id: int, tmp: Any) -> None:
        """Follow the logs redirect promptly (without the token); once more if the signed URL expired."""
        path = f"{self.api}/repos/{self.repo}/actions/runs/{run_id}/logs"
        for attempt in range(2):
            try:
                resp = self.http.get(path, stream=True)
            except HttpError as exc:
                if exc.status in (403, 410) and attempt == 0:
                    continue
                raise
            with resp:
                size = 0
                tmp.seek(0)
                tmp.truncate()
                for block in resp.iter_content(DOWNLOAD_BLOCK):
                    size += len(block)
                    if size > self.max_log_bytes:
                        raise _TooLarge(f"github: run {run_id} logs: larger than {self.max_log_bytes} bytes")
                    tmp.write(block)
            tmp.seek(0)
            return

    def line_link(self, loc: Location, line: int) -> str | None:
        step = loc.details.get("step_number")
        if loc.permalink and step and "/job/" in loc.permalink:
            return f"{loc.permalink}#step:{step}:{line}"
        return loc.permalink


def _once(seen: set[str], page: str, where: str) -> None:
    """Refuse to request a page twice in one listing: a server repeating its `next` would loop forever."""
    if page in seen:
        raise HttpError(f"{where}: the server sent the same next page again; listing stopped")
    seen.add(page)


def _job_key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


# --- GitLab CI ----------------------------------------------------------------------------------

_GITLAB_RUNNING = {"created", "pending", "running", "waiting_for_resource", "preparing", "scheduled", "manual"}


class GitLabSource(_RemoteSource):
    """Jobs of a GitLab project: each finished job's trace."""

    provider = "gitlab"

    def __init__(self, project: str, url: str = "https://gitlab.com", token: str | None = None,
                 since: str | None = None, max_log_bytes: int = DEFAULT_MAX_LOG_BYTES,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__()
        self.project = project
        self.base = url.rstrip("/")
        self.api = f"{self.base}/api/v4/projects/{quote(project, safe='')}"
        self.since = _parse_since(since)
        self.max_log_bytes = max_log_bytes
        headers = {"PRIVATE-TOKEN": token} if token else {}
        self.http = Http("gitlab", self.base, headers, token_hint="set GITLAB_TOKEN (or --gitlab-token) to a token with "
                         "read_api on the project", sleep=sleep)
        self.checkpoint_key = f"gitlab-ci:{urlsplit(self.base).netloc}/{project}"

    def _job_item(self, job: dict[str, Any]) -> Item:
        status = job.get("status", "")
        return Item(int(job["id"]), status not in _GITLAB_RUNNING, job, has_log=status != "skipped")

    def list_after(self, last_id: int) -> Iterator[Item]:
        page: str | None = "1"
        pages: set[str] = set()
        while page:
            _once(pages, page, f"gitlab: GET {urlsplit(self.api).path}/jobs")
            body, resp = self.http.json(f"{self.api}/jobs", {"per_page": PAGE_SIZE, "page": page})
            if not isinstance(body, list):
                raise HttpError(f"gitlab: GET {urlsplit(self.api).path}/jobs: unexpected answer (not a list)")
            for job in body:
                when = _iso(job.get("created_at"))
                if self.since is not None and when is not None and when < self.since:
                    return  # newest first: everything after is older
                yield self._job_item(job)
            if not body or min(int(j["id"]) for j in body) <= last_id:
                return
            page = resp.headers.get("x-next-page") or None

    def get_item(self, item_id: int) -> Item:
        body, _ = self.http.json(f"{self.api}/jobs/{item_id}")
        return self._job_item(body)

    def item_location(self, item: Item) -> Location:
        job = item.data
        pipeline = job.get("pipeline") or {}
        details = {k: str(v) for k, v in (
            ("provider", "gitlab"), ("project", self.project), ("pipeline_id", pipeline.get("id")),
            ("job_id", item.id), ("job", job.get("name")), ("stage", job.get("stage")),
            ("branch", job.get("ref")), ("head_sha", pipeline.get("sha") or (job.get("commit") or {}).get("id")),
        ) if v}
        return Location(source="ci", uri=f"gitlab:{self.project}/-/jobs/{item.id}",
                        path=f"{self.project}/-/jobs/{item.id}", permalink=job.get("web_url"),
                        author=(job.get("user") or {}).get("username"), when=job.get("created_at"),
                        details=details)

    def read(self, item: Item) -> Iterator[Chunk | ItemError]:
        yield from _plain_log(self.http, f"{self.api}/jobs/{item.id}/trace", self.item_location(item),
                              self.max_log_bytes, f"gitlab job {item.id} trace")

    def line_link(self, loc: Location, line: int) -> str | None:
        return f"{loc.permalink}#L{line}" if loc.permalink else None


# --- Jenkins ------------------------------------------------------------------------------------


class JenkinsSource(_RemoteSource):
    """Builds of a Jenkins job (folders as ``a/b``): each finished build's consoleText."""

    provider = "jenkins"

    def __init__(self, url: str, job: str, user: str | None = None, token: str | None = None,
                 since: str | None = None, max_log_bytes: int = DEFAULT_MAX_LOG_BYTES,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__()
        self.job = job.strip("/")
        if not self.job:
            raise SourceError("--job: a job name is required with --jenkins")
        self.base = url.rstrip("/")
        self.job_url = self.base + "".join(f"/job/{quote(p, safe='')}" for p in self.job.split("/"))
        self.since = _parse_since(since)
        self.max_log_bytes = max_log_bytes
        auth = (user or "", token) if token else None
        self.http = Http("jenkins", self.base, {}, auth=auth, token_hint="set JENKINS_USER and JENKINS_TOKEN (an API "
                         "token of a user who can read the job)", sleep=sleep)
        split = urlsplit(self.base)
        self.checkpoint_key = f"jenkins:{split.netloc}{split.path}/{self.job}"

    @staticmethod
    def _build_item(build: dict[str, Any]) -> Item:
        return Item(int(build["number"]), not build.get("building"), build)

    def list_after(self, last_id: int) -> Iterator[Item]:
        tree = "allBuilds[number,url,timestamp,result,building,displayName]"
        body, _ = self.http.json(f"{self.job_url}/api/json", {"tree": tree})
        builds = body.get("allBuilds") if isinstance(body, dict) else None
        if not isinstance(builds, list):
            raise HttpError(f"jenkins: GET {urlsplit(self.job_url).path}/api/json: unexpected answer (no builds)")
        for build in builds:
            stamp = build.get("timestamp")
            if self.since is not None and isinstance(stamp, int | float) and \
                    datetime.fromtimestamp(stamp / 1000, timezone.utc) < self.since:
                continue
            yield self._build_item(build)

    def get_item(self, item_id: int) -> Item:
        body, _ = self.http.json(f"{self.job_url}/{item_id}/api/json",
                                 {"tree": "number,url,timestamp,result,building,displayName"})
        return self._build_item(body)

    def item_location(self, item: Item) -> Location:
        build = item.data
        stamp = build.get("timestamp")
        when = datetime.fromtimestamp(stamp / 1000, timezone.utc).isoformat() if isinstance(stamp, int | float) else None
        details = {"provider": "jenkins", "project": self.job, "build": str(item.id)}
        if build.get("result"):
            details["result"] = str(build["result"])
        return Location(source="ci", uri=f"jenkins:{self.job}/{item.id}", path=f"{self.job}/{item.id}",
                        permalink=f"{self.job_url}/{item.id}/console", when=when, details=details)

    def read(self, item: Item) -> Iterator[Chunk | ItemError]:
        yield from _plain_log(self.http, f"{self.job_url}/{item.id}/consoleText", self.item_location(item),
                              self.max_log_bytes, f"jenkins build {item.id} console")
