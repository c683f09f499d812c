"""Shared by the Jira and Confluence sources: client settings, HTTP error mapping, text extraction
(Jira ADF, wiki markup, Confluence storage XHTML), old-content blanking, attachments and checkpoints.

Nothing here imports atlassian-python-api or requests at module level (the pre-commit path must not).
"""

from __future__ import annotations

import codecs
import hashlib
import html
import io
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sprawlguard.errors import SourceError
from sprawlguard.model import Chunk, ItemError, Location
from sprawlguard.sources.base import Checkpoint, is_text_like
from sprawlguard.sources.files import is_binary, read_chunks

T = TypeVar("T")
DEFAULT_OVERLAP_MINUTES = 10
DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1000 * 1000
MAX_RETRIES = 6  # 429/503 answers retried per request (each waits Retry-After, else backs off)
MAX_BACKOFF_SECONDS = 300

# --- the client ------------------------------------------------------------------------------------


def client_options() -> dict[str, Any]:
    """Keyword arguments for every atlassian-python-api client we build (see `configure`)."""
    for name in ("atlassian", "atlassian.rest_client"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return {"timeout": 60}


def configure(client: Any) -> Any:
    """Mount our retry policy on the client's requests session; returns the client.

    The library's `retry_with_header` retries a 429 only once, and its `backoff_and_retry` builds a
    urllib3 `Retry(total=None)` that retries a refused connection forever. Ours: 429/503 retried up
    to MAX_RETRIES times, waiting `Retry-After` when the server sends it (else exponential backoff),
    two connection retries, at most 5 redirects. `client_options` also silences the library's DEBUG
    logs, which print the Authorization header (as a curl command) and response bodies.
    """
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(total=None, connect=2, read=0, redirect=5, other=0, status=MAX_RETRIES,
                  status_forcelist=(429, 503), allowed_methods=None, backoff_factor=1.0,
                  backoff_max=MAX_BACKOFF_SECONDS, respect_retry_after_header=True, raise_on_status=True)
    for prefix in ("http://", "https://"):
        client.session.mount(prefix, HTTPAdapter(max_retries=retry))
    return client


class Stop(Exception):
    """The whole source must stop (bad credentials, rate limit budget spent, unreachable server)."""


class ItemFailed(Exception):
    """One item (issue, page, comment page, attachment) could not be read; the scan goes on."""


class Gone(Exception):
    """The item disappeared (404) between listing and reading: nothing to scan."""


def call(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the client; turn requests' exceptions into Stop / ItemFailed / Gone with plain words.

    Messages name the request and the HTTP status, never a credential or scanned text.
    """
    import requests
    from atlassian.errors import ApiError

    try:
        try:
            return fn(*args, **kwargs)
        except ApiError as exc:  # some v1 helpers wrap the HTTPError (404 -> ApiError(reason=...))
            if isinstance(exc.reason, requests.HTTPError):
                raise exc.reason from None
            raise ItemFailed(f"{what}: {type(exc).__name__}") from None
    except requests.exceptions.RetryError:
        raise Stop(f"{what}: still rate limited (429/503) after {MAX_RETRIES} retries; "
                   "run the scan again later, it resumes where it stopped") from None
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status == 401:
            raise Stop(f"{what}: authentication failed (401): the credentials are wrong, expired or "
                       "revoked") from None
        if status == 404:
            raise Gone(f"{what}: not found (404)") from None
        if status == 403:
            raise ItemFailed(f"{what}: permission denied (403)") from None
        if status == 410:
            raise Stop(f"{what}: endpoint retired by the server (410)") from None
        raise ItemFailed(f"{what}: HTTP {status}: {str(exc)[:200]}") from None
    except requests.exceptions.ConnectionError:
        raise Stop(f"{what}: cannot connect to the server") from None
    except requests.exceptions.Timeout:
        raise ItemFailed(f"{what}: timed out") from None
    except (ValueError, RecursionError):  # a body that is not the JSON we asked for (or absurdly nested)
        raise ItemFailed(f"{what}: malformed response (not JSON)") from None


def same_origin(url: str, base: str) -> bool:
    """True when `url` is on the same scheme, host and port as `base` (credentials may go there)."""
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


# --- time and checkpoints ------------------------------------------------------------------------


def parse_time(text: str | None) -> datetime | None:
    """Atlassian timestamps ('2025-01-02T10:00:00.000+0000', '...Z') as aware datetimes."""
    if not text:
        return None
    t = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text.strip()).replace("Z", "+00:00")
    t = re.sub(r"\.(\d+)", lambda m: "." + (m.group(1) + "000000")[:6], t)
    try:
        d = datetime.fromisoformat(t)
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def query_time(when: datetime, tz: Any = timezone.utc) -> str:
    """A JQL/CQL date: minute resolution, in the searching user's time zone."""
    return when.astimezone(tz).strftime("%Y/%m/%d %H:%M")


@dataclass
class Progress:
    """Incremental position of a Jira or Confluence scan (stored as the source's checkpoint).

    `watermark` is the modification time up to which every item was scanned; the next run asks the
    server for items modified since `watermark - overlap` (JQL/CQL have minute resolution and the
    clock is the user's time zone). `done` maps an item id to the version (or `updated`) already
    scanned and its modification time, so items seen in the overlap window, or before a crash, are
    not fetched again. An item that failed stops the watermark, so the next run retries it.

    `ascending` scans (JQL/CQL ordered by modification time) move the watermark after each item;
    newest-first listings (Confluence Cloud v2) move it only when the listing is complete.
    """

    query: str
    overlap: timedelta = timedelta(minutes=DEFAULT_OVERLAP_MINUTES)
    ascending: bool = True
    watermark: datetime | None = None
    done: dict[str, list[str]] = field(default_factory=dict)
    high: datetime | None = None
    stalled: bool = False

    @classmethod
    def load(cls, state: Checkpoint | None, query: str, overlap: timedelta, ascending: bool) -> Progress:
        p = cls(query=query, overlap=overlap, ascending=ascending)
        if not state or state.get("query") != query:
            return p
        p.watermark = parse_time(state.get("watermark"))
        p.high = parse_time(state.get("high"))
        done = state.get("done") or {}
        p.done = {str(k): [str(v[0]), str(v[1])] for k, v in done.items()
                  if isinstance(v, list) and len(v) == 2}
        return p

    def since(self) -> datetime | None:
        return self.watermark - self.overlap if self.watermark else None

    def is_done(self, item_id: str, version: str) -> bool:
        return self.done.get(item_id, [None])[0] == version

    def complete(self, item_id: str, version: str, modified: datetime | None) -> None:
        self.done[item_id] = [version, modified.isoformat() if modified else ""]
        if modified and (self.high is None or modified > self.high):
            self.high = modified
        if self.ascending and not self.stalled and modified and (
                self.watermark is None or modified > self.watermark):
            self.watermark = modified
            self._prune()

    def fail(self) -> None:
        self.stalled = True

    def finish(self) -> None:
        """A newest-first listing reached its end: everything up to `high` is scanned."""
        if not self.ascending and not self.stalled and self.high is not None:
            self.watermark = self.high
            self._prune()

    def _prune(self) -> None:
        floor = self.since()
        if floor is None:
            return
        keep = {}
        for k, (version, when) in self.done.items():
            t = parse_time(when)
            if t is None or t >= floor:
                keep[k] = [version, when]
        self.done = keep

    def state(self) -> Checkpoint:
        return {"query": self.query, "watermark": self.watermark.isoformat() if self.watermark else None,
                "high": self.high.isoformat() if self.high else None, "done": dict(self.done)}


# --- text extraction ------------------------------------------------------------------------------

_ADF_BLOCKS = {"paragraph", "heading", "codeBlock", "blockquote", "listItem", "tableRow", "panel", "rule",
               "mediaSingle", "mediaGroup", "expand", "nestedExpand", "decisionItem", "taskItem",
               "layoutColumn", "bulletList", "orderedList", "table", "blockCard", "embedCard"}


MAX_ADF_DEPTH = 200  # deeper (hostile) nesting is walked flat, without recursion


def adf_to_text(node: Any, _depth: int = 0) -> str:
    """Atlassian Document Format (Jira Cloud v3, Confluence atlas_doc_format) walked to plain text.

    Text nodes, code blocks, link targets (`marks[].attrs.href`), inline/block cards, mentions,
    media alt text, expand titles; table cells are joined on one line with ' | '. Below
    MAX_ADF_DEPTH the rest is walked with an explicit stack, so no document can exhaust the stack.
    """
    if _depth > MAX_ADF_DEPTH:
        return _adf_flat(node)
    if isinstance(node, list):
        parts: list[str] = []
        for n in node:
            piece = adf_to_text(n, _depth + 1)
            kind = n.get("type") if isinstance(n, dict) and piece and parts else None
            cell = kind in ("tableCell", "tableHeader")
            if (kind in _ADF_BLOCKS or (not cell and kind and n.get("content"))) and not parts[-1].endswith("\n"):
                parts.append("\n")  # a block after stray inline content starts its own line
            elif cell and not parts[-1].endswith((" ", "\n")):
                parts.append(" ")
            parts.append(piece)
        return "".join(parts)
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind in ("text", "hardBreak"):
        return _adf_leaf(node)
    out = _adf_head(node)
    inner = adf_to_text(node.get("content") or [], _depth + 1)
    if kind in ("tableCell", "tableHeader"):
        return " ".join(inner.split("\n")).strip() + " | "
    out += inner
    if (kind in _ADF_BLOCKS or inner) and not out.endswith("\n"):  # unknown containers: blocks too
        out += "\n"
    return out


def _adf_leaf(node: dict[str, Any]) -> str:
    if node.get("type") == "hardBreak":
        return "\n"
    text = str(node.get("text") or "")
    marks = node.get("marks")
    for mark in marks if isinstance(marks, list) else []:
        attrs = mark.get("attrs") if isinstance(mark, dict) else None
        href = attrs.get("href") if isinstance(attrs, dict) else None
        if href and href != text:
            text += f" <{href}>"
    return text


def _adf_head(node: dict[str, Any]) -> str:
    """What a non-text node shows itself: a card's URL, a mention's text, alt text, a title."""
    kind = node.get("type")
    attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
    if kind in ("inlineCard", "blockCard", "embedCard") and attrs.get("url"):
        return f" {attrs['url']} "
    if kind in ("mention", "emoji", "status", "date") and attrs.get("text"):
        return str(attrs["text"])
    if kind in ("media", "mediaInline") and attrs.get("alt"):
        return f" {attrs['alt']} "
    if kind in ("expand", "nestedExpand") and attrs.get("title"):
        return f"{attrs['title']}\n"
    return ""


class _End(str):
    """What to write after a node's children in `_adf_flat` (not a string found in the document)."""


def _adf_flat(root: Any) -> str:
    """The same text as `adf_to_text`, walked with a stack (cells end with ' |', not joined)."""
    out: list[str] = []
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, _End):
            if node == " | " or not (out and out[-1].endswith("\n")):
                out.append(str(node))
        elif isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, dict):
            kind = node.get("type")
            if kind in ("text", "hardBreak"):
                out.append(_adf_leaf(node))
                continue
            out.append(_adf_head(node))
            if kind in ("tableCell", "tableHeader"):
                stack.append(_End(" | "))
            elif kind in _ADF_BLOCKS or node.get("content"):
                stack.append(_End("\n"))
            stack.append(node.get("content") or [])
    return "".join(out)


