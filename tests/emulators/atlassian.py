"""What the Jira and Confluence emulators share: seed loading, auth, clock, ADF rendering, query dates."""

from __future__ import annotations

import base64
import json
import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sprawlguard.detect.fakes import expand
from tests.emulators.base import Request, Response

TS = "%Y-%m-%dT%H:%M:%S.000+0000"


def load_seed(data: dict[str, Any] | str | Path, filename: str) -> dict[str, Any]:
    """A seed dict, or `<dir>/<filename>` (JSON). Strings holding `{{gen:...}}` templates are expanded
    with a fixed seed, so example data directories never hold realistic token literals."""
    if isinstance(data, dict):
        return data
    seed = json.loads((Path(data) / filename).read_text(encoding="utf-8"))
    rng = random.Random(str(seed.get("seed", 0)))

    def walk(v: Any) -> Any:
        if isinstance(v, str) and "{{" in v:
            return expand(v, rng)
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v

    return walk(seed)  # type: ignore[no-any-return]


def ts(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime(TS)


def parse_ts(text: str) -> datetime:
    t = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text).replace("Z", "+00:00")
    return datetime.fromisoformat(t)


class Clock:
    """The emulator's notion of now: real time unless a test sets it."""

    def __init__(self) -> None:
        self.fixed: datetime | None = None

    def now(self) -> datetime:
        return self.fixed or datetime.now(timezone.utc)

    def advance(self, minutes: float) -> None:
        self.fixed = self.now() + timedelta(minutes=minutes)


class Auth:
    """Cloud: Basic email:api_token. Data Center: Bearer PAT (Basic user:password also accepted)."""

    def __init__(self, seed: dict[str, Any]) -> None:
        self.email = seed.get("email")
        self.api_token = seed.get("api_token")
        self.pat = seed.get("pat")
        self.revoked = False
        self.forbidden = False

    def check(self, req: Request) -> Response | None:
        """None when the request may proceed; else the 401/403 answer."""
        header = req.headers.get("authorization", "")
        ok = False
        if header.startswith("Basic ") and self.email and self.api_token:
            try:
                ok = base64.b64decode(header[6:]).decode() == f"{self.email}:{self.api_token}"
            except ValueError:
                ok = False
        elif header.startswith("Bearer ") and self.pat:
            ok = header[7:] == self.pat
        if not ok or self.revoked:
            return Response(401, {"errorMessages": ["You are not authenticated. Authentication required to "
                                                    "perform this operation."]},
                            {"WWW-Authenticate": 'Basic realm="atlassian"'})
        if self.forbidden:
            return Response(403, {"errorMessages": ["You do not have the permission to see this resource."]})
        return None


def query_date(text: str, tz: str) -> datetime:
    """A JQL/CQL date ('yyyy/MM/dd HH:mm', 'yyyy-MM-dd', ...) in the searching user's time zone."""
    text = text.strip().strip('"').strip("'")
    for fmt in ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=ZoneInfo(tz))
        except ValueError:
            continue
    raise ValueError(f"bad date {text!r}")


def to_adf(text: str) -> dict[str, Any]:
    """Plain text as an ADF document: one paragraph per line (empty lines dropped)."""
    return {"type": "doc", "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": line}]}
                        for line in text.split("\n") if line]}


def adf_plain(node: Any) -> str:
    """A minimal ADF -> text for the emulator's v2/DC renderings and changelog strings."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(adf_plain(n) for n in node)
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    inner = adf_plain(node.get("content") or [])
    if node.get("type") in ("paragraph", "codeBlock", "heading"):
        inner += "\n"
    return inner


def page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def read_token(token: str) -> int:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return int(json.loads(raw)["o"])
