"""Jira Cloud and Data Center: issues' text, all comments, history, worklogs and text attachments.

Built on atlassian-python-api (imported lazily): `JiraCloud` (REST v3, email + API token) or
`Jira` = `JiraServer` (REST v2, personal access token). Where the library has no paged call, the
library's generic `client.get()` is used on the documented path (same session, auth and retries);
each such place says so.

Discovery pages through ids only (`fields=updated`): Cloud `GET /rest/api/3/search/jql` with
`nextPageToken` (the old `/search` answers 410), DC `GET /rest/api/2/search` with `startAt`. Each
new or changed issue is then read with `GET /issue/{key}?fields=*all&expand=changelog`; embedded
comments, worklogs and changelog are capped (20 on Cloud), so the rest is paged from their own
endpoints. Incremental: `updated >= "<watermark - overlap>" ORDER BY updated ASC, key ASC`, with
the date in the user's time zone (from /myself).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import Any
from urllib.parse import quote

from sprawlguard.errors import SourceError
from sprawlguard.model import Chunk, ItemError, Location
from sprawlguard.sources.atlassian_common import (
    AtlassianSource,
    Gone,
    ItemFailed,
    Progress,
    Stop,
    auth_kwargs,
    blank_seen,
    call,
    client_options,
    configure,
    incremental,
    parse_time,
    person,
    query_time,
    read_attachment,
    same_origin,
    text_of,
)
from sprawlguard.sources.base import Checkpoint

log = logging.getLogger(__name__)

TEXT_FIELDS = ("summary", "description", "environment")
EPOCH_JQL = '"1970/01/01 00:00"'
_ORDER_BY = re.compile(r"\s+order\s+by\s+.*$", re.I | re.S)


@dataclass
class _Issue:
    """What every location of one issue shares."""

    key: str
    id: str
    browse: str
    reporter: str | None
    assignee: str | None


@dataclass
class JiraSource(AtlassianSource):
    """Scans a Jira site: issues of `projects` and/or `jql` (all issues if neither)."""

    jql: str | None = None
    projects: Sequence[str] = ()
    name: str = "jira"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._client: Any = None
        self._tz: Any = timezone.utc

    def chunks(self, resume: Checkpoint | None = None) -> Iterator[Chunk | ItemError]:
        self._progress = Progress.load(resume, self.scope, timedelta(minutes=self.overlap_minutes),
                                       ascending=True)
        site = Location("jira", self.url, path=self.url)
        try:
            self._connect()
            refs = ((issue_id, updated, updated, key) for issue_id, key, updated in self._search())
            yield from incremental(self._progress, refs, self._issue)
        except Stop as exc:
            yield ItemError(site, str(exc))
        except ItemFailed as exc:
            yield ItemError(site, str(exc))

    # --- connection and search ---------------------------------------------------------------

    def _connect(self) -> None:
        from atlassian import Jira, JiraCloud

        auth = auth_kwargs(bool(self.cloud), self.email, self.token, self.pat)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if self.cloud:
                self._client = configure(JiraCloud(self.url, api_version=3, **auth, **client_options()))
            else:
                self._client = configure(Jira(self.url, api_version=2, **auth, **client_options()))
        me_call = self._client.get_current_user if self.cloud else self._client.myself
        try:
            me = call(f"GET {self.url}/rest/api/{3 if self.cloud else 2}/myself", me_call)
        except (Stop, ItemFailed, Gone) as exc:
            kind = "email + API token" if self.cloud else "personal access token"
            raise SourceError(f"jira: {exc}", hint=f"check the {kind} and the URL (Cloud or Data Center?)") from None
        self._tz = _zone((me or {}).get("timeZone") if isinstance(me, dict) else None)

    def _scope(self) -> str:
        parts = []
        if self.projects:
            parts.append("project in (" + ", ".join(f'"{p}"' for p in self.projects) + ")")
        if self.jql:
            parts.append(f"({_ORDER_BY.sub('', self.jql.strip())})")
        return " AND ".join(parts)

    def _query(self) -> str:
        since = self._progress.since()
        when = f'"{query_time(since, self._tz)}"' if since else EPOCH_JQL  # always bounded (Cloud: 400 otherwise)
        bound = f"updated >= {when}"
        return f"{self.scope} AND {bound}" if self.scope else bound

    def _search(self) -> Iterator[tuple[str, str, str]]:
        """(id, key, updated) of matching issues, oldest change first."""
        jql = self._query() + " ORDER BY updated ASC, key ASC"
        what = f"search issues on {self.url}"
        if self.cloud:
            token = None
            tokens: set[str] = set()
            while True:
                page = call(what, self._client.enhanced_jql, jql, fields=["updated"], nextPageToken=token,
                            limit=self.page_size)
                yield from _refs(page, what)
                token = page.get("nextPageToken")
                if page.get("isLast", not token) or not token:
                    return
                if token in tokens:  # a server that repeats a page token would keep us here forever
                    raise ItemFailed(f"{what}: the server repeated a nextPageToken; search stopped")
                tokens.add(token)
        start = 0
        while True:
            page = call(what, self._client.jql, jql, fields="updated", start=start, limit=self.page_size)
            issues = _refs(page, what)
            yield from issues
            # one issue of overlap between pages: an issue updated while we page moves to the end
            # and shifts the rest left by one; the overlap keeps its neighbour from being skipped
            start += max(1, len(issues) - 1) if len(issues) > 2 else len(issues)
            if not issues or start >= int(page.get("total") or 0):
                return

    # --- one issue ---------------------------------------------------------------------------

    def _issue(self, key: str) -> Iterator[Chunk | ItemError]:
        loc = Location("jira", f"{self.url}/browse/{key}", path=key, permalink=f"{self.url}/browse/{key}",
                       details={"site": self.url, "issue": key})
        try:
            data = call(f"GET issue {key}", self._client.get_issue, key, fields="*all", expand="changelog",
                        update_history=False)
            fields = data["fields"]
            issue = _Issue(key=data.get("key") or key, id=str(data.get("id", "")),
                           browse=f"{self.url}/browse/{data.get('key') or key}",
                           reporter=person(fields.get("reporter")), assignee=person(fields.get("assignee")))
        except Gone:
            return  # deleted (or hidden) since the search: nothing to scan
        except ItemFailed as exc:
            yield ItemError(loc, str(exc))
            return
        except (KeyError, TypeError, AttributeError):
            yield ItemError(loc, f"GET issue {key}: malformed response")
            return
        self.fetched.append(issue.key)
        try:
            yield from self._fields(issue, fields)
            yield from self._comments(issue, fields.get("comment"))
            yield from self._worklogs(issue, fields.get("worklog"))
            yield from self._history(issue, fields, data.get("changelog"))
            if self.attachments:
                yield from self._attachments(issue, fields.get("attachment") or [])
        except ItemFailed as exc:
            yield ItemError(loc, str(exc))
        except Gone as exc:
            yield ItemError(loc, str(exc))
        except (KeyError, TypeError, AttributeError, ValueError):
            yield ItemError(loc, f"issue {key}: malformed response")

    def _loc(self, issue: _Issue, path: str, uri: str, field_name: str, *, permalink: str | None = None,
             author: str | None = None, when: str | None = None, historic: bool = False,
             **extra: str) -> Location:
        details = {"site": self.url, "issue": issue.key, "field": field_name,
                   "historic": "true" if historic else "false", **extra}
        details.update({k: v for k, v in (("reporter", issue.reporter), ("assignee", issue.assignee)) if v})
        return Location("jira", uri, path=f"{issue.key}/{path}", permalink=permalink or issue.browse,
                        author=author, when=when, details=details)

    def _fields(self, issue: _Issue, fields: dict[str, Any]) -> Iterator[Chunk]:
        when = fields.get("updated")
        for name, value in fields.items():
            if name not in TEXT_FIELDS and not name.startswith("customfield_"):
                continue
            text = text_of(value)
            if text.strip():
                yield Chunk(text, self._loc(issue, name, f"{issue.browse}#{name}", name, when=when))

    def _paged(self, embedded: Any, list_key: str, what: str, fetch: Any) -> Iterator[dict[str, Any]]:
        """Items embedded in the issue, then the rest from their endpoint (`startAt` paging)."""
        embedded = embedded if isinstance(embedded, dict) else {}
        items = list(embedded.get(list_key) or [])
        yield from items
        total = int(embedded.get("total") or len(items))
        start = len(items)
        while start < total:
            page = call(what, fetch, start, self.page_size)
            more = page.get(list_key) if list_key in page else page.get("values")
            if not more:
                return
            yield from more
            start += len(more)
            total = int(page.get("total") or total)

    def _comments(self, issue: _Issue, embedded: Any) -> Iterator[Chunk]:
        if self.cloud:
            def fetch(start: int, size: int) -> Any:
                return self._client.get_comments(issue.key, start_at=start, max_results=size, order_by="created")
        else:
            # JiraServer.issue_get_comments reads one page only: the library's generic get() pages it
            def fetch(start: int, size: int) -> Any:
                return self._client.get(self._client.resource_url(f"issue/{issue.key}/comment"),
                                        params={"startAt": start, "maxResults": size, "orderBy": "created"})
        yield from self._entries(issue, self._paged(embedded, "comments", f"GET comments of {issue.key}", fetch),
                                 "comment", text_field="body", started="created")

    def _worklogs(self, issue: _Issue, embedded: Any) -> Iterator[Chunk]:
        if self.cloud:
            def fetch(start: int, size: int) -> Any:
                return self._client.get_issue_worklog(issue.key, start_at=start, max_results=size)
        else:
            # JiraServer.issue_get_worklog takes no paging parameters: generic get() on the same path
            def fetch(start: int, size: int) -> Any:
                return self._client.get(self._client.resource_url(f"issue/{issue.key}/worklog"),
                                        params={"startAt": start, "maxResults": size})
        yield from self._entries(issue, self._paged(embedded, "worklogs", f"GET worklogs of {issue.key}", fetch),
                                 "worklog", text_field="comment", started="started")

    def _entries(self, issue: _Issue, entries: Iterator[dict[str, Any]], kind: str, *, text_field: str,
                 started: str) -> Iterator[Chunk]:
        """Comments or worklog entries: each one's text, linked to it (`?focusedCommentId=...`)."""
        for e in entries:
            text = text_of(e.get(text_field))
            if not text.strip():
                continue
            eid = str(e.get("id"))
            link = f"{issue.browse}?focused{kind.capitalize()}Id={eid}"
            yield Chunk(text, self._loc(issue, f"{kind}/{eid}", link, kind, permalink=link,
                                        author=person(e.get("author")), when=e.get("updated") or e.get(started),
                                        **{f"{kind}_id": eid}))

    def _history(self, issue: _Issue, fields: dict[str, Any], embedded: Any) -> Iterator[Chunk]:
        """Old values of edited fields (`fromString`), newest change first, minus what is still there."""
        embedded = embedded if isinstance(embedded, dict) else {}
        histories = list(embedded.get("histories") or [])
        total = int(embedded.get("total") or len(histories))
        if len(histories) < total:  # capped: the changelog endpoint pages the full list (Cloud)
            histories = []
            start = 0
            while True:
                page = call(f"GET changelog of {issue.key}", self._client.get_change_logs, issue.key,
                            start_at=start, max_results=self.page_size)
                values = page.get("values") or []
                histories += values
                start += len(values)
                if not values or page.get("isLast", start >= int(page.get("total") or 0)):
                    break
        histories.sort(key=lambda h: (parse_time(h.get("created")) or parse_time("1970-01-01T00:00:00Z"),
                                      str(h.get("id"))), reverse=True)
        seen: dict[str, set[str]] = {}
        for name, value in fields.items():
            if name in TEXT_FIELDS or name.startswith("customfield_"):
                seen[name] = {ln.strip() for ln in text_of(value).split("\n")}
        tab = f"{issue.browse}?page=com.atlassian.jira.plugin.system.issuetabpanels%3Achangehistory-tabpanel"
        for h in histories:
            hid = str(h.get("id"))
            for item in h.get("items") or []:
                old = item.get("fromString")
                if not isinstance(old, str) or not old.strip():
                    continue
                fid = str(item.get("fieldId") or item.get("field") or "field")
                text = blank_seen(text_of(old), seen.setdefault(fid, set()))
                if text:
                    uri = f"{issue.browse}#history-{hid}-{quote(fid)}"
                    yield Chunk(text, self._loc(issue, f"history/{hid}/{fid}", uri, fid, permalink=tab,
                                                author=person(h.get("author")), when=h.get("created"),
                                                historic=True, history_id=hid))

    def _attachments(self, issue: _Issue, attachments: list[dict[str, Any]]) -> Iterator[Chunk | ItemError]:
        for a in attachments:
            aid, name = str(a.get("id")), str(a.get("filename") or "")
            size = int(a.get("size") or 0)
            loc = self._loc(issue, f"attachment/{aid}/{name}", f"{issue.browse}#attachment-{aid}", "attachment",
                            author=person(a.get("author")), when=a.get("created"), attachment_id=aid,
                            filename=name)
            yield from read_attachment(loc, name, a.get("mimeType"), size, self.max_attachment_bytes,
                                       lambda a=a, aid=aid: self._download(a, aid))

    def _download(self, a: dict[str, Any], aid: str) -> bytes:
        what = f"download attachment {aid}"
        if self.cloud:
            # /rest/api/3/attachment/content/{id} redirects to the media service; requests drops the
            # Authorization header when the redirect leaves the site's host
            return bytes(call(what, self._client.get_attachment_content, aid, not_json_response=True,
                              headers={"Accept": "*/*"}))
        content = str(a.get("content") or "")
        if not same_origin(content, self.url):
            raise ItemFailed(f"{what}: content URL is not on {self.url}; not sending credentials there")
        # JiraServer.get_attachment_content re-reads the metadata first; the content URL is already known
        return bytes(call(what, self._client.get, content, absolute=True, not_json_response=True,
                          headers={"Accept": "*/*"}))


def _refs(page: Any, what: str) -> list[tuple[str, str, str]]:
    try:
        return [(str(i["id"]), str(i["key"]), str((i.get("fields") or {}).get("updated") or ""))
                for i in page["issues"]]
    except (KeyError, TypeError) as exc:
        raise ItemFailed(f"{what}: malformed search response ({type(exc).__name__})") from None


def _zone(name: str | None) -> Any:
    if not name:
        return timezone.utc
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:  # unknown zone name or no tz database: UTC, the overlap window absorbs it
        log.debug("unknown time zone %r, using UTC", name)
        return timezone.utc
