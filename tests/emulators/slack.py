"""A loopback Slack Web API emulator, seeded from a data directory, for the real slack-sdk client.

Data directory (every file optional except ``tokens.json``)::

    team.json            {"id": "T0001", "name": "Acme", "domain": "acme"}
    tokens.json          {"<token>": {"type": "bot"|"user", "user_id": "U0BOT", "scopes": [...],
                                      "revoked": false}}
    users.json           [{"id": "U0A", "name": "alice", "real_name": "Alice", ...}, ...]
    channels.json        [{"id": "C01", "name": "general", "is_private": false, "is_im": false,
                           "is_mpim": false, "is_archived": false, "members": ["U0A", "U0BOT"],
                           "topic": {"value": ""}, "purpose": {"value": ""}}, ...]
    messages/<CHANNEL>.json   [{"ts": "1700000000.000100", "user": "U0A", "text": "...",
                                "thread_ts": "...", "files": ["F01"], "attachments": [...],
                                "deleted": false}, ...]   (replies carry their parent's thread_ts)
    files.json           {"F01": {"name": "prod.env", "mimetype": "text/plain", "filetype": "text",
                                  "mode": "hosted", "content": "..."}}

Behaviour, as documented by Slack (see shared/reference/connectors.md section 1 and 5.4):
form-encoded POSTs to ``/api/<method>``; ``ok: false`` with HTTP 200 for logical errors
(``not_authed``, ``invalid_auth``, ``token_revoked``, ``missing_scope`` with ``needed``/``provided``,
``not_in_channel``, ``channel_not_found``, ``invalid_cursor``); cursor pagination with an empty
``next_cursor`` at the end; history newest first with exclusive ``oldest``/``latest``; threads (parent
in history with ``reply_count``/``latest_reply``, replies only via ``conversations.replies``, parent
first); edits (only the current text is served, ``edited`` set); deletions (gone, or a ``tombstone``
parent when replies remain); archived channels; ``url_private`` file downloads that need the bearer
token and otherwise answer **200 with an HTML login page**. ``page_cap = 15`` switches on the
non-Marketplace page size. Faults (429 + integer Retry-After, resets) come from the base class.

Run standalone: ``python -m tests.emulators.slack --data DIR`` prints its URL; point the CLI at it
with ``sprawlguard scan slack --base-url URL/api/``.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
from pathlib import Path
from typing import Any

from tests.emulators.base import Emulator, Request, Response, data_dir_arg

LOGIN_PAGE = "<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>"

# Scope needed to read (list) and to read history of each conversation type.
_READ_SCOPE = {"public": "channels:read", "private": "groups:read", "im": "im:read", "mpim": "mpim:read"}
_HISTORY_SCOPE = {"public": "channels:history", "private": "groups:history", "im": "im:history",
                  "mpim": "mpim:history"}
_TYPE_NAMES = {"public_channel": "public", "private_channel": "private", "im": "im", "mpim": "mpim"}


def _ts_key(ts: str) -> tuple[int, int]:
    sec, _, frac = ts.partition(".")
    return int(sec), int(frac.ljust(6, "0")[:6] or 0)


def _arg(req: Request, name: str) -> str | None:
    """A parameter from the query string, the form body, or a JSON body (chat.postMessage sends JSON)."""
    if req.headers.get("content-type", "").startswith("application/json"):
        value = (req.json() or {}).get(name)
        if value is not None:
            return "1" if value is True else "0" if value is False else str(value)
    return req.arg(name)


def _kind(ch: dict[str, Any]) -> str:
    if ch.get("is_im"):
        return "im"
    if ch.get("is_mpim"):
        return "mpim"
    return "private" if ch.get("is_private") else "public"


class SlackApiError(Exception):
    """An `ok: false` answer; extra fields (needed/provided) go into the body."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.body = {"ok": False, "error": error, **extra}


