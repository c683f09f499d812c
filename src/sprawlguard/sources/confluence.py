"""Confluence Cloud and Data Center: pages and blog posts, previous versions, comments, attachments.

Built on atlassian-python-api (imported lazily):

- Cloud: `ConfluenceV2` on `<site>/wiki` (REST v2, cursor pagination via the library's pager).
  Pages and blog posts are listed newest change first (`sort=-modified-date`) down to the
  watermark. With `--cql` (CQL has no v2 equivalent) items are found with the v1 search
  (`/wiki/rest/api/search`, a `ConfluenceServer` client on the same URL) and read with v2.
- Data Center: `ConfluenceServer` (REST v1, `<base>/rest/api`): CQL search
  (`lastmodified >= ... ORDER BY lastmodified ASC`), content with `expand=body.storage,version`.

Where the library has no call for an endpoint, its generic `client.get()` (same session, auth and
retries) is used on the documented path; each place says so. Pagination follows `_links.next`
(relative to `_links.base`) and never sends credentials to another host.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

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
    is_cloud_host,
    parse_time,
    person,
    query_time,
    read_attachment,
    same_origin,
    storage_to_text,
)
from sprawlguard.sources.base import Checkpoint

DEFAULT_MAX_VERSIONS = 100


@dataclass
class _Item:
    """A page or blog post being scanned."""

    id: str
    type: str  # page | blogpost
    title: str
    space: str
    version: int
    modified: str
    author: str | None
    body: str
    webui: str | None = None


@dataclass
class ConfluenceSource(AtlassianSource):
    """Scans a Confluence site: pages and blog posts of `spaces` and/or `cql` (everything if neither)."""

    spaces: Sequence[str] = ()
    cql: str | None = None
    max_versions: int = DEFAULT_MAX_VERSIONS
    page_size: int = 50
    name: str = "confluence"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._v1: Any = None  # REST v1 client (DC; CQL search on Cloud)
        self._v2: Any = None  # REST v2 client (Cloud)
        self._space_keys: dict[str, str] = {}

    def _site_url(self) -> str:
        if self.cloud and is_cloud_host(self.url) and not urlsplit(self.url).path.startswith("/wiki"):
            return self.url + "/wiki"
        return self.url

    def _scope(self) -> str:
        return f"spaces={','.join(self.spaces)};cql={self.cql or ''}"

    def chunks(self, resume: Checkpoint | None = None) -> Iterator[Chunk | ItemError]:
        ascending = not self.cloud or bool(self.cql)
        self._progress = Progress.load(resume, self.scope, timedelta(minutes=self.overlap_minutes), ascending)
        site = Location("confluence", self.url, path=self.url)
        try:
            self._connect()
            refs = ((ref["id"], str(ref["version"]), ref["modified"], ref) for ref in self._discover())
            yield from incremental(self._progress, refs, self._content)
            self._progress.finish()
        except (Stop, ItemFailed, Gone) as exc:
            yield ItemError(site, str(exc))

    # --- connection --------------------------------------------------------------------------

    def _connect(self) -> None:
        from atlassian import ConfluenceServer, ConfluenceV2

        auth = auth_kwargs(bool(self.cloud), self.email, self.token, self.pat)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if self.cloud:
                self._v2 = configure(ConfluenceV2(self.url, cloud=True, **auth, **client_options()))
            self._v1 = configure(ConfluenceServer(self.url, cloud=bool(self.cloud), **auth, **client_options()))
        try:
            if self.cloud:
                # a cheap authenticated call that exists on v2 only
                call(f"GET {self.url}/api/v2/spaces", self._v2.get, "api/v2/spaces", params={"limit": 1})
            else:
                call(f"GET {self.url}/rest/api/user/current", self._v1.get, "rest/api/user/current")
        except (Stop, ItemFailed, Gone) as exc:
            kind = "email + API token" if self.cloud else "personal access token"
            raise SourceError(f"confluence: {exc}",
                              hint=f"check the {kind} and the URL (Cloud needs the /wiki path)") from None

    # --- discovery ---------------------------------------------------------------------------

    def _discover(self) -> Iterator[dict[str, Any]]:
        """{id, type, version, modified} of pages and blog posts to scan."""
        if self.cloud and not self.cql:
            yield from self._list_v2()
        else:
            yield from self._search_cql()

    def _list_v2(self) -> Iterator[dict[str, Any]]:
        since = self._progress.since()
        space_ids: list[str | None] = [None]
        if self.spaces:
            # ConfluenceV2.get_space_by_key logs and raises ValueError for an unknown key: generic
            # get() on GET /api/v2/spaces?keys=KEY instead, for a clear message
            space_ids = []
            for key in self.spaces:
                found = call(f"GET space {key}", self._v2.get, "api/v2/spaces", params={"keys": key, "limit": 1})
                space = ((found or {}).get("results") or [None])[0]
                if not isinstance(space, dict) or "id" not in space:
                    raise ItemFailed(f"space {key!r} not found or not visible to these credentials")
                self._space_keys[str(space["id"])] = key
                space_ids.append(str(space["id"]))
        for kind in ("page", "blogpost"):
            for space_id in space_ids:
                params: dict[str, Any] = {"sort": "-modified-date", "body-format": "none", "limit": self.page_size}
                if space_id:
                    params["space-id"] = space_id
                # the library's v2 pager (_get_paged) follows `_links.next` cursors lazily;
                # get_pages() would read the whole listing first and has no blog post twin
                pager = self._v2._get_paged(f"api/v2/{kind}s", params=params)
                listed: set[str] = set()
                for item in _each(f"list {kind}s", pager):
                    if str(item.get("id")) in listed:  # the pager follows a cursor that loops
                        raise ItemFailed(f"list {kind}s: the server repeated a page (cursor loop); listing stopped")
                    listed.add(str(item.get("id")))
                    modified = str((item.get("version") or {}).get("createdAt") or "")
                    when = parse_time(modified)
                    if since is not None and when is not None and when < since:
                        break  # newest first: the rest is older than the watermark
                    yield {"id": str(item["id"]), "type": kind, "version": (item.get("version") or {}).get("number"),
                           "modified": modified}

    def _search_cql(self) -> Iterator[dict[str, Any]]:
        since = self._progress.since()
        parts = []
        if self.cql:
            parts.append(f"({self.cql})")
        parts.append("type in (page, blogpost)")
        if self.spaces:
            parts.append("space in (" + ", ".join(f'"{s}"' for s in self.spaces) + ")")
        if since is not None:
            parts.append(f'lastmodified >= "{query_time(since)}"')
        cql = " AND ".join(parts) + " ORDER BY lastmodified ASC"
        what = f"CQL search on {self.url}"
        page = call(what, self._v1.cql, cql, start=0, limit=self.page_size, expand="content.version")
        links: set[str] = set()
        while True:
            try:
                for hit in page["results"]:
                    content = hit.get("content") or hit
                    version = content.get("version") or {}
                    yield {"id": str(content["id"]), "type": str(content.get("type") or "page"),
                           "version": version.get("number"),
                           "modified": str(version.get("when") or hit.get("lastModified") or "")}
                nxt = (page.get("_links") or {}).get("next")
            except (KeyError, TypeError, AttributeError):
                raise ItemFailed(f"{what}: malformed response") from None
            if not nxt:
                return
            if nxt in links:  # a server that repeats a link would keep us here forever
                raise ItemFailed(f"{what}: the server repeated a next link; search stopped")
            links.add(nxt)
            page = call(what, self._v1.get, self._next_url(page, nxt), absolute=True)

    def _next_url(self, page: dict[str, Any], nxt: str) -> str:
        """`_links.next` is relative to `_links.base` (which carries /wiki or the DC context path)."""
        if urlsplit(nxt).scheme:
            url = nxt
        else:
            base = str((page.get("_links") or {}).get("base") or self.url).rstrip("/")
            url = base + "/" + nxt.lstrip("/")
        if not same_origin(url, self.url):
            raise Stop(f"pagination link leaves {self.url}; not sending credentials there")
        return url

    def _v1_paged(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Follow start/limit pages of a v1 listing helper that reads one page per call."""
        start = 0
        while True:
            page = call(what, fn, *args, start=start, limit=self.page_size, **kwargs)
            results = page.get("results") or []
            yield from results
            if not results or not (page.get("_links") or {}).get("next"):
                return
            start += len(results)

    # --- one page or blog post ---------------------------------------------------------------

    def _content(self, ref: dict[str, Any]) -> Iterator[Chunk | ItemError]:
        loc = Location("confluence", self._page_uri(ref["id"]), path=ref["id"])
        try:
            item = self._read(ref)
        except Gone:
            return  # deleted or restricted since the listing
        except ItemFailed as exc:
            yield ItemError(loc, str(exc))
            return
        except (KeyError, TypeError, AttributeError, ValueError):
            yield ItemError(loc, f"content {ref['id']}: malformed response")
            return
        self.fetched.append(item.id)
        try:
            text = storage_to_text(item.body)
            if text.strip():
                yield Chunk(text, self._loc(item, item.title, self._page_uri(item.id), version=item.version,
                                            author=item.author, when=item.modified,
                                            permalink=self._webui(item)))
            yield from self._versions(item, {ln.strip() for ln in text.split("\n")})
            yield from self._comments(item)
            if self.attachments:
                yield from self._attachments(item)
        except (ItemFailed, Gone) as exc:
            yield ItemError(loc, str(exc))
        except (KeyError, TypeError, AttributeError, ValueError):
            yield ItemError(loc, f"content {item.id}: malformed response")

    def _read(self, ref: dict[str, Any]) -> _Item:
        cid, kind = ref["id"], ref["type"]
        if self.cloud:
            if kind == "blogpost":
                # no blog post getter in ConfluenceV2: generic get() on GET /api/v2/blogposts/{id}
                data = call(f"GET blogpost {cid}", self._v2.get, f"api/v2/blogposts/{cid}",
                            params={"body-format": "storage"})
            else:
                data = call(f"GET page {cid}", self._v2.get_page_by_id, cid, body_format="storage")
            version = data.get("version") or {}
            return _Item(id=str(data["id"]), type=kind, title=str(data.get("title") or ""),
                         space=self._space_key(str(data.get("spaceId") or "")), version=int(version.get("number") or 1),
                         modified=str(version.get("createdAt") or ""), author=version.get("authorId"),
                         body=str(((data.get("body") or {}).get("storage") or {}).get("value") or ""),
                         webui=(data.get("_links") or {}).get("webui"))
        data = call(f"GET content {cid}", self._v1.get_page_by_id, cid, expand="body.storage,version,space")
        version = data.get("version") or {}
        return _Item(id=str(data["id"]), type=str(data.get("type") or kind), title=str(data.get("title") or ""),
                     space=str((data.get("space") or {}).get("key") or ""), version=int(version.get("number") or 1),
                     modified=str(version.get("when") or ""), author=_v1_person(version.get("by")),
                     body=str(((data.get("body") or {}).get("storage") or {}).get("value") or ""),
                     webui=(data.get("_links") or {}).get("webui"))

    def _space_key(self, space_id: str) -> str:
        if not space_id:
            return ""
        if space_id not in self._space_keys:
            try:
                space = call(f"GET space {space_id}", self._v2.get_space, space_id)
                self._space_keys[space_id] = str(space.get("key") or space_id)
            except (ItemFailed, Gone):
                self._space_keys[space_id] = space_id
        return self._space_keys[space_id]

    def _page_uri(self, cid: str) -> str:
        return f"{self.url}/pages/viewpage.action?pageId={cid}"

    def _webui(self, item: _Item) -> str:
        return f"{self.url}{item.webui}" if item.webui and item.webui.startswith("/") else self._page_uri(item.id)

    def _loc(self, item: _Item, path: str, uri: str, *, version: int | None = None, author: str | None = None,
             when: str | None = None, permalink: str | None = None, historic: bool = False,
             **extra: str) -> Location:
        details = {"site": self.url, "space": item.space, "content_id": item.id, "content_type": item.type,
                   "title": item.title, "historic": "true" if historic else "false", **extra}
        if version is not None:
            details["version"] = str(version)
        return Location("confluence", uri, path=f"{item.space}/{path}" if item.space else path,
                        permalink=permalink or uri, author=author, when=when, details=details)

    def _versions(self, item: _Item, seen: set[str]) -> Iterator[Chunk]:
        """Previous versions, newest first, minus lines still present in a newer version.

        On an incremental run only versions made since the watermark are read, plus the one
        that was current at the last run (it was scanned as current then; now it is history).
        """
        if item.version <= 1 or self.max_versions <= 0:
            return
        since = self._progress.since()
        numbers = list(range(item.version - 1, 0, -1))[: self.max_versions]
        for n in numbers:
            body, when, author = self._old_version(item, n)
            if body is None:
                continue  # that version was deleted
            text = blank_seen(storage_to_text(body), seen)
            uri = f"{self._page_uri(item.id)}&pageVersion={n}"
            if text:
                yield Chunk(text, self._loc(item, f"{item.title}@v{n}", uri, version=n, author=author, when=when,
                                            historic=True))
            t = parse_time(when)
            if since is not None and t is not None and t < since:
                break  # this one was current at the last run; older ones were scanned then

    def _old_version(self, item: _Item, n: int) -> tuple[str | None, str, str | None]:
        what = f"GET {item.type} {item.id} version {n}"
        try:
            if self.cloud:
                # ConfluenceV2.get_page_version returns version metadata without the body; the v2
                # content endpoint takes `version=N`: generic get() on GET /api/v2/{pages|blogposts}/{id}
                data = call(what, self._v2.get, f"api/v2/{item.type}s/{item.id}",
                            params={"version": n, "body-format": "storage"})
                version = data.get("version") or {}
                return (str(((data.get("body") or {}).get("storage") or {}).get("value") or ""),
                        str(version.get("createdAt") or ""), version.get("authorId"))
            data = call(what, self._v1.get_page_by_id, item.id, expand="body.storage,version",
                        status="historical", version=n)
        except Gone:
            return None, "", None
        version = data.get("version") or {}
        return (str(((data.get("body") or {}).get("storage") or {}).get("value") or ""),
                str(version.get("when") or ""), _v1_person(version.get("by")))

    def _comments(self, item: _Item) -> Iterator[Chunk]:
        for c in self._all_comments(item):
            cid = str(c["id"])
            text = storage_to_text(c["body"])
            if not text.strip():
                continue
            uri = f"{self._page_uri(item.id)}&focusedCommentId={cid}"
            yield Chunk(text, self._loc(item, f"{item.title}/comment/{cid}", uri, author=c.get("author"),
                                        when=c.get("when"), permalink=f"{uri}#comment-{cid}", comment_id=cid,
                                        comment_location=c["location"]))

    def _all_comments(self, item: _Item) -> Iterator[dict[str, Any]]:
        """Footer and inline comments with their replies, as {id, body, author, when, location}."""
        if self.cloud:
            for where in ("footer", "inline"):
                # get_page_*_comments reads one page; the library's v2 pager follows the cursors,
                # and GET /api/v2/{footer|inline}-comments/{id}/children has no helper at all
                todo = [f"api/v2/{item.type}s/{item.id}/{where}-comments"]
                while todo:
                    path = todo.pop()
                    pager = self._v2._get_paged(path, params={"body-format": "storage", "limit": self.page_size})
                    for c in _each(f"GET {path}", pager):
                        version = c.get("version") or {}
                        yield {"id": c["id"], "location": where, "author": version.get("authorId"),
                               "when": version.get("createdAt"),
                               "body": ((c.get("body") or {}).get("storage") or {}).get("value") or ""}
                        todo.append(f"api/v2/{where}-comments/{c['id']}/children")
            return
        for c in self._v1_paged(f"GET comments of {item.id}", self._v1.get_page_comments, item.id,
                                expand="body.storage,version,extensions.inlineProperties", depth="all"):
            version = c.get("version") or {}
            yield {"id": c["id"], "location": str((c.get("extensions") or {}).get("location") or "footer"),
                   "author": _v1_person(version.get("by")), "when": version.get("when"),
                   "body": ((c.get("body") or {}).get("storage") or {}).get("value") or ""}

    def _attachments(self, item: _Item) -> Iterator[Chunk | ItemError]:
        if self.cloud:
            # no attachment lister for pages/blog posts in ConfluenceV2: the v2 pager on
            # GET /api/v2/{pages|blogposts}/{id}/attachments
            listing: Iterator[dict[str, Any]] = self._v2._get_paged(
                f"api/v2/{item.type}s/{item.id}/attachments", params={"limit": self.page_size})
        else:
            listing = self._v1_paged(f"GET attachments of {item.id}", self._v1.get_attachments_from_content,
                                     item.id, expand="version")
        for a in _each(f"GET attachments of {item.id}", listing):
            aid, name = str(a.get("id")), str(a.get("title") or "")
            if self.cloud:
                mime, size, link = a.get("mediaType"), a.get("fileSize"), a.get("downloadLink")
                version = a.get("version") or {}
                author, when = version.get("authorId"), version.get("createdAt")
            else:
                mime = (a.get("metadata") or {}).get("mediaType")
                size = (a.get("extensions") or {}).get("fileSize")
                link = (a.get("_links") or {}).get("download")
                version = a.get("version") or {}
                author, when = _v1_person(version.get("by")), version.get("when")
            uri = f"{self.url}/download/attachments/{item.id}/{quote(name)}"
            loc = self._loc(item, f"{item.title}/attachment/{name}", uri, author=author, when=when,
                            attachment_id=aid, filename=name)
            yield from read_attachment(loc, name, mime, int(size or 0), self.max_attachment_bytes,
                                       lambda aid=aid, link=link: self._download(aid, link))

    def _download(self, aid: str, link: str | None) -> bytes:
        if not link:
            raise ItemFailed("attachment has no download link")
        url = link if urlsplit(link).scheme else self.url + "/" + str(link).lstrip("/")
        if not same_origin(url, self.url):
            raise ItemFailed(f"download link is not on {self.url}; not sending credentials there")
        # downloads are plain GETs on the site: the library's generic get() (raw bytes)
        return bytes(call(f"download attachment {aid}", (self._v2 or self._v1).get, url, absolute=True,
                          not_json_response=True, headers={"Accept": "*/*"}))


def _v1_person(user: Any) -> str | None:
    """A v1 `version.by` user as 'Display Name <email>' (or the user name when the email is hidden)."""
    return person(user) if isinstance(user, dict) else None


def _each(what: str, items: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Iterate a lazy pager, mapping HTTP errors raised between pages like `call` does."""
    while True:
        try:
            item = call(what, next, items)
        except StopIteration:
            return
        yield item
