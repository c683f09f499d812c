"""Slack: the Web API (slack-sdk WebClient) incrementally and resumably, and standard export ZIPs offline.

What is scanned per message: the text, blocks and attachments (each Slack-markup normalised, each a
chunk of its own so line numbers stay those of that field), the previous version when the message
carries one (`previous_message`, Events-API shape), and the content of text-like shared files
(downloaded from `url_private` with the bearer token, only from the API's own host or
files.slack.com, up to a size limit). Channel topics and purposes are scanned too.

Incremental state, per channel, in the checkpoint (see `SlackSource.checkpoint`):

- ``done``: spans ``[lo, hi]`` of top-level message ts that were fully scanned (``"0"`` as ``lo``
  means everything older too). A pass walks history newest first; each message is claimed only
  after its chunks were consumed, so a killed scan leaves a gap that the next pass fills;
- ``threads``: parent ts -> newest reply ts scanned. Every pass re-reads the top-level messages of
  the last ``thread_days`` (measured from the channel's newest message) and fetches only the
  replies newer than that, so replies posted after their parent was scanned are found, once;
- ``edits``: ts -> ``edited.ts`` for edited messages in that window, so an edit is rescanned once;
- ``topic``: when the topic/purpose was last set.

Limits: Slack's Web API serves only the current text of an edited message; edits to messages and
new replies to threads older than the window are seen only by a full rescan (``full=True``).
"""

from __future__ import annotations

import codecs
import copy
import io
import json
import logging
import lzma
import re
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from sprawlguard.errors import SourceError
from sprawlguard.model import Chunk, ItemError, Location, Secret, VerdictStatus
from sprawlguard.sources.base import Checkpoint, is_text_like
from sprawlguard.sources.files import is_binary, read_chunks

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://slack.com/api/"
DEFAULT_MAX_FILE_BYTES = 10 * 1000**2
DEFAULT_THREAD_DAYS = 30.0
PAGE_LIMIT = 200  # Tier 3 methods accept up to 999; non-Marketplace apps are capped at 15 by Slack
NON_MARKETPLACE_LIMIT = 15
ALL_TYPES = ("public_channel", "private_channel", "mpim", "im")
FILE_HOSTS = ("files.slack.com",)
AUTH_ERRORS = {
    "not_authed": "no token was sent",
    "invalid_auth": "the token is not valid",
    "token_revoked": "the token was revoked",
    "token_expired": "the token expired",
    "account_inactive": "the token's user or app was deactivated",
    "team_access_not_granted": "the token has no access to this workspace",
}

TEXT_FILETYPES = frozenset({
    "text", "post", "space", "markdown", "csv", "json", "yaml", "xml", "html", "javascript",
    "typescript", "python", "ruby", "shell", "bash", "go", "java", "kotlin", "scala", "rust", "c",
    "cpp", "csharp", "php", "perl", "swift", "sql", "terraform", "toml", "ini", "properties",
    "dockerfile", "diff", "powershell", "groovy"
})
_TS = re.compile(r"^\d{1,12}\.\d{1,6}$")
_MARKUP = re.compile(r"<([^<>\n]*)>")
_SQUASH = re.compile(r"\s+")
_ERROR_CODE = re.compile(r"^(?:[a-z0-9_.]+|HTTP \d+)$")


# --- Slack markup --------------------------------------------------------------------------------

def _markup(m: re.Match[str]) -> str:
    target, _, label = m.group(1).partition("|")
    if target.startswith("@"):  # <@U123> or <@U123|alice>
        return "@" + label if label else target
    if target.startswith("#"):  # <#C123|general>
        return "#" + label if label else target
    if target.startswith("!"):  # <!here>, <!subteam^S1|@ops>, <!date^...|fallback>
        return label or "@" + target[1:].split("^", 1)[0]
    if label and label not in (target, target.removeprefix("mailto:")):
        return f"{target} {label}"  # keep both: a secret may hide in the URL or in its label
    return target


def normalise(text: str) -> str:
    """Slack mrkdwn -> plain text, never adding or removing a line.

    ``<url|label>`` becomes ``url label``, ``<@U1>`` ``@U1``, ``<#C1|general>`` ``#general``,
    code fences become spaces, and ``&lt; &gt; &amp;`` are unescaped (after the markup is read, so
    an escaped ``&lt;`` never turns into markup).
    """
    text = _MARKUP.sub(_markup, text).replace("```", "   ")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _inline(node: Any) -> str:
    """Rich-text inline elements (text, link, user, channel, emoji...) as text."""
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "link":
        url, label = str(node.get("url", "")), str(node.get("text", "") or "")
        return f"{url} {label}" if label and label != url else url
    if kind == "user":
        return "@" + str(node.get("user_id", ""))
    if kind == "channel":
        return "#" + str(node.get("channel_id", ""))
    if kind == "usergroup":
        return "@" + str(node.get("usergroup_id", ""))
    if kind == "emoji":
        return f":{node.get('name', '')}:"
    if kind == "broadcast":
        return "@" + str(node.get("range", ""))
    return str(node.get("text", "")) if isinstance(node.get("text"), str) else ""


