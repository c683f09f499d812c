"""A loopback Jira emulator speaking the Cloud (REST v3/v2) or Data Center (REST v2) shapes.

Seeded from `<data dir>/jira.json` (or a dict)::

    {"deployment": "cloud" | "datacenter", "context_path": "/jira",        # DC only
     "auth": {"email": "...", "api_token": "...", "pat": "..."},
     "users": [{"id": "u1", "displayName": "Alice", "email": "alice@example.com", "timeZone": "UTC"}],
     "me": "u1", "max_page": 100,
     "issues": [{"id": "10001", "key": "OPS-1", "project": "OPS", "summary": "...",
                 "description": "text, or an ADF document", "reporter": "u1", "assignee": "u2",
                 "created": "2025-01-01T10:00:00.000+0000", "updated": "...", "fields": {"customfield_1": "..."},
                 "comments": [{"id": "1", "author": "u1", "body": "...", "created": "..."}],
                 "worklogs": [{"id": "1", "author": "u1", "comment": "...", "started": "..."}],
                 "history": [{"id": "1", "author": "u1", "created": "...",
                              "items": [{"field": "description", "fromString": "...", "toString": "..."}]}],
                 "attachments": [{"id": "1", "filename": "a.env", "mimeType": "text/plain", "content": "..."}],
                 "hidden": false}]}

Behaviours: the retired `/rest/api/{2,3}/search` answers 410 on Cloud; `/search/jql` pages with
`nextPageToken`/`isLast` and returns ids only unless `fields` is given; unbounded JQL is a 400;
embedded comments/worklogs/changelog are capped at 20 on Cloud; a small JQL subset (project,
updated >= / >, AND, ORDER BY) evaluated in the user's time zone; DC search pages with
startAt/total; attachments on Cloud redirect to a media host (`localhost` instead of
`127.0.0.1`); hidden issues answer 404; 401 for bad or revoked credentials. Fault injection and the
request journal come from `Emulator`; `edit_issue`, `add_comment`, `delete_comment` change data.

Run standalone: `python -m tests.emulators.jira --data DIR` prints the base URL.
"""

from __future__ import annotations

import copy
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.emulators.atlassian import (
    Auth,
    Clock,
    adf_plain,
    load_seed,
    page_token,
    parse_ts,
    query_date,
    read_token,
    to_adf,
    ts,
)
from tests.emulators.base import Emulator, Request, Response, data_dir_arg

CAP = 20  # Cloud's cap on embedded comments, worklogs and changelog entries
RETIRED = ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
           "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046")
_CLAUSES = [
    (re.compile(r'project\s+in\s*\(([^)]*)\)', re.I), "project_in"),
    (re.compile(r'project\s*=\s*"?([A-Za-z0-9_]+)"?', re.I), "project_eq"),
    (re.compile(r'updated\s*(>=|>)\s*("[^"]*"|\'[^\']*\'|[0-9/: -]+\d)', re.I), "updated"),
]


