"""A loopback Confluence emulator: Cloud (REST v2 under /wiki, plus the v1 CQL search) or Data Center (v1).

Seeded from `<data dir>/confluence.json` (or a dict)::

    {"deployment": "cloud" | "datacenter", "context_path": "/confluence",     # DC only (Cloud: /wiki)
     "auth": {"email": "...", "api_token": "...", "pat": "..."}, "users": [{"id": "u1", ...}], "max_page": 25,
     "spaces": [{"id": "100", "key": "ENG", "name": "Engineering"}],
     "content": [{"id": "2001", "type": "page" | "blogpost", "space": "ENG", "title": "Deploy",
                  "status": "current" | "trashed",
                  "versions": [{"body": "<p>storage XHTML</p>", "author": "u1", "when": "2025-..."}],  # last = current
                  "deleted_versions": [2],
                  "comments": [{"id": "3001", "location": "footer" | "inline", "body": "<p>..</p>",
                                "author": "u1", "when": "...", "parent": null}],
                  "attachments": [{"id": "att1", "title": "x.env", "mediaType": "text/plain",
                                   "content": "...", "author": "u1", "when": "..."}]}]}

Behaviours: v2 cursor pagination with relative `_links.next` (carrying /wiki) and a `Link` header,
`limit` capped at `max_page` (250 like Cloud by default), `body-format` honoured, `sort=-modified-date`,
old versions via `?version=N` (v2) or `status=historical&version=N` (v1), deleted versions 404,
footer and inline comments with replies, attachments with relative download links, a CQL subset
(type, space, lastmodified >= / >, ORDER BY lastmodified) with `_links.next` (cursor on Cloud,
start on DC, relative to `_links.base` which carries the context path), 401 for bad/revoked
credentials, trashed content invisible. Mutations: `edit`, `add_comment`, `trash`.

Run standalone: `python -m tests.emulators.confluence --data DIR` prints the site URL.
"""

from __future__ import annotations

import copy
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from tests.emulators.atlassian import (
    Auth,
    Clock,
    load_seed,
    page_token,
    parse_ts,
    query_date,
    read_token,
    ts,
)
from tests.emulators.base import Emulator, Request, Response, data_dir_arg

_CQL = [
    (re.compile(r"type\s+in\s*\(([^)]*)\)", re.I), "type_in"),
    (re.compile(r"type\s*=\s*\"?(\w+)\"?", re.I), "type_eq"),
    (re.compile(r"space\s+in\s*\(([^)]*)\)", re.I), "space_in"),
    (re.compile(r"space\s*=\s*\"?([\w~]+)\"?", re.I), "space_eq"),
    (re.compile(r"lastmodified\s*(>=|>)\s*(\"[^\"]*\"|'[^']*')", re.I), "modified"),
]


def _names(text: str) -> list[str]:
    return [p.strip().strip("\"'") for p in text.split(",") if p.strip()]