def _block_lines(root: Any) -> list[str]:
    """Every piece of text in Block Kit JSON, one entry per block element, in document order.

    Walked with an explicit stack, not recursion: nesting deeper than Python's recursion limit
    (hostile JSON) must not end the scan.
    """
    out: list[str] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(reversed(node))
            continue
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        if kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
            elements = node.get("elements")
            out.append("".join(_inline(e) for e in elements if isinstance(elements, list)) if elements else "")
        elif kind in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
            out.append(normalise(node["text"]) if kind == "mrkdwn" else node["text"])
        else:
            stack.extend(reversed([v for v in node.values() if isinstance(v, (dict, list))]))
    return out


_ATTACHMENT_FIELDS = ("pretext", "author_name", "title", "title_link", "text", "fallback", "footer",
                      "from_url", "original_url")


def _attachment_lines(attachments: Any) -> list[str]:
    out: list[str] = []
    for a in attachments if isinstance(attachments, list) else []:
        if not isinstance(a, dict):
            continue
        out += [normalise(str(a[k])) for k in _ATTACHMENT_FIELDS if a.get(k)]
        for f in a.get("fields") or []:
            if isinstance(f, dict):
                out += [normalise(str(f[k])) for k in ("title", "value") if f.get(k)]
        out += _block_lines(a.get("blocks") or [])
    return out


