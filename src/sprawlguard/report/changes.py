"""The summary of a scheduled run: per-source status and what is new since the last run.

Plain text for the terminal and for chat messages (Slack-compatible `{"text": ...}` webhooks),
and a JSON document (`outputs: [{format: changes, path: ...}]`). Previews are the inventory's
redacted ones; raw values never reach this module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

SCHEMA_VERSION = "1.0"
MAX_LISTED = 20  # per section in chat messages


def _where(e: Mapping[str, Any]) -> str:
    place = e.get("permalink") or e.get("uri") or ""
    line = f":{e['line']}" if e.get("line") and not e.get("permalink") else ""
    return f"{place}{line}"


def _secret_line(s: Mapping[str, Any]) -> str:
    return f"risk {s['risk']:>3}  {s['rule_id']}  {s['preview']}"


def change_lines(changes: Mapping[str, Any], limit: int | None = None) -> list[str]:
    """The 'what is new' part, one item per line (at most `limit` per section)."""
    out: list[str] = []

    def section(title: str, items: Sequence[Mapping[str, Any]], line: Any) -> None:
        out.append(f"{title} ({len(items)}):" if items else f"{title}: none")
        shown = items if limit is None else items[:limit]
        out.extend(f"  - {line(i)}" for i in shown)
        if len(shown) < len(items):
            out.append(f"  ... and {len(items) - len(shown)} more")

    def new_secret(s: Mapping[str, Any]) -> str:
        places = s.get("exposures") or []
        more = f" (+{len(places) - 1} more)" if len(places) > 1 else ""
        status = (s.get("verification") or {}).get("status")
        return (_secret_line(s) + (f"  [{status}]" if status else "")
                + (f"  at {_where(places[0])}{more}" if places else ""))

    section("New secrets", changes["new_secrets"], new_secret)
    section("New exposures of known secrets", changes["new_exposures"],
            lambda x: f"{_secret_line(x)}  at {_where(x['exposure'])}")
    section("Became live", changes["became_live"],
            lambda x: f"{_secret_line(x)}  (was {x['previous'] or 'not checked'}): {x['reason']}")
    section("Became dead", changes["became_dead"],
            lambda x: f"{_secret_line(x)}  (was {x['previous'] or 'not checked'}): {x['reason']}")
    return out


def render_terminal(doc: Mapping[str, Any], out: TextIO) -> None:
    out.write(f"sprawlguard scheduled run: {doc['config']} ({len(doc['sources'])} source(s), "
              f"inventory {doc['inventory']})\n")
    width = max([len(s["name"]) for s in doc["sources"]] + [6])
    for s in doc["sources"]:
        if s["status"] == "failed":
            detail = s["error"]
        else:
            st = s.get("stats") or {}
            detail = (f"{st.get('chunks', 0)} chunk(s), {st.get('bytes', 0)} bytes, "
                      f"{s['secrets']} secret(s) in new content")
            if s["errors"]:
                detail += f", {len(s['errors'])} error(s): {s['errors'][0]}"
        out.write(f"  {s['name']:<{width}}  {s['type']:<10}  {s['status']:<6}  {detail}\n")
    since = doc["changes"]["since"]
    out.write(f"What is new since the last run{f' ({since})' if since else ' (first run)'}:\n")
    for line in change_lines(doc["changes"]):
        out.write(f"  {line}\n")


def chat_text(doc: Mapping[str, Any]) -> str:
    """A short message for a webhook or Slack channel (Slack escapes applied; no values)."""
    failed = [s["name"] for s in doc["sources"] if s["status"] != "ok"]
    head = f"sprawlguard scheduled run ({doc['config_name']}): "
    c = doc["changes"]
    head += (f"{len(c['new_secrets'])} new secret(s), {len(c['new_exposures'])} new exposure(s), "
             f"{len(c['became_live'])} became live, {len(c['became_dead'])} became dead")
    if failed:
        head += f"; source(s) with errors: {', '.join(failed)}"
    text = "\n".join([head, *change_lines(c, limit=MAX_LISTED)])
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_json(doc: Mapping[str, Any], out: TextIO) -> None:
    json.dump({"schema_version": SCHEMA_VERSION, **doc}, out, indent=2, sort_keys=True)
    out.write("\n")