_WIKI_MARKERS = re.compile(r"\{(?:code|noformat|quote|panel|color|html)(?::[^}]*)?\}")


def wiki_to_text(text: str) -> str:
    """Jira/Confluence wiki markup: drop block markers such as {code:java} so tokens stand alone."""
    return _WIKI_MARKERS.sub(" ", text)


def text_of(value: Any) -> str:
    """A Jira field or comment body: ADF on Cloud v3, wiki markup or plain text elsewhere."""
    if isinstance(value, dict) and value.get("type") == "doc":
        return adf_to_text(value)
    if isinstance(value, str):
        return wiki_to_text(value)
    return ""


_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.S)
_STORAGE_BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "tr",
                   "ac:plain-text-body", "ac:rich-text-body", "ac:structured-macro", "ac:task", "hr",
                   "ac:layout-cell", "ul", "ol", "table"}
_LINK_ATTRS = ("href", "src", "ri:value", "ri:filename")


class _Storage(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.cell: list[str] | None = None
        self.param: str | None = None

    def _emit(self, text: str) -> None:
        if self.cell is not None:
            self.cell.append(text.replace("\n", " "))
        else:
            self.out.append(text)

    def _newline(self) -> None:
        """End the current line unless it is already ended (blocks do not stack empty lines)."""
        if self.cell is not None:
            self.cell.append(" ")
        elif self.out and not self.out[-1].endswith("\n"):
            self.out.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("td", "th"):
            self.end_cell()  # an unclosed cell before it keeps its text
            if self.out and not self.out[-1].endswith((" ", "\n")):
                self.out.append(" ")  # a stray cell never glues onto the text before it
            self.cell = []
        elif tag == "ac:parameter":
            self.param = a.get("ac:name", "")
            self._newline()
            self._emit(f"{self.param}=" if self.param else "")
        elif tag == "br":
            self._emit("\n")
        elif tag in _STORAGE_BLOCKS:
            self._newline()
        for name in _LINK_ATTRS:
            if a.get(name):
                self._emit(f" {a[name]} ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def end_cell(self) -> None:
        if self.cell is not None:
            cell, self.cell = " ".join("".join(self.cell).split()), None
            self.out.append(cell + " | ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.end_cell()
        elif tag == "ac:parameter":
            self.param = None
            self._newline()
        elif tag in _STORAGE_BLOCKS:
            self._newline()

    def handle_data(self, data: str) -> None:
        self._emit(data)


def storage_to_text(xhtml: str) -> str:
    """Confluence storage format (XHTML + ac:/ri: macros) to text.

    Code macros keep their CDATA body verbatim (line by line); macro parameters become
    `name=value` lines; link targets are kept; table rows become one line with ' | ' between
    cells; expand and other rich-text macros keep their body; entities are decoded.
    """
    text = _CDATA.sub(lambda m: html.escape(m.group(1), quote=False), xhtml or "")
    p = _Storage()
    p.feed(text)
    p.close()
    p.end_cell()  # a cell never closed (malformed markup) must not swallow the rest of the page
    return re.sub(r"\n{3,}", "\n\n", "".join(p.out)).strip("\n") + "\n"


def blank_seen(text: str, seen: set[str]) -> str:
    """Old content minus what is already reported elsewhere, with line numbers kept.

    Lines that also appear in `seen` (the current version, or a newer old version already scanned)
    are blanked, so a secret still present today is reported once (as current), and a removed
    one once, at the newest old version that held it. `seen` is then extended with `text`'s lines.
    Returns '' when nothing is left.
    """
    lines = text.split("\n")
    out = ["" if not ln.strip() or ln.strip() in seen else ln for ln in lines]
    seen.update(ln.strip() for ln in lines)
    result = "\n".join(out)
    return result if result.strip() else ""


# --- attachments ----------------------------------------------------------------------------------

def read_attachment(loc: Location, name: str, mime: str | None, size: int, limit: int,
                    download: Callable[[], bytes]) -> Iterator[Chunk | ItemError]:
    """One attachment: skipped unless text-like and within `limit` bytes (declared and actual),
    downloaded with `download()` (which raises ItemFailed, or Gone when it vanished meanwhile)."""
    if not is_text_like(name, mime):
        yield ItemError(loc, "attachment is not text-like", kind="binary")
        return
    if size > limit:
        yield ItemError(loc, f"attachment larger than {limit} bytes", kind="too_large")
        return
    try:
        data = download()
    except Gone:
        return
    except ItemFailed as exc:
        yield ItemError(loc, str(exc))
        return
    if len(data) > limit:
        yield ItemError(loc, f"attachment larger than {limit} bytes", kind="too_large")
        return
    yield from attachment_chunks(data, loc)


def attachment_chunks(data: bytes, location: Location) -> Iterator[Chunk | ItemError]:
    """Chunks of a downloaded text attachment (binary content is skipped and counted)."""
    if is_binary(data[:8192]):
        yield ItemError(location, "binary attachment skipped", kind="binary")
        return
    encoding = "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else (
        "utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8")
    yield from read_chunks(io.BytesIO(data), location, encoding)


def person(user: Mapping[str, Any] | None) -> str | None:
    """'Display Name <email>' (or the account id / user name when the email is hidden)."""
    if not isinstance(user, Mapping):
        return None
    name = user.get("displayName") or user.get("publicName") or user.get("name") or user.get("username")
    ident = user.get("emailAddress") or user.get("email")
    if name and ident:
        return f"{name} <{ident}>"
    other = user.get("accountId") or user.get("name") or user.get("userKey")
    return f"{name} ({other})" if name and other and other != name else (name or ident or other)


# --- what Jira and Confluence sources share ----------------------------------------------------


def is_cloud_host(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host.endswith((".atlassian.net", ".jira.com"))


def resolve_cloud(product: str, url: str, cloud: bool | None, email: str | None, token: str | None,
                  pat: str | None) -> bool:
    """Cloud or Data Center (guessed from the host, then the credential type), with usable credentials."""
    if cloud is None:
        cloud = is_cloud_host(url) or (not pat and bool(email and token))
    upper = product.upper()
    if cloud and not (email and token):
        raise SourceError(f"{product}: Cloud needs an account email and an API token",
                          hint=f"set {upper}_EMAIL and {upper}_API_TOKEN (or --data-center with {upper}_PAT)")
    if not cloud and not pat and not (email and token):
        raise SourceError(f"{product}: Data Center needs a personal access token",
                          hint=f"set {upper}_PAT (or {upper}_EMAIL and {upper}_API_TOKEN for basic auth)")
    return cloud


def auth_kwargs(cloud: bool, email: str | None, token: str | None, pat: str | None) -> dict[str, Any]:
    """atlassian-python-api credentials: basic auth (email + API token) or a bearer PAT."""
    if email and token and (cloud or not pat):
        return {"username": email, "password": token}
    return {"token": pat}


@dataclass
class AtlassianSource:
    """What the Jira and Confluence sources share: the site, its credentials, attachment limits and
    the incremental position. `cloud=None` guesses: *.atlassian.net or email+token is Cloud, a PAT
    is Data Center. A subclass sets `name` and says what it scans in `_scope()`."""

    url: str
    email: str | None = None
    token: str | None = field(default=None, repr=False)
    pat: str | None = field(default=None, repr=False)
    cloud: bool | None = None
    overlap_minutes: int = DEFAULT_OVERLAP_MINUTES
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
    attachments: bool = True
    page_size: int = 100
    name: str = "atlassian"

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self.cloud = resolve_cloud(self.name, self.url, self.cloud, self.email, self.token, self.pat)
        self.url = self._site_url()
        self.scope = self._scope()
        digest = hashlib.sha256(self.scope.encode()).hexdigest()[:12]
        self.checkpoint_key: str | None = f"{self.name}:{self.url}:{digest}"
        self.label = self.url
        self._progress = Progress(self.scope)
        self.fetched: list[str] = []  # ids read in full by this run (for reports and tests)

    def _site_url(self) -> str:
        return self.url

    def _scope(self) -> str:
        """What this source scans (projects and JQL, spaces and CQL): part of its checkpoint key."""
        raise NotImplementedError

    # --- Source protocol ---------------------------------------------------------------------

    def estimate(self) -> int | None:
        return None

    def checkpoint(self) -> Checkpoint:
        return self._progress.state()


def incremental(progress: Progress, refs: Iterable[tuple[str, str, str, T]],
                content: Callable[[T], Iterator[Chunk | ItemError]]) -> Iterator[Chunk | ItemError]:
    """Each (id, version, modified, ref) not done yet: `content(ref)`, then mark it done (or failed).

    The mark happens when the generator is resumed after the item's last chunk, so a checkpoint
    taken meanwhile never claims an item that was not fully scanned; a failed item is retried by
    the next run.
    """
    seen: set[str] = set()
    for item_id, version, modified, ref in refs:
        if item_id in seen or progress.is_done(item_id, version):
            continue
        seen.add(item_id)
        failed = False
        for out in content(ref):
            failed = failed or (isinstance(out, ItemError) and out.kind == "error")
            yield out
        if failed:
            progress.fail()
        else:
            progress.complete(item_id, version, parse_time(modified))