def message_texts(msg: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """(field, text) pairs to scan for one message; blocks or attachments repeating text are dropped."""
    parts: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(name: str, text: str) -> None:
        key = _SQUASH.sub(" ", text).strip()
        if key and key not in seen:
            seen.add(key)
            parts.append((prefix + name, text))

    if isinstance(msg.get("text"), str):
        add("text", normalise(msg["text"]))
    if msg.get("blocks"):
        add("blocks", "\n".join(_block_lines(msg["blocks"])))
    if msg.get("attachments"):
        lines = [line for line in dict.fromkeys(_attachment_lines(msg["attachments"]))
                 if _SQUASH.sub(" ", line).strip() not in seen]
        add("attachments", "\n".join(lines))
    previous = msg.get("previous_message")
    if isinstance(previous, dict) and not prefix:
        parts += [p for p in message_texts(previous, "previous.")
                  if _SQUASH.sub(" ", p[1]).strip() not in seen]
    return parts


def is_text_file(f: Mapping[str, Any]) -> bool:
    """Snippets, Slack's code and text filetypes, and text-like names and mimetypes (.env, .txt, .py...)."""
    return (f.get("mode") == "snippet" or str(f.get("filetype") or "") in TEXT_FILETYPES
            or is_text_like(str(f.get("name") or ""), str(f.get("mimetype") or "")))


# --- timestamps and coverage ---------------------------------------------------------------------

def _key(ts: str) -> tuple[int, int]:
    """Slack ts strings compare as (seconds, microseconds); never as floats."""
    sec, _, frac = ts.partition(".")
    return int(sec), int((frac + "000000")[:6])


def _when(ts: str) -> str:
    return datetime.fromtimestamp(_key(ts)[0], tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Spans:
    """Spans of message ts known to be scanned, kept merged and sorted."""

    def __init__(self, spans: Iterable[Sequence[str]]) -> None:
        self.spans = sorted(([str(lo), str(hi)] for lo, hi in spans), key=lambda s: _key(s[0]))

    def covers(self, ts: str) -> bool:
        k = _key(ts)
        return any(_key(lo) <= k <= _key(hi) for lo, hi in self.spans)

    def bottom_covers(self, ts: str) -> bool:
        """Is `ts` and everything older scanned?"""
        return any(lo == "0" and _key(ts) <= _key(hi) for lo, hi in self.spans)

    def add(self, lo: str, hi: str) -> None:
        merged: list[list[str]] = []
        for s in sorted([*self.spans, [lo, hi]], key=lambda s: _key(s[0])):
            if merged and _key(s[0]) <= _key(merged[-1][1]):
                if _key(s[1]) > _key(merged[-1][1]):
                    merged[-1][1] = s[1]
            else:
                merged.append(list(s))
        self.spans = merged


# --- locations -----------------------------------------------------------------------------------

@dataclass
class Workspace:
    """What a location needs to know about the workspace."""

    team_id: str
    name: str = ""
    url: str | None = None  # https://acme.slack.com/ for permalinks


def channel_path(ch: Mapping[str, Any], user_names: Mapping[str, str]) -> str:
    if ch.get("is_im"):
        uid = str(ch.get("user") or "")
        return f"dm:{user_names.get(uid, uid or ch.get('id', ''))}"
    return f"#{ch.get('name') or ch.get('id', '')}"


def message_location(ws: Workspace, ch: Mapping[str, Any], path: str, msg: Mapping[str, Any], field: str,
                     author: str | None, suffix: str = "", extra: Mapping[str, str] | None = None) -> Location:
    """The location of one field of one message: ``slack://TEAM/CHANNEL/TS`` plus a fragment."""
    cid, ts = str(ch["id"]), str(msg["ts"])
    thread_ts = msg.get("thread_ts")
    permalink = None
    if ws.url:
        permalink = f"{ws.url.rstrip('/')}/archives/{cid}/p{ts.replace('.', '')}"
        if thread_ts and thread_ts != ts:
            permalink += f"?thread_ts={thread_ts}&cid={cid}"
    details = {"workspace": ws.name, "team_id": ws.team_id, "channel_id": cid,
               "channel": str(ch.get("name") or path), "ts": ts, "field": field}
    if thread_ts:
        details["thread_ts"] = str(thread_ts)
    if isinstance(msg.get("edited"), dict) and msg["edited"].get("ts"):
        details["edited"] = str(msg["edited"]["ts"])
    for k in ("user", "bot_id", "subtype"):
        if msg.get(k):
            details["user_id" if k == "user" else k] = str(msg[k])
    details.update(extra or {})
    return Location(source="slack", uri=f"slack://{ws.team_id}/{cid}/{ts}{suffix}", path=path,
                    permalink=permalink, author=author, when=_when(ts), details=details)


def _message_author(msg: Mapping[str, Any], user_name: Any) -> str | None:
    """The poster: a user's name, or a bot's name for bot messages."""
    if msg.get("user"):
        return str(user_name(str(msg["user"])))
    bot = msg.get("bot_profile") if isinstance(msg.get("bot_profile"), dict) else {}
    name = msg.get("username") or bot.get("name") or msg.get("bot_id")
    return f"bot:{name}" if name else None


def _text_chunks(ws: Workspace, ch: Mapping[str, Any], path: str, msg: Mapping[str, Any],
                 author: str | None) -> Iterator[Chunk]:
    for name, text in message_texts(msg):
        suffix = "" if name == "text" else f"#{name}"
        yield Chunk(text=text, location=message_location(ws, ch, path, msg, name, author, suffix))


def _topic_chunks(ws: Workspace, ch: Mapping[str, Any], path: str) -> Iterator[Chunk]:
    for name in ("topic", "purpose"):
        value = ch.get(name)
        text = value.get("value") if isinstance(value, dict) else None
        if text:
            details = {"workspace": ws.name, "team_id": ws.team_id, "channel_id": str(ch["id"]),
                       "channel": str(ch.get("name") or path), "field": name}
            loc = Location(source="slack", uri=f"slack://{ws.team_id}/{ch['id']}#{name}", path=path,
                           permalink=f"{ws.url.rstrip('/')}/archives/{ch['id']}" if ws.url else None,
                           details=details)
            yield Chunk(text=normalise(str(text)), location=loc)


def _decode_file(data: bytes, loc: Location) -> Iterator[Chunk | ItemError]:
    if is_binary(data[:8192]):
        yield ItemError(loc, "binary file", kind="binary")
        return
    enc = "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
    yield from read_chunks(io.BytesIO(data), loc, encoding=enc)


# --- the Web API source --------------------------------------------------------------------------

class _Stop(Exception):
    """A problem that ends the whole scan (bad token, rate limit past the retry budget)."""


class _Problem(Exception):
    """A problem with one channel, thread or file; the scan goes on."""


def _rate_limit_handler(max_retries: int) -> Any:
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    class LoggingRateLimitHandler(RateLimitErrorRetryHandler):
        """slack-sdk's 429 handler (sleeps Retry-After), saying when Slack slows the scan down."""

        def prepare_for_next_attempt(self, *, state: Any, request: Any, response: Any = None,
                                     error: Any = None) -> None:
            if response is not None:
                wait = next((v[0] if isinstance(v, list) else v for k, v in response.headers.items()
                             if k.lower() == "retry-after"), "?")
                method = request.url.rsplit("/", 1)[-1]
                log.log(logging.WARNING if str(wait).isdigit() and int(wait) >= 30 else logging.INFO,
                        "Slack rate limit on %s: waiting %s s (Retry-After)%s", method, wait,
                        "; this app seems limited to 1 request/minute (non-Marketplace tier): progress "
                        "is checkpointed, later runs resume" if str(wait).isdigit() and int(wait) >= 30 else "")
            super().prepare_for_next_attempt(state=state, request=request, response=response, error=error)

    return LoggingRateLimitHandler(max_retry_count=max_retries)


@dataclass
class SlackSource:
    """Every conversation a bot or user token can read, incrementally (checkpoint per channel)."""

    token: str = field(repr=False)
    base_url: str | None = None  # for Enterprise proxies and tests; default https://slack.com/api/
    channels: Sequence[str] = ()  # ids or names (with or without '#'); empty = all
    include_archived: bool = False
    types: Sequence[str] = ALL_TYPES
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    thread_days: float = DEFAULT_THREAD_DAYS
    full: bool = False  # ignore the checkpoint: rescan everything (finds edits to old messages)
    page_limit: int = PAGE_LIMIT
    max_retries: int = 6
    timeout: int = 60

    name = "slack"

    def __post_init__(self) -> None:
        self.checkpoint_key: str | None = None
        self.label: str | None = None
        self.workspace: Workspace | None = None
        self._client: Any = None
        self._is_bot = False
        self._state: dict[str, Any] = {"version": 1, "channels": {}}
        self._users: dict[str, str] = {}
        self._users_readable = True
        self._warned_small_pages = False

    # --- connection ------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            from slack_sdk import WebClient
            from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

            self._client = WebClient(token=self.token, base_url=self.base_url or DEFAULT_BASE_URL,
                                     timeout=self.timeout)
            self._client.retry_handlers.append(_rate_limit_handler(self.max_retries))
            self._client.retry_handlers.append(ServerErrorRetryHandler(max_retry_count=2))
        return self._client

    def connect(self) -> Workspace:
        """auth.test: who the token is; a rejected token is a clear SourceError (exit 3)."""
        if self.workspace is not None:
            return self.workspace
        try:
            me = self._call(self.client.auth_test)
        except (_Stop, _Problem) as exc:
            raise SourceError(str(exc), hint="check the token (a bot xoxb- or user xoxp- token "
                              "of the workspace to scan) and --base-url") from None
        team_id = str(me.get("team_id") or "")
        if not team_id:
            raise SourceError("Slack: auth.test answered without a team_id (is --base-url a Slack API?)")
        self._is_bot = bool(me.get("bot_id"))
        self.workspace = Workspace(team_id=team_id, name=str(me.get("team") or ""), url=me.get("url"))
        self.checkpoint_key = f"slack:{team_id}"
        self.label = f"{self.workspace.name or team_id} ({team_id})"
        return self.workspace

    def _call(self, method: Any, **kwargs: Any) -> Any:
        """One API call; Slack's error codes become _Stop (whole scan) or _Problem (one item)."""
        from slack_sdk.errors import SlackApiError, SlackClientError

        try:
            return method(**{k: v for k, v in kwargs.items() if v is not None})
        except SlackApiError as exc:
            resp = exc.response
            data = resp.data if isinstance(resp.data, dict) else {}
            error = str(data.get("error") or f"HTTP {resp.status_code}")
            if not _ERROR_CODE.match(error):  # e.g. an HTML page from a proxy: never echo its text
                error = f"malformed answer from the Slack API (HTTP {resp.status_code}, not JSON)"
            if resp.status_code == 429:
                raise _Stop(f"rate limited by Slack after {self.max_retries} retries; progress is "
                            "saved, run the scan again later") from None
            if error in AUTH_ERRORS:
                raise _Stop(f"Slack rejected the token ({error}): {AUTH_ERRORS[error]}") from None
            if error == "missing_scope":
                raise _Problem(f"missing_scope: the token lacks the scope {data.get('needed') or '?'} "
                               f"(it has: {data.get('provided') or 'none'})") from None
            raise _Problem(error) from None
        except (SlackClientError, OSError) as exc:
            raise _Problem(f"cannot reach the Slack API: {type(exc).__name__}: {str(exc)[:200]}") from None
        except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
            raise _Problem("malformed answer from the Slack API (not JSON)") from None

    def _pages(self, method: Any, key: str, **kwargs: Any) -> Iterator[list[dict[str, Any]]]:
        """Follow `response_metadata.next_cursor` until it is empty; yield each page's items."""
        cursor = None
        seen: set[str] = set()
        while True:
            resp = self._call(method, cursor=cursor, **kwargs)
            items = resp.get(key)
            if not isinstance(items, list):
                raise _Problem(f"malformed answer from the Slack API (no '{key}' list)")
            if (key == "messages" and resp.get("has_more") and len(items) <= NON_MARKETPLACE_LIMIT
                    and kwargs.get("limit", 0) > NON_MARKETPLACE_LIMIT and not self._warned_small_pages):
                self._warned_small_pages = True
                log.warning("Slack serves at most %d messages per call to this app (non-Marketplace "
                            "rate tier); a large workspace will take several runs", len(items))
            yield [i for i in items if isinstance(i, dict)]
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or resp.get("next_cursor")
            if not cursor:
                return
            if cursor in seen:  # a server that repeats a cursor would keep us here forever
                raise _Problem("the Slack API repeated a pagination cursor; listing stopped")
            seen.add(cursor)

    def _user_name(self, uid: str) -> str:
        if uid not in self._users:
            name = uid
            if self._users_readable:
                try:
                    user = self._call(self.client.users_info, user=uid).get("user") or {}
                    profile = user.get("profile") or {}
                    name = (profile.get("display_name") or user.get("real_name") or user.get("name")
                            or uid)
                except _Problem as exc:
                    if str(exc).startswith("missing_scope"):
                        self._users_readable = False  # users:read not granted: keep ids
            self._users[uid] = str(name)
        return self._users[uid]

    # --- channels --------------------------------------------------------------------------------

    def _list_channels(self) -> list[dict[str, Any]]:
        exclude = not (self.include_archived or self.channels)
        try:
            return [c for page in self._pages(self.client.conversations_list, "channels",
                                              types=",".join(self.types), exclude_archived=exclude,
                                              limit=999) for c in page]
        except _Problem as exc:
            if not str(exc).startswith("missing_scope") or len(self.types) == 1:
                raise
        found: list[dict[str, Any]] = []
        missing = []
        for t in self.types:  # list the types this token may read, say which it may not
            try:
                found += [c for page in self._pages(self.client.conversations_list, "channels", types=t,
                                                    exclude_archived=exclude, limit=999) for c in page]
            except _Problem as exc:
                if not str(exc).startswith("missing_scope"):
                    raise
                missing.append(f"{t} ({str(exc).split(': ', 1)[-1]})")
        if len(missing) == len(self.types):
            raise _Problem("missing_scope: the token may not list any conversations: " + "; ".join(missing))
        for m in missing:
            log.warning("Slack: skipping conversation type %s", m)
        return found

    def _selected(self, listed: list[dict[str, Any]]) -> Iterator[dict[str, Any] | ItemError]:
        assert self.workspace is not None
        if not self.channels:
            yield from (c for c in listed if self.include_archived or not c.get("is_archived"))
            return
        by_key = {str(c.get("id")): c for c in listed} | {str(c.get("name")): c for c in listed if c.get("name")}
        for want in self.channels:
            ch = by_key.get(want.lstrip("#"))
            if ch is None:
                loc = Location("slack", f"slack://{self.workspace.team_id}/{want}", path=want)
                yield ItemError(loc, "channel not found, or not visible to this token")
            elif ch.get("is_archived") and not self.include_archived:
                loc = Location("slack", f"slack://{self.workspace.team_id}/{ch['id']}", path=f"#{ch.get('name')}")
                yield ItemError(loc, "channel is archived (add --include-archived)", kind="archived")
            else:
                yield ch

    # --- the scan --------------------------------------------------------------------------------

    def chunks(self, resume: Checkpoint | None = None) -> Iterator[Chunk | ItemError]:
        ws = self.connect()
        if resume and not self.full and isinstance(resume.get("channels"), dict):
            self._state = {"version": 1, "channels": copy.deepcopy(resume["channels"])}
        root = Location("slack", f"slack://{ws.team_id}", path=None)
        try:
            for ch in self._selected(self._list_channels()):
                if isinstance(ch, ItemError):
                    yield ch
                    continue
                path = channel_path(ch, self._users)
                if ch.get("is_im") and ch.get("user"):
                    path = f"dm:{self._user_name(str(ch['user']))}"
                chan_root = Location("slack", f"slack://{ws.team_id}/{ch['id']}", path=path)
                if self._is_bot and ch.get("is_member") is False:
                    log.warning("Slack: not a member of %s; invite the app to scan it", path)
                    yield ItemError(chan_root, "the app is not a member of this channel", kind="not_member")
                    continue
                try:
                    yield from self._channel(ws, ch, path)
                except _Problem as exc:
                    yield ItemError(chan_root, str(exc))
        except _Problem as exc:
            yield ItemError(root, str(exc))
        except _Stop as exc:
            yield ItemError(root, str(exc))

    def _channel_state(self, cid: str) -> dict[str, Any]:
        st = self._state["channels"].setdefault(cid, {})
        st.setdefault("done", [])
        st.setdefault("threads", {})
        st.setdefault("edits", {})
        return st  # type: ignore[no-any-return]

    def _channel(self, ws: Workspace, ch: dict[str, Any], path: str) -> Iterator[Chunk | ItemError]:
        cid = str(ch["id"])
        st = self._channel_state(cid)
        topic_set = [(ch.get(k) or {}).get("last_set", 0) for k in ("topic", "purpose")]
        if st.get("topic") != topic_set:
            yield from _topic_chunks(ws, ch, path)
            st["topic"] = topic_set
        done = _Spans(st["done"])
        window: str | None = None
        prev: str | None = None
        for page in self._pages(self.client.conversations_history, "messages", channel=cid,
                                limit=self.page_limit):
            for msg in page:
                ts = msg.get("ts")
                if not isinstance(ts, str) or not _TS.match(ts):
                    yield ItemError(Location("slack", f"slack://{ws.team_id}/{cid}", path=path),
                                    "malformed message (no valid ts) skipped")
                    continue
                if window is None:
                    window = f"{max(0, _key(ts)[0] - int(self.thread_days * 86400))}.000000"
                if _key(ts) < _key(window) and done.bottom_covers(ts):
                    break  # everything older was scanned and is out of the thread window
                yield from self._message(ws, ch, path, msg, st, done)
                done.add(ts, prev or ts)
                st["done"] = done.spans
                prev = ts
                yield from self._thread(ws, ch, path, msg, st)
            else:
                continue
            break
        else:
            if prev is not None:  # reached the start of the channel
                done.add("0", prev)
                st["done"] = done.spans
        if window is not None:  # the pass is complete: forget threads and edits that left the window
            st["threads"] = {k: v for k, v in st["threads"].items() if _key(k) >= _key(window)}
            st["edits"] = {k: v for k, v in st["edits"].items() if _key(k) >= _key(window)}

    def _message(self, ws: Workspace, ch: dict[str, Any], path: str, msg: dict[str, Any],
                 st: dict[str, Any], done: _Spans) -> Iterator[Chunk | ItemError]:
        """A top-level message from history: scan it unless already done (and not edited since)."""
        ts = msg["ts"]
        if msg.get("thread_ts") not in (None, ts):
            return  # a reply also sent to the channel: scanned with its thread
        edited = msg["edited"].get("ts") if isinstance(msg.get("edited"), dict) else None
        if done.covers(ts) and (not edited or st["edits"].get(ts) == edited):
            return
        if msg.get("subtype") != "tombstone":
            yield from self._content(ws, ch, path, msg)
        if edited:
            st["edits"][ts] = edited

    def _thread(self, ws: Workspace, ch: dict[str, Any], path: str, msg: dict[str, Any],
                st: dict[str, Any]) -> Iterator[Chunk | ItemError]:
        """Replies newer than those already scanned (all of them for a thread not seen before)."""
        ts = msg["ts"]
        latest = msg.get("latest_reply")
        if msg.get("thread_ts") != ts or not isinstance(latest, str) or not _TS.match(latest):
            return
        threads: dict[str, str] = st["threads"]
        if _key(latest) <= _key(threads.get(ts, ts)):
            return
        try:
            for page in self._pages(self.client.conversations_replies, "messages", channel=ch["id"], ts=ts,
                                    oldest=threads.get(ts, ts), limit=self.page_limit):
                for reply in page:
                    rts = reply.get("ts")
                    if not isinstance(rts, str) or not _TS.match(rts) or rts == ts:
                        continue
                    if _key(rts) <= _key(threads.get(ts, ts)):
                        continue
                    reply.setdefault("thread_ts", ts)
                    yield from self._content(ws, ch, path, reply)
                    threads[ts] = rts
        except _Problem as exc:
            loc = message_location(ws, ch, path, msg, "thread", None)
            yield ItemError(loc, f"thread replies: {exc}")

    def _content(self, ws: Workspace, ch: dict[str, Any], path: str,
                 msg: dict[str, Any]) -> Iterator[Chunk | ItemError]:
        author = _message_author(msg, self._user_name)
        yield from _text_chunks(ws, ch, path, msg, author)
        for f in msg["files"] if isinstance(msg.get("files"), list) else []:
            if isinstance(f, dict) and f.get("id"):
                yield from self._file(ws, ch, path, msg, f, author)

    # --- files -----------------------------------------------------------------------------------

    def _file_hosts(self) -> set[str]:
        hosts = set(FILE_HOSTS)
        if self.base_url:
            hosts.add(urlsplit(self.base_url).hostname or "")
        return hosts

    def _file(self, ws: Workspace, ch: dict[str, Any], path: str, msg: dict[str, Any], f: dict[str, Any],
              author: str | None) -> Iterator[Chunk | ItemError]:
        fid, name = str(f["id"]), str(f.get("name") or f.get("title") or f["id"])
        loc = message_location(ws, ch, f"{path}/{name}", msg, "file", author, f"/files/{fid}",
                               {"file_id": fid, "file_name": name})
        if f.get("mode") in ("hidden_by_limit", "tombstone") or f.get("file_access") == "check_file_info":
            return  # not retrievable: nothing to scan
        if not is_text_file(f):
            yield ItemError(loc, f"not a text file ({f.get('mimetype') or f.get('filetype') or '?'})",
                            kind="binary")
            return
        size = f.get("size")
        if isinstance(size, int) and size > self.max_file_bytes:
            yield ItemError(loc, f"file larger than {self.max_file_bytes} bytes", kind="too_large")
            return
        url = str(f.get("url_private_download") or f.get("url_private") or "")
        host = urlsplit(url).hostname
        if host not in self._file_hosts():
            # The token is only ever sent to Slack's own hosts, never to a URL taken from content.
            yield ItemError(loc, f"file {fid} is on an unexpected host ({host}); not downloaded")
            return
        try:
            data = self._download(url, f)
        except _Problem as exc:
            yield ItemError(loc, f"file {fid}: {exc}")
            return
        if len(data) > self.max_file_bytes:
            yield ItemError(loc, f"file larger than {self.max_file_bytes} bytes", kind="too_large")
            return
        yield from _decode_file(data, loc)

    def _download(self, url: str, f: Mapping[str, Any]) -> bytes:
        req = urllib.request.Request(url)
        req.add_unredirected_header("Authorization", f"Bearer {self.token}")  # not sent on redirects
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - checked host
                ctype = resp.headers.get("Content-Type", "")
                if "text/html" in ctype and "html" not in str(f.get("mimetype") or ""):
                    raise _Problem("Slack answered with a login page instead of the file (does the "
                                   "token have the files:read scope?)")
                return bytes(resp.read(self.max_file_bytes + 1))
        except urllib.error.HTTPError as exc:
            raise _Problem(f"download failed: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise _Problem(f"download failed: {type(exc).__name__}") from None

    def checkpoint(self) -> Checkpoint:
        """Per-channel ``done`` spans, thread and edit watermarks (JSON-able)."""
        return copy.deepcopy(self._state)

    def estimate(self) -> int | None:
        return None

    # --- notification ----------------------------------------------------------------------------

    def notify(self, channel: str, secrets: Iterable[Secret]) -> int:
        """Post a redacted summary of the new live secrets to `channel`; returns how many it named."""
        live = [s for s in secrets if s.new and s.verdict is not None and s.verdict.status is VerdictStatus.LIVE]
        if not live:
            return 0
        try:
            self._call(self.client.chat_postMessage, channel=channel, text=summary_text(live))
        except (_Problem, _Stop) as exc:
            raise SourceError(f"Slack: cannot post the summary to {channel}: {exc}",
                              hint="the token needs chat:write and the app must be in that channel") from None
        return len(live)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def summary_text(secrets: Sequence[Secret]) -> str:
    """A Slack message naming each secret by rule, redacted preview and first place; never a value."""
    lines = [f"sprawlguard found {len(secrets)} new live secret{'s' if len(secrets) != 1 else ''}:"]
    for s in secrets:
        where = ""
        if s.exposures:
            loc = s.exposures[0].location
            where = f" at {loc.permalink or loc.uri}"
            if len(s.exposures) > 1:
                where += f" (+{len(s.exposures) - 1} more)"
        lines.append(f"- {_escape(s.rule_name)} `{_escape(s.preview)}` risk {s.risk}{_escape(where)}")
    return "\n".join(lines)


# --- the export ZIP source -----------------------------------------------------------------------

DEFAULT_MAX_ENTRY_BYTES = 256 * 1000**2
_MAX_RATIO = 200  # uncompressed/compressed beyond this (and beyond 10 MB) looks like a zip bomb
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")
_LISTS = (("channels.json", {}), ("groups.json", {"is_private": True}), ("mpims.json", {"is_mpim": True}),
          ("dms.json", {"is_im": True}))


@dataclass
class SlackExportSource:
    """A standard Slack export ZIP, offline, one day file in memory at a time; nothing is extracted."""

    path: Path
    max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES

    name = "slack"
    checkpoint_key = None

    @property
    def paths(self) -> list[Path]:
        return [self.path]

    def _read(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
        if info.flag_bits & 0x1:
            raise _Problem("encrypted entry")
        if info.file_size > self.max_entry_bytes:
            raise _Problem(f"entry larger than {self.max_entry_bytes} bytes")
        if info.file_size > 10 * 1000**2 and info.file_size > _MAX_RATIO * max(info.compress_size, 1):
            raise _Problem("suspicious compression ratio (zip bomb?)")
        with zf.open(info) as fh:
            data = fh.read(self.max_entry_bytes + 1)  # the header's size may lie: cap what is read
        if len(data) > self.max_entry_bytes:
            raise _Problem(f"entry larger than {self.max_entry_bytes} bytes")
        return bytes(data)

    def _json(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Any:
        try:
            return json.loads(self._read(zf, info).decode("utf-8-sig", errors="replace"))
        except (ValueError, RuntimeError, EOFError, OSError, zipfile.BadZipFile, zlib.error, lzma.LZMAError) as exc:
            # RuntimeError: RecursionError (JSON nested too deep), encrypted or unsupported entries
            raise _Problem(f"malformed JSON or ZIP entry: {type(exc).__name__}") from None

    def _json_list(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> list[Any]:
        value = self._json(zf, info)
        if not isinstance(value, list):
            raise _Problem("expected a JSON array")
        return value

    def chunks(self, resume: Checkpoint | None = None) -> Iterator[Chunk | ItemError]:
        try:
            zf = zipfile.ZipFile(self.path)
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise SourceError(f"{self.path}: not a readable Slack export ZIP ({type(exc).__name__})") from None
        with zf:
            yield from self._scan(zf)

    def _scan(self, zf: zipfile.ZipFile) -> Iterator[Chunk | ItemError]:
        entries: dict[str, list[zipfile.ZipInfo]] = {}
        top: dict[str, zipfile.ZipInfo] = {}
        for info in zf.infolist():
            parts = PurePosixPath(info.filename).parts
            if info.is_dir() or info.filename.startswith("/") or ".." in parts or "\\" in info.filename:
                continue
            if len(parts) == 1:
                top[parts[0]] = info
            elif len(parts) == 2 and _DAY.match(parts[1]):
                entries.setdefault(parts[0], []).append(info)
        if "channels.json" not in top and not entries:
            raise SourceError(f"{self.path}: not a Slack export (no channels.json, no channel folders)")
        zloc = Location("slack", f"slack-export:{self.path.name}", path=str(self.path))
        users: dict[str, str] = {}
        team_id = ""
        for name in ("users.json", "org_users.json"):
            if name in top:
                try:
                    for u in self._json_list(zf, top[name]):
                        if isinstance(u, dict) and u.get("id"):
                            prof = u.get("profile") if isinstance(u.get("profile"), dict) else {}
                            users[str(u["id"])] = str(prof.get("display_name") or u.get("real_name")
                                                      or u.get("name") or u["id"])
                            team_id = team_id or str(u.get("team_id") or "")
                except _Problem as exc:
                    yield ItemError(_entry(zloc, name), str(exc))
        ws = Workspace(team_id=team_id or f"export-{self.path.stem}")
        channels: list[dict[str, Any]] = []
        for name, flags in _LISTS:
            if name in top:
                try:
                    listed = self._json_list(zf, top[name])
                except _Problem as exc:
                    yield ItemError(_entry(zloc, name), str(exc))
                    continue
                channels += [{**flags, **c} for c in listed if isinstance(c, dict) and c.get("id")]
        folders = set(entries)
        for ch in channels:
            folder = str(ch.get("name") or ch["id"]) if not ch.get("is_im") else str(ch["id"])
            if folder not in entries and str(ch["id"]) in entries:
                folder = str(ch["id"])
            folders.discard(folder)
            yield from self._channel(zf, ws, ch, entries.get(folder, []), users)
        for folder in sorted(folders):  # day folders without an entry in the channel lists
            yield from self._channel(zf, ws, {"id": folder, "name": folder}, entries[folder], users)

    def _channel(self, zf: zipfile.ZipFile, ws: Workspace, ch: dict[str, Any], days: list[zipfile.ZipInfo],
                 users: Mapping[str, str]) -> Iterator[Chunk | ItemError]:
        path = channel_path(ch, users)
        yield from _topic_chunks(ws, ch, path)
        for info in sorted(days, key=lambda i: i.filename):
            try:
                messages = self._json(zf, info)
                if not isinstance(messages, list):
                    raise _Problem("a day file must hold a JSON array of messages")
            except _Problem as exc:
                yield ItemError(Location("slack", f"slack-export:{self.path.name}/{info.filename}",
                                         path=info.filename), str(exc))
                continue
            for msg in messages:
                if not isinstance(msg, dict) or not isinstance(msg.get("ts"), str) or not _TS.match(msg["ts"]):
                    continue
                author = _message_author(msg, lambda uid: users.get(uid, uid))
                yield from _text_chunks(ws, ch, path, msg, author)
                files = msg["files"] if isinstance(msg.get("files"), list) else []
                for f in files:  # file contents are not in exports: scan the metadata
                    if isinstance(f, dict) and f.get("id"):
                        text = "\n".join(str(f[k]) for k in ("name", "title", "preview") if f.get(k))
                        if text:
                            loc = message_location(ws, ch, f"{path}/{f.get('name') or f['id']}", msg, "file",
                                                   author, f"/files/{f['id']}", {"file_id": str(f["id"])})
                            yield Chunk(text=text, location=loc)

    def checkpoint(self) -> Checkpoint:
        return {}

    def estimate(self) -> int | None:
        return None


def _entry(loc: Location, name: str) -> Location:
    return Location(loc.source, f"{loc.uri}/{name}", path=name)