class JiraEmulator(Emulator):
    def __init__(self, data: dict[str, Any] | str | Path) -> None:
        super().__init__()
        seed = load_seed(data, "jira.json")
        self.cloud = seed.get("deployment", "cloud") == "cloud"
        self.ctx = "" if self.cloud else str(seed.get("context_path", "")).rstrip("/")
        self.auth = Auth(seed.get("auth") or {})
        self.users = {u["id"]: u for u in seed.get("users", [])}
        self.me = seed.get("me") or next(iter(self.users), None)
        self.max_page = int(seed.get("max_page", 100))
        self.issues: dict[str, dict[str, Any]] = {i["key"]: copy.deepcopy(i) for i in seed.get("issues", [])}
        self.clock = Clock()
        self._data_lock = threading.Lock()
        for method in ("GET", "POST"):
            self.route(method, f"{self.ctx}/rest/api/", self._api)
        self.route("GET", f"{self.ctx}/secure/attachment/", self._dc_attachment)
        self.route("GET", "/media/", self._media)

    @property
    def base(self) -> str:
        return self.url + self.ctx

    standalone_url = base  # printed by serve_forever()

    # --- mutations used by tests -------------------------------------------------------------

    def edit_issue(self, key: str, author: str | None = None, **fields: Any) -> None:
        """Change fields; text changes are recorded in the changelog with the old text."""
        with self._data_lock:
            issue = self.issues[key]
            now = ts(self.clock.now())
            items = []
            for name, value in fields.items():
                old = issue.get(name) if name in ("summary", "description", "environment") else \
                    issue.setdefault("fields", {}).get(name)
                items.append({"field": name, "fieldId": name, "fieldtype": "jira" if not name.startswith(
                    "customfield_") else "custom", "fromString": adf_plain(old) if old is not None else None,
                    "toString": adf_plain(value)})
                if name in ("summary", "description", "environment"):
                    issue[name] = value
                else:
                    issue["fields"][name] = value
            hist = issue.setdefault("history", [])
            hist.append({"id": str(90000 + sum(len(i.get("history", [])) for i in self.issues.values())),
                         "author": author or self.me, "created": now, "items": items})
            issue["updated"] = now

    def add_comment(self, key: str, body: Any, author: str | None = None) -> str:
        with self._data_lock:
            issue = self.issues[key]
            cid = str(50000 + sum(len(i.get("comments", [])) for i in self.issues.values()))
            now = ts(self.clock.now())
            issue.setdefault("comments", []).append({"id": cid, "author": author or self.me, "body": body,
                                                     "created": now, "updated": now})
            issue["updated"] = now
            return cid

    def delete_comment(self, key: str, cid: str) -> None:
        with self._data_lock:
            issue = self.issues[key]
            issue["comments"] = [c for c in issue.get("comments", []) if c["id"] != cid]
            issue["updated"] = ts(self.clock.now())

    # --- rendering ---------------------------------------------------------------------------

    def _user(self, uid: str | None) -> dict[str, Any] | None:
        u = self.users.get(uid or "")
        if u is None:
            return None
        if self.cloud:
            return {"accountId": u["id"], "displayName": u.get("displayName", u["id"]),
                    "emailAddress": u.get("email"), "timeZone": u.get("timeZone", "UTC"), "active": True}
        return {"name": u["id"], "key": u["id"], "displayName": u.get("displayName", u["id"]),
                "emailAddress": u.get("email"), "timeZone": u.get("timeZone", "UTC"), "active": True}

    def _text(self, value: Any, version: str) -> Any:
        if value is None:
            return None
        if self.cloud and version == "3":
            return value if isinstance(value, dict) else to_adf(str(value))
        return adf_plain(value)

    def _comment(self, c: dict[str, Any], v: str) -> dict[str, Any]:
        return {"id": c["id"], "author": self._user(c.get("author")), "updateAuthor": self._user(c.get("author")),
                "body": self._text(c.get("body"), v), "created": c.get("created"),
                "updated": c.get("updated") or c.get("created")}

    def _worklog(self, w: dict[str, Any], v: str) -> dict[str, Any]:
        return {"id": w["id"], "author": self._user(w.get("author")), "comment": self._text(w.get("comment"), v),
                "started": w.get("started"), "updated": w.get("updated") or w.get("started"),
                "timeSpentSeconds": w.get("timeSpentSeconds", 3600)}

    def _history(self, h: dict[str, Any]) -> dict[str, Any]:
        return {"id": h["id"], "author": self._user(h.get("author")), "created": h.get("created"),
                "items": [{"field": i.get("field"), "fieldtype": i.get("fieldtype", "jira"),
                           **({"fieldId": i.get("fieldId") or i.get("field")} if self.cloud else {}),
                           "from": None, "fromString": i.get("fromString"), "to": None,
                           "toString": i.get("toString")} for i in h.get("items", [])]}

    def _attachment(self, a: dict[str, Any], v: str) -> dict[str, Any]:
        data = a.get("content", "")
        size = len(data.encode() if isinstance(data, str) else data)
        content = (f"{self.base}/rest/api/{v}/attachment/content/{a['id']}" if self.cloud
                   else f"{self.base}/secure/attachment/{a['id']}/{quote(a['filename'])}")
        return {"id": a["id"], "filename": a["filename"], "size": int(a.get("size", size)),
                "mimeType": a.get("mimeType", "text/plain"), "created": a.get("created"),
                "author": self._user(a.get("author")), "content": a.get("content_url", content)}

    def _fields(self, issue: dict[str, Any], v: str, wanted: list[str] | None) -> dict[str, Any]:
        cap = CAP if self.cloud else None
        comments = [self._comment(c, v) for c in issue.get("comments", [])]
        worklogs = [self._worklog(w, v) for w in issue.get("worklogs", [])]
        allf: dict[str, Any] = {
            "summary": issue.get("summary", ""),
            "description": self._text(issue.get("description"), v),
            "environment": self._text(issue.get("environment"), v),
            "project": {"key": issue.get("project", issue["key"].split("-")[0])},
            "reporter": self._user(issue.get("reporter")), "assignee": self._user(issue.get("assignee")),
            "created": issue.get("created"), "updated": issue.get("updated"),
            "status": {"name": "Open"},
            "comment": {"comments": comments[:cap], "maxResults": cap or len(comments), "total": len(comments),
                        "startAt": 0},
            "worklog": {"worklogs": worklogs[:cap], "maxResults": cap or len(worklogs), "total": len(worklogs),
                        "startAt": 0},
            "attachment": [self._attachment(a, v) for a in issue.get("attachments", [])],
        }
        for name, value in (issue.get("fields") or {}).items():
            allf[name] = self._text(value, v) if isinstance(value, (str, dict)) else value
        if wanted is None or "*all" in wanted or "*navigable" in wanted:
            return allf
        return {k: allf[k] for k in wanted if k in allf}

    def _issue(self, issue: dict[str, Any], v: str, wanted: list[str] | None, expand: str) -> dict[str, Any]:
        out: dict[str, Any] = {"id": issue["id"], "key": issue["key"],
                               "self": f"{self.base}/rest/api/{v}/issue/{issue['id']}"}
        if wanted is not None:
            out["fields"] = self._fields(issue, v, wanted)
        if "changelog" in expand:
            hist = [self._history(h) for h in issue.get("history", [])]
            cap = CAP if self.cloud else None
            out["changelog"] = {"startAt": 0, "maxResults": cap or len(hist), "total": len(hist),
                                "histories": hist[:cap]}
        return out

    # --- JQL -------------------------------------------------------------------------------

    def _select(self, jql: str) -> list[dict[str, Any]]:
        """The issues a JQL subset selects, ordered by updated then key; ValueError for the rest."""
        body = re.split(r"\border\s+by\b", jql, flags=re.I)[0]
        tz = (self.users.get(self.me or "") or {}).get("timeZone", "UTC")
        tests = []
        rest = body
        for rx, kind in _CLAUSES:
            tests += [(kind, m) for m in rx.finditer(body)]
            rest = rx.sub(" ", rest)
        if re.sub(r"\band\b|[()\s]", "", rest, flags=re.I):
            raise ValueError(f"Error in the JQL Query: unsupported clause near {rest.strip()[:40]!r}")
        if not tests:
            raise ValueError("unbounded")
        out = []
        for issue in self.issues.values():
            if issue.get("hidden"):
                continue
            ok = True
            for kind, m in tests:
                project = issue.get("project", issue["key"].split("-")[0])
                if kind == "project_in":
                    ok &= project in [p.strip().strip('"\'') for p in m.group(1).split(",")]
                elif kind == "project_eq":
                    ok &= project == m.group(1)
                else:
                    when = query_date(m.group(2), tz)
                    upd = parse_ts(issue["updated"])
                    ok &= upd >= when if m.group(1) == ">=" else upd > when
            if ok:
                out.append(issue)
        return sorted(out, key=lambda i: (parse_ts(i["updated"]), i["key"]))

    # --- handlers ----------------------------------------------------------------------------

    def _api(self, req: Request) -> Response:
        path = req.path[len(self.ctx):]
        m = re.match(r"/rest/api/(2|3|latest)/(.*)$", path)
        if not m:
            return Response(404, {"errorMessages": ["not found"]})
        v, rest = m.group(1), m.group(2).rstrip("/")
        if v == "3" and not self.cloud or v == "latest" and self.cloud:
            return Response(404, {"errorMessages": ["null for uri"]})
        if rest == "serverInfo":
            return Response(200, {"baseUrl": self.base, "version": "1001.0.0" if self.cloud else "9.12.0",
                                  "deploymentType": "Cloud" if self.cloud else "DataCenter"})
        denied = self.auth.check(req)
        if denied:
            return denied
        with self._data_lock:
            return self._dispatch(req, v, rest)

    def _dispatch(self, req: Request, v: str, rest: str) -> Response:
        if rest == "myself":
            return Response(200, self._user(self.me) or {})
        if rest == "search":
            if self.cloud:
                return Response(410, {"errorMessages": [RETIRED], "errors": {}})
            return self._search_dc(req, v)
        if rest == "search/jql" and self.cloud:
            return self._search_jql(req, v)
        m = re.match(r"issue/([^/]+)(?:/(comment|worklog|changelog))?$", rest)
        if m:
            issue = self._find(m.group(1))
            if issue is None:
                return Response(404, {"errorMessages": ["Issue does not exist or you do not have permission "
                                                        "to see it."], "errors": {}})
            return self._issue_part(req, v, issue, m.group(2))
        m = re.match(r"attachment/content/([^/]+)$", rest)
        if m and self.cloud:
            port = self.url.rsplit(":", 1)[1]
            return Response(303, b"", {"Location": f"http://localhost:{port}/media/{m.group(1)}/download"})
        return Response(404, {"errorMessages": [f"no route for {rest}"]})

    def _find(self, key_or_id: str) -> dict[str, Any] | None:
        for i in self.issues.values():
            if key_or_id in (i["key"], i["id"]) and not i.get("hidden"):
                return i
        return None

    def _args(self, req: Request) -> dict[str, Any]:
        args = {k: v[0] for k, v in req.query.items()}
        if req.method == "POST" and req.body:
            args.update(req.json() or {})
        return args

    def _wanted(self, value: Any) -> list[str] | None:
        if value is None:
            return None
        if isinstance(value, list):
            return [str(x) for x in value]
        return [f.strip() for f in str(value).split(",") if f.strip()]

    def _search_jql(self, req: Request, v: str) -> Response:
        args = self._args(req)
        jql = str(args.get("jql") or "").strip()
        if not jql:
            return Response(400, {"errorMessages": ["Unbounded JQL queries are not allowed here. Please add a "
                                                    "search restriction to your query."]})
        try:
            found = self._select(jql)
        except ValueError as exc:
            msg = ("Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
                   if str(exc) == "unbounded" else str(exc))
            return Response(400, {"errorMessages": [msg]})
        start = read_token(str(args["nextPageToken"])) if args.get("nextPageToken") else 0
        size = min(int(args.get("maxResults") or 50), self.max_page)
        page = found[start:start + size]
        wanted = self._wanted(args.get("fields"))
        body: dict[str, Any] = {"issues": [self._issue(i, v, wanted, str(args.get("expand") or "")) for i in page],
                                "isLast": start + size >= len(found)}
        if not body["isLast"]:
            body["nextPageToken"] = page_token(start + size)
        return Response(200, body)

    def _search_dc(self, req: Request, v: str) -> Response:
        args = self._args(req)
        try:
            found = self._select(str(args.get("jql") or "")) if args.get("jql") else \
                sorted((i for i in self.issues.values() if not i.get("hidden")), key=lambda i: i["key"])
        except ValueError as exc:
            return Response(400, {"errorMessages": [str(exc)]})
        start = int(args.get("startAt") or 0)
        size = min(int(args.get("maxResults") or 50), self.max_page)
        wanted = self._wanted(args.get("fields")) or ["*navigable"]
        return Response(200, {"startAt": start, "maxResults": size, "total": len(found),
                              "issues": [self._issue(i, v, wanted, str(args.get("expand") or ""))
                                         for i in found[start:start + size]]})

    def _issue_part(self, req: Request, v: str, issue: dict[str, Any], part: str | None) -> Response:
        args = self._args(req)
        if part is None:
            return Response(200, self._issue(issue, v, self._wanted(args.get("fields")) or ["*all"],
                                             str(args.get("expand") or "")))
        start = int(args.get("startAt") or 0)
        size = min(int(args.get("maxResults") or 50), self.max_page)
        if part == "comment":
            items = [self._comment(c, v) for c in issue.get("comments", [])]
            return Response(200, {"startAt": start, "maxResults": size, "total": len(items),
                                  "comments": items[start:start + size]})
        if part == "worklog":
            items = [self._worklog(w, v) for w in issue.get("worklogs", [])]
            return Response(200, {"startAt": start, "maxResults": size, "total": len(items),
                                  "worklogs": items[start:start + size]})
        if not self.cloud:  # DC has no changelog endpoint: expand=changelog instead
            return Response(404, {"errorMessages": ["null for uri"]})
        items = [self._history(h) for h in issue.get("history", [])]
        return Response(200, {"startAt": start, "maxResults": size, "total": len(items),
                              "isLast": start + size >= len(items), "values": items[start:start + size]})

    def _attachment_data(self, aid: str) -> bytes | None:
        for issue in self.issues.values():
            for a in issue.get("attachments", []):
                if a["id"] == aid and not issue.get("hidden"):
                    data = a.get("content", "")
                    return data.encode() if isinstance(data, str) else bytes(data)
        return None

    def _media(self, req: Request) -> Response:
        """The Cloud media host: no Atlassian credentials expected (the journal shows what was sent)."""
        m = re.match(r"/media/([^/]+)/download$", req.path)
        data = self._attachment_data(m.group(1)) if m else None
        if data is None:
            return Response(404, b"not found")
        return Response(200, data, {"Content-Type": "application/octet-stream"})

    def _dc_attachment(self, req: Request) -> Response:
        denied = self.auth.check(req)
        if denied:
            return denied
        m = re.match(rf"{re.escape(self.ctx)}/secure/attachment/([^/]+)/", req.path)
        data = self._attachment_data(m.group(1)) if m else None
        if data is None:
            return Response(404, b"not found")
        return Response(200, data, {"Content-Type": "application/octet-stream"})


def main() -> None:
    JiraEmulator(data_dir_arg("Loopback Jira emulator (Cloud or Data Center shapes).", "jira.json")).serve_forever()


if __name__ == "__main__":
    main()