class ConfluenceEmulator(Emulator):
    def __init__(self, data: dict[str, Any] | str | Path) -> None:
        super().__init__()
        seed = load_seed(data, "confluence.json")
        self.cloud = seed.get("deployment", "cloud") == "cloud"
        self.ctx = "/wiki" if self.cloud else str(seed.get("context_path", "")).rstrip("/")
        self.auth = Auth(seed.get("auth") or {})
        self.users = {u["id"]: u for u in seed.get("users", [])}
        self.me = seed.get("me") or next(iter(self.users), None)
        self.max_page = int(seed.get("max_page", 250))
        self.spaces = [dict(s) for s in seed.get("spaces", [])]
        self.content: dict[str, dict[str, Any]] = {c["id"]: copy.deepcopy(c) for c in seed.get("content", [])}
        self.clock = Clock()
        self._data_lock = threading.Lock()
        self.route("GET", f"{self.ctx}/", self._answer)

    @property
    def base(self) -> str:
        """The URL to give the client: <host>/wiki on Cloud, <host><context path> on DC."""
        return self.url + self.ctx

    standalone_url = base  # printed by serve_forever()

    # --- mutations ---------------------------------------------------------------------------

    def edit(self, cid: str, body: str, author: str | None = None) -> int:
        with self._data_lock:
            c = self.content[cid]
            c["versions"].append({"body": body, "author": author or self.me, "when": ts(self.clock.now())})
            return len(c["versions"])

    def add_comment(self, cid: str, body: str, location: str = "footer", parent: str | None = None,
                    author: str | None = None) -> str:
        with self._data_lock:
            new_id = str(70000 + sum(len(c.get("comments", [])) for c in self.content.values()))
            self.content[cid].setdefault("comments", []).append(
                {"id": new_id, "location": location, "body": body, "author": author or self.me,
                 "when": ts(self.clock.now()), "parent": parent})
            return new_id

    def trash(self, cid: str) -> None:
        with self._data_lock:
            self.content[cid]["status"] = "trashed"

    # --- rendering ---------------------------------------------------------------------------

    def _space(self, key: str) -> dict[str, Any]:
        return next((s for s in self.spaces if s["key"] == key), {"id": key, "key": key, "name": key})

    def _version_no(self, c: dict[str, Any]) -> int:
        return len(c["versions"])

    def _modified(self, c: dict[str, Any]) -> str:
        return c["versions"][-1]["when"]

    def _v1_user(self, uid: str | None) -> dict[str, Any]:
        u = self.users.get(uid or "", {"id": uid or "anonymous"})
        return {"type": "known", "username": u["id"], "userKey": f"key-{u['id']}",
                "displayName": u.get("displayName", u["id"]), "email": u.get("email")}

    def _webui(self, c: dict[str, Any]) -> str:
        kind = "pages" if c["type"] == "page" else "blog"
        return f"/spaces/{c['space']}/{kind}/{c['id']}/{quote(c['title'])}"

    def _v2_version(self, v: dict[str, Any], n: int) -> dict[str, Any]:
        return {"number": n, "createdAt": v.get("when", ""), "authorId": v.get("author"), "message": "", "minorEdit": False}

    def _v2_content(self, c: dict[str, Any], n: int, body_format: str) -> dict[str, Any]:
        v = c["versions"][n - 1]
        out = {"id": c["id"], "status": c.get("status", "current"), "title": c["title"],
               "spaceId": self._space(c["space"])["id"], "authorId": c["versions"][0].get("author"),
               "createdAt": c["versions"][0]["when"], "version": self._v2_version(v, n),
               "_links": {"webui": self._webui(c), "tinyui": f"/x/{c['id']}"}}
        if body_format == "storage":
            out["body"] = {"storage": {"value": v["body"], "representation": "storage"}}
        return out

    def _v1_content(self, c: dict[str, Any], n: int, expand: str) -> dict[str, Any]:
        v = c["versions"][n - 1]
        out: dict[str, Any] = {
            "id": c["id"], "type": c["type"], "status": "current" if n == len(c["versions"]) else "historical",
            "title": c["title"], "space": {"key": c["space"], "name": self._space(c["space"]).get("name")},
            "version": {"number": n, "when": v["when"], "by": self._v1_user(v.get("author"))},
            "_links": {"webui": self._webui(c), "base": self.base, "context": self.ctx}}
        if "body.storage" in expand:
            out["body"] = {"storage": {"value": v["body"], "representation": "storage"}}
        return out

    # --- CQL ---------------------------------------------------------------------------------

    def _select(self, cql: str) -> list[dict[str, Any]]:
        body = re.split(r"\border\s+by\b", cql, flags=re.I)[0]
        tz = (self.users.get(self.me or "") or {}).get("timeZone", "UTC")
        tests, rest = [], body
        for rx, kind in _CQL:
            tests += [(kind, m) for m in rx.finditer(rest)]
            rest = rx.sub(" ", rest)
        if re.sub(r"\band\b|[()\s]", "", rest, flags=re.I):
            raise ValueError(f"Could not parse cql : {cql}")
        out = []
        for c in self.content.values():
            if c.get("status", "current") != "current":
                continue
            ok = True
            for kind, m in tests:
                if kind == "type_in":
                    ok &= c["type"] in _names(m.group(1))
                elif kind == "type_eq":
                    ok &= c["type"] == m.group(1)
                elif kind == "space_in":
                    ok &= c["space"] in _names(m.group(1))
                elif kind == "space_eq":
                    ok &= c["space"] == m.group(1)
                else:
                    when, mod = query_date(m.group(2), tz), parse_ts(self._modified(c))
                    ok &= mod >= when if m.group(1) == ">=" else mod > when
            if ok:
                out.append(c)
        return sorted(out, key=lambda c: (parse_ts(self._modified(c)), c["id"]))

    # --- handlers ----------------------------------------------------------------------------

    def _answer(self, req: Request) -> Response:
        denied = self.auth.check(req)
        if denied:
            return denied
        path = req.path[len(self.ctx):].rstrip("/")
        args = {k: v[0] for k, v in req.query.items()}
        with self._data_lock:
            m = re.match(r"/download/attachments/([^/]+)/([^/]+)$", path)
            if m:
                return self._download(m.group(1), m.group(2))
            if path == "/rest/api/search":
                return self._search(req, args)
            if self.cloud and path.startswith("/api/v2/"):
                return self._v2(req, path[len("/api/v2/"):], args)
            if not self.cloud and path.startswith("/rest/api/"):
                return self._v1(path[len("/rest/api/"):], args)
        return Response(404, {"statusCode": 404, "message": f"No route for {path}"})

    def _visible(self, cid: str) -> dict[str, Any] | None:
        c = self.content.get(cid)
        return c if c is not None and c.get("status", "current") == "current" else None

    def _not_found(self) -> Response:
        return Response(404, {"statusCode": 404, "message": "No content found with id"})

    def _paged_v2(self, req: Request, items: list[dict[str, Any]], args: dict[str, str]) -> Response:
        start = read_token(args["cursor"]) if args.get("cursor") else 0
        size = min(int(args.get("limit") or 25), self.max_page)
        body: dict[str, Any] = {"results": items[start:start + size], "_links": {"base": self.base}}
        headers = {}
        if start + size < len(items):
            query = {k: v for k, v in args.items() if k != "cursor"}
            query["cursor"] = page_token(start + size)
            nxt = f"{req.path}?{urlencode(query)}"
            body["_links"]["next"] = nxt
            headers["Link"] = f'<{nxt}>; rel="next", <{self.base}>; rel="base"'
        return Response(200, body, headers)

    def _v2(self, req: Request, path: str, args: dict[str, str]) -> Response:
        fmt = args.get("body-format", "none")
        if path == "spaces":
            keys = _names(args.get("keys", ""))
            return self._paged_v2(req, [s for s in self.spaces if not keys or s["key"] in keys], args)
        m = re.match(r"spaces/([^/]+)$", path)
        if m:
            space = next((s for s in self.spaces if s["id"] == m.group(1)), None)
            return Response(200, space) if space else self._not_found()
        m = re.match(r"(pages|blogposts)$", path)
        if m:
            kind = "page" if m.group(1) == "pages" else "blogpost"
            sid = args.get("space-id")
            items = [c for c in self.content.values() if c["type"] == kind and c.get("status", "current") == "current"
                     and (not sid or self._space(c["space"])["id"] in sid.split(","))]
            if args.get("sort") == "-modified-date":
                items.sort(key=lambda c: parse_ts(self._modified(c)), reverse=True)
            else:
                items.sort(key=lambda c: c["id"])
            return self._paged_v2(req, [self._v2_content(c, self._version_no(c), fmt) for c in items], args)
        m = re.match(r"(pages|blogposts)/([^/]+)(?:/(versions|footer-comments|inline-comments|attachments))?$", path)
        if m:
            c = self._visible(m.group(2))
            if c is None or c["type"] != ("page" if m.group(1) == "pages" else "blogpost"):
                return self._not_found()
            return self._v2_part(req, c, m.group(3), args, fmt)
        m = re.match(r"(footer|inline)-comments/([^/]+)/children$", path)
        if m:
            kids = [self._v2_comment(c, k) for c in self.content.values() for k in c.get("comments", [])
                    if k.get("parent") == m.group(2)]
            return self._paged_v2(req, kids, args)
        return Response(404, {"statusCode": 404, "message": f"No v2 route for {path}"})

    def _v2_comment(self, c: dict[str, Any], k: dict[str, Any]) -> dict[str, Any]:
        return {"id": k["id"], "status": "current", "title": f"Re: {c['title']}",
                ("pageId" if c["type"] == "page" else "blogPostId"): c["id"],
                "version": self._v2_version(k, 1),
                "body": {"storage": {"value": k["body"], "representation": "storage"}}}

    def _v2_part(self, req: Request, c: dict[str, Any], part: str | None, args: dict[str, str],
                 fmt: str) -> Response:
        if part is None:
            n = int(args.get("version") or self._version_no(c))
            if not 1 <= n <= self._version_no(c) or n in c.get("deleted_versions", []):
                return self._not_found()
            return Response(200, self._v2_content(c, n, fmt))
        if part == "versions":
            items = [self._v2_version(v, i + 1) for i, v in enumerate(c["versions"])
                     if i + 1 not in c.get("deleted_versions", [])][::-1]
            return self._paged_v2(req, items, args)
        if part in ("footer-comments", "inline-comments"):
            where = part.split("-")[0]
            items = [self._v2_comment(c, k) for k in c.get("comments", [])
                     if k.get("location", "footer") == where and not k.get("parent")]
            return self._paged_v2(req, items, args)
        items = [{"id": a["id"], "status": "current", "title": a["title"], "mediaType": a.get("mediaType"),
                  "fileSize": len(a.get("content", "").encode()), "pageId": c["id"],
                  "version": self._v2_version(a, 1),
                  "downloadLink": f"/download/attachments/{c['id']}/{quote(a['title'])}?version=1&api=v2"}
                 for a in c.get("attachments", [])]
        return self._paged_v2(req, items, args)

    def _search(self, req: Request, args: dict[str, str]) -> Response:
        try:
            found = self._select(args.get("cql", ""))
        except ValueError as exc:
            return Response(400, {"statusCode": 400, "message": str(exc)})
        size = min(int(args.get("limit") or 25), self.max_page)
        if self.cloud:
            start = read_token(args["cursor"]) if args.get("cursor") else 0
        else:
            start = int(args.get("start") or 0)
        page = found[start:start + size]
        results = [{"content": self._v1_content(c, self._version_no(c), args.get("expand", "")),
                    "title": c["title"], "lastModified": self._modified(c), "url": self._webui(c)} for c in page]
        links: dict[str, Any] = {"base": self.base, "context": self.ctx}
        if start + size < len(found):
            query = {k: v for k, v in args.items() if k not in ("cursor", "start")}
            query.update({"cursor": page_token(start + size)} if self.cloud else {"start": str(start + size)})
            links["next"] = f"/rest/api/search?{urlencode(query)}"
        return Response(200, {"results": results, "start": start, "limit": size, "size": len(page),
                              "totalSize": len(found), "_links": links})

    def _v1(self, path: str, args: dict[str, str]) -> Response:
        if path == "user/current":
            return Response(200, self._v1_user(self.me))
        m = re.match(r"content/([^/]+)(?:/child/(comment|attachment))?$", path)
        if not m:
            return Response(404, {"statusCode": 404, "message": f"No v1 route for {path}"})
        c = self._visible(m.group(1))
        if c is None:
            return self._not_found()
        start, size = int(args.get("start") or 0), min(int(args.get("limit") or 25), self.max_page)
        if m.group(2) is None:
            n = int(args["version"]) if args.get("status") == "historical" and args.get("version") else \
                self._version_no(c)
            if not 1 <= n <= self._version_no(c) or n in c.get("deleted_versions", []):
                return self._not_found()
            return Response(200, self._v1_content(c, n, args.get("expand", "")))
        if m.group(2) == "comment":
            items = [{"id": k["id"], "type": "comment", "title": f"Re: {c['title']}",
                      "version": {"number": 1, "when": k["when"], "by": self._v1_user(k.get("author"))},
                      "body": {"storage": {"value": k["body"], "representation": "storage"}},
                      "extensions": {"location": k.get("location", "footer")}}
                     for k in c.get("comments", []) if args.get("depth") == "all" or not k.get("parent")]
        else:
            items = [{"id": a["id"], "type": "attachment", "title": a["title"],
                      "metadata": {"mediaType": a.get("mediaType")},
                      "extensions": {"mediaType": a.get("mediaType"), "fileSize": len(a.get("content", "").encode())},
                      "version": {"number": 1, "when": a.get("when"), "by": self._v1_user(a.get("author"))},
                      "_links": {"download": f"/download/attachments/{c['id']}/{quote(a['title'])}?version=1"}}
                     for a in c.get("attachments", [])]
        links: dict[str, Any] = {"base": self.base, "context": self.ctx}
        if start + size < len(items):
            links["next"] = f"/rest/api/content/{c['id']}/child/{m.group(2)}?start={start + size}&limit={size}"
        return Response(200, {"results": items[start:start + size], "start": start, "limit": size,
                              "size": len(items[start:start + size]), "_links": links})

    def _download(self, cid: str, name: str) -> Response:
        c = self._visible(cid)
        for a in (c or {}).get("attachments", []):
            if quote(a["title"]) == name or a["title"] == name:
                return Response(200, a.get("content", "").encode(), {"Content-Type": "application/octet-stream"})
        return self._not_found()


def main() -> None:
    ConfluenceEmulator(data_dir_arg("Loopback Confluence emulator (Cloud v2 or Data Center v1).", "confluence.json")).serve_forever()


if __name__ == "__main__":
    main()