class SlackEmulator(Emulator):
    """The Slack Web API subset a scanner uses, with state a test can change while it runs."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        data_dir = Path(data_dir)

        def load(name: str, default: Any) -> Any:
            p = data_dir / name
            return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else default

        self.team: dict[str, Any] = {"id": "T0001", "name": "Acme", "domain": "acme", **load("team.json", {})}
        self.tokens: dict[str, dict[str, Any]] = load("tokens.json", {})
        self.users: dict[str, dict[str, Any]] = {u["id"]: u for u in load("users.json", [])}
        self.channels: dict[str, dict[str, Any]] = {c["id"]: c for c in load("channels.json", [])}
        self.files: dict[str, dict[str, Any]] = load("files.json", {})
        self.messages: dict[str, list[dict[str, Any]]] = {cid: [] for cid in self.channels}
        for cid in self.channels:
            self.messages[cid] = list(load(f"messages/{cid}.json", []))
        self.page_cap: int | None = None  # 15 = the non-Marketplace limit for history/replies
        self._clock = max([_ts_key(m["ts"])[0] for ms in self.messages.values() for m in ms] or [1_700_000_000])
        self._state_lock = threading.Lock()
        for method, fn in {
            "auth.test": self._auth_test, "conversations.list": self._conversations_list,
            "conversations.history": self._history, "conversations.replies": self._replies,
            "conversations.info": self._conversations_info, "users.info": self._users_info,
            "chat.postMessage": self._post_message, "search.messages": self._search,
        }.items():
            self.route("POST", f"/api/{method}", self._api(fn))
            self.route("GET", f"/api/{method}", self._api(fn))
        self.route("GET", "/files-pri/", self._download)

    # --- state changes a test can make ------------------------------------------------------------

    def next_ts(self) -> str:
        with self._state_lock:
            self._clock += 1
            return f"{self._clock}.000100"

    def post(self, channel: str, text: str, user: str = "U0A", thread_ts: str | None = None,
             **extra: Any) -> str:
        """Add a message (a reply when `thread_ts` is given); returns its ts."""
        ts = self.next_ts()
        msg = {"ts": ts, "user": user, "text": text, "type": "message", **extra}
        if thread_ts:
            msg["thread_ts"] = thread_ts
        self.messages[channel].append(msg)
        return ts

    def edit(self, channel: str, ts: str, text: str) -> None:
        """Change a message's text; like Slack, only the current text is served afterwards."""
        msg = self._find(channel, ts)
        msg.setdefault("_previous", []).append(msg["text"])
        msg["text"] = text
        msg["edited"] = {"user": msg.get("user", ""), "ts": self.next_ts()}

    def delete(self, channel: str, ts: str) -> None:
        self._find(channel, ts)["deleted"] = True

    def _find(self, channel: str, ts: str) -> dict[str, Any]:
        return next(m for m in self.messages[channel] if m["ts"] == ts)

    # --- plumbing ----------------------------------------------------------------------------------

    def _api(self, fn: Any) -> Any:
        def handler(req: Request) -> Response:
            try:
                token = self._token(req)
                return Response(200, {"ok": True, **fn(req, token)})
            except SlackApiError as exc:
                return Response(200, exc.body)

        return handler

    def _token(self, req: Request) -> dict[str, Any]:
        auth = req.headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else _arg(req, "token")
        if not token:
            raise SlackApiError("not_authed")
        info = self.tokens.get(token)
        if info is None:
            raise SlackApiError("invalid_auth")
        if info.get("revoked"):
            raise SlackApiError("token_revoked")
        return info

    @staticmethod
    def _need(token: dict[str, Any], scope: str) -> None:
        scopes = token.get("scopes", [])
        if scope not in scopes:
            raise SlackApiError("missing_scope", needed=scope, provided=",".join(scopes))

    def _channel(self, req: Request, token: dict[str, Any]) -> dict[str, Any]:
        ch = self.channels.get(_arg(req, "channel") or "")
        if ch is None or not self._visible(ch, token):
            raise SlackApiError("channel_not_found")
        return ch

    @staticmethod
    def _visible(ch: dict[str, Any], token: dict[str, Any]) -> bool:
        return _kind(ch) == "public" or token.get("user_id") in ch.get("members", [])

    def _public(self, ch: dict[str, Any], token: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in ch.items() if k != "members"}
        out.setdefault("is_archived", False)
        out["is_member"] = token.get("user_id") in ch.get("members", [])
        out["is_channel"] = _kind(ch) == "public"
        out["is_group"] = _kind(ch) == "private"
        return out

    @staticmethod
    def _page(items: list[Any], req: Request, limit: int, key: Any) -> tuple[list[Any], str]:
        """Cursor pagination; the cursor names the last item served, so inserts do not shift pages."""
        cursor = _arg(req, "cursor")
        if cursor:
            try:
                after = base64.urlsafe_b64decode(cursor.encode()).decode()
            except (ValueError, UnicodeDecodeError):
                raise SlackApiError("invalid_cursor") from None
            if not after.startswith("next:"):
                raise SlackApiError("invalid_cursor")
            keys = [key(i) for i in items]
            if after[5:] not in keys:
                raise SlackApiError("invalid_cursor")
            items = items[keys.index(after[5:]) + 1:]
        page = items[:limit]
        more = len(items) > limit
        nxt = base64.urlsafe_b64encode(f"next:{key(page[-1])}".encode()).decode() if more else ""
        return page, nxt

    def _limit(self, req: Request, default: int, maximum: int, capped: bool = False) -> int:
        try:
            n = int(_arg(req, "limit") or default)
        except ValueError:
            raise SlackApiError("invalid_limit") from None
        n = max(1, min(n, maximum))
        return min(n, self.page_cap) if capped and self.page_cap else n

    # --- methods -----------------------------------------------------------------------------------

    def _auth_test(self, req: Request, token: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"https://{self.team['domain']}.slack.com/", "team": self.team["name"],
                "team_id": self.team["id"], "user_id": token.get("user_id"),
                "bot_id": token.get("bot_id"), "is_enterprise_install": False}

    def _conversations_list(self, req: Request, token: dict[str, Any]) -> dict[str, Any]:
        types = [t.strip() for t in (_arg(req, "types") or "public_channel").split(",") if t.strip()]
        kinds = []
        for t in types:
            if t not in _TYPE_NAMES:
                raise SlackApiError("invalid_types")
            self._need(token, _READ_SCOPE[_TYPE_NAMES[t]])
            kinds.append(_TYPE_NAMES[t])
        exclude_archived = _arg(req, "exclude_archived") in ("1", "true")
        chans = [self._public(c, token) for c in self.channels.values()
                 if _kind(c) in kinds and self._visible(c, token)
                 and not (exclude_archived and c.get("is_archived"))]
        page, nxt = self._page(chans, req, self._limit(req, 100, 999), key=lambda c: c["id"])
        return {"channels": page, "response_metadata": {"next_cursor": nxt}}

    def _conversations_info(self, req: Request, token: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(req, token)
        self._need(token, _READ_SCOPE[_kind(ch)])
        return {"channel": self._public(ch, token)}

    def _users_info(self, req: Request, token: dict[str, Any]) -> dict[str, Any]:
        self._need(token, "users:read")
        user = self.users.get(_arg(req, "user") or "")
        if user is None:
            raise SlackApiError("user_not_found")
        return {"user": user}

    def _readable(self, req: Request, token: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(req, token)
        self._need(token, _HISTORY_SCOPE[_kind(ch)])
        if token.get("type") == "bot" and token.get("user_id") not in ch.get("members", []):
            raise SlackApiError("not_in_channel")
        return ch

    def _threads(self, cid: str) -> dict[str, list[dict[str, Any]]]:
        """Parent ts -> its (not deleted) replies."""
        index: dict[str, list[dict[str, Any]]] = {}
        for m in self.messages[cid]:
            if m.get("thread_ts") not in (None, m["ts"]) and not m.get("deleted"):
                index.setdefault(m["thread_ts"], []).append(m)
        return index

    def _served(self, cid: str, msg: dict[str, Any],
                threads: dict[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
        """The message as the API shows it now: current text, thread fields, expanded files."""
        replies = threads.get(msg["ts"], [])
        if msg.get("deleted"):
            if not replies:
                return None
            return {"type": "message", "subtype": "tombstone", "ts": msg["ts"], "thread_ts": msg["ts"],
                    "text": "This message was deleted.", "hidden": True, "user": "USLACKBOT",
                    "reply_count": len(replies), "latest_reply": max((r["ts"] for r in replies), key=_ts_key)}
        out = {k: copy.deepcopy(v) for k, v in msg.items() if not k.startswith("_") and k != "deleted"}
        out.setdefault("type", "message")
        if replies:
            out["thread_ts"] = msg["ts"]
            out["reply_count"] = len(replies)
            out["reply_users"] = sorted({r.get("user", "") for r in replies})
            out["reply_users_count"] = len(out["reply_users"])
            out["latest_reply"] = max((r["ts"] for r in replies), key=_ts_key)
        if msg.get("files"):
            out["files"] = [self._file_object(fid) for fid in msg["files"]]
        return out

    def _file_object(self, fid: str) -> dict[str, Any]:
        f = self.files[fid]
        obj = {k: v for k, v in f.items() if k not in ("content", "url_private")}
        obj["id"] = fid
        obj.setdefault("mode", "hosted")
        obj["size"] = len(f.get("content", "").encode())
        url = f.get("url_private") or f"{self.url}/files-pri/{self.team['id']}-{fid}/{f['name']}"
        obj["url_private"] = obj["url_private_download"] = url
        return obj

    @staticmethod
    def _in_range(ts: str, req: Request) -> bool:
        inclusive = _arg(req, "inclusive") in ("1", "true")
        oldest, latest = _arg(req, "oldest"), _arg(req, "latest")
        k = _ts_key(ts)
        if oldest and (k < _ts_key(oldest) or (k == _ts_key(oldest) and not inclusive)):
            return False
        return not (latest and (k > _ts_key(latest) or (k == _ts_key(latest) and not inclusive)))

    def _history(self, req: Request, token: dict[str, Any]) -> dict[str, Any]:
        ch = self._readable(req, token)
        threads = self._threads(ch["id"])
        top = [m for m in self.messages[ch["id"]]
               if (m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast")
               and self._in_range(m["ts"], req) and (not m.get("deleted") or m["ts"] in threads)]
        top.sort(key=lambda m: _ts_key(m["ts"]), reverse=True)
        page, nxt = self._page(top, req, self._limit(req, 100, 999, capped=True), key=lambda m: m["ts"])
        served = [self._served(ch["id"], m, threads) for m in page]
        return {"messages": served, "has_more": bool(nxt), "pin_count": 0,
                "response_metadata": {"next_cursor": nxt}}

    def _replies(self, req: Request, token: dict[str, Any]) -> dict[str, Any]:
        ch = self._readable(req, token)
        parent_ts = _arg(req, "ts") or ""
        parent = next((m for m in self.messages[ch["id"]] if m["ts"] == parent_ts), None)
        threads = self._threads(ch["id"])
        head = self._served(ch["id"], parent, threads) if parent else None
        if head is None:
            raise SlackApiError("thread_not_found")
        replies = sorted((m for m in self.messages[ch["id"]]
                          if m.get("thread_ts") == parent_ts and m["ts"] != parent_ts and not m.get("deleted")
                          and self._in_range(m["ts"], req)), key=lambda m: _ts_key(m["ts"]))
        # Like Slack, the parent always comes first, whatever oldest/latest say.
        items = [head] + [self._served(ch["id"], m, threads) for m in replies]
        page, nxt = self._page(items, req, self._limit(req, 100, 999, capped=True), key=lambda m: m["ts"])
        return {"messages": page, "has_more": bool(nxt), "response_metadata": {"next_cursor": nxt}}

    def _post_message(self, req: Request, token: dict[str, Any]) -> dict[str, Any]:
        self._need(token, "chat:write")
        target = (_arg(req, "channel") or "").lstrip("#")
        ch = self.channels.get(target) or next((c for c in self.channels.values() if c.get("name") == target), None)
        if ch is None:
            raise SlackApiError("channel_not_found")
        if ch.get("is_archived"):
            raise SlackApiError("is_archived")
        text = _arg(req, "text") or ""
        ts = self.post(ch["id"], text, user=token.get("user_id", ""))
        return {"channel": ch["id"], "ts": ts, "message": {"text": text, "ts": ts}}

    def _search(self, req: Request, token: dict[str, Any]) -> dict[str, Any]:
        if token.get("type") == "bot":
            raise SlackApiError("not_allowed_token_type")
        self._need(token, "search:read")
        return {"messages": {"matches": [], "paging": {"count": 20, "total": 0, "page": 1, "pages": 0}}}

    def _download(self, req: Request) -> Response:
        """`url_private`: the file with a valid bearer token and files:read, else a 200 login page."""
        name = req.path[len("/files-pri/"):]
        fid = name.split("/", 1)[0].rsplit("-", 1)[-1]
        auth = req.headers.get("authorization", "")
        info = self.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        f = self.files.get(fid)
        if info is None or info.get("revoked") or "files:read" not in info.get("scopes", []) or f is None:
            return Response(200, LOGIN_PAGE, {"Content-Type": "text/html; charset=utf-8"})
        return Response(200, f.get("content", "").encode(), {"Content-Type": f.get("mimetype", "text/plain")})


def main() -> None:
    SlackEmulator(data_dir_arg(__doc__.splitlines()[0], "the seed data")).serve_forever()


if __name__ == "__main__":
    main()
