"""Post a scheduled run's redacted summary: a webhook (Slack-incoming-webhook `{"text": ...}`) or Slack.

The webhook URL and the Slack token come from environment variables and are never printed: errors
name the variable, not its value (an incoming-webhook URL is itself a credential).
"""

from __future__ import annotations

import os

from sprawlguard.errors import SourceError

TIMEOUT = 20


def _env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise SourceError(f"notify: the environment variable {name} is empty or not set")
    return value


def post_webhook(url_env: str, text: str) -> None:
    import requests

    url = _env(url_env)
    try:
        resp = requests.post(url, json={"text": text}, timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise SourceError(f"notify: the webhook in {url_env} could not be reached ({type(exc).__name__})") from None
    if resp.status_code >= 300:
        raise SourceError(f"notify: the webhook in {url_env} answered HTTP {resp.status_code}")


def post_slack(token_env: str, channel: str, text: str, base_url: str | None = None) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token=_env(token_env), base_url=base_url or "https://slack.com/api/", timeout=TIMEOUT)
    try:
        client.chat_postMessage(channel=channel, text=text)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else "error"
        raise SourceError(f"notify: Slack refused the message to {channel}: {error}",
                          hint="the token needs chat:write and the app must be in that channel") from None
    except OSError as exc:
        raise SourceError(f"notify: Slack could not be reached ({type(exc).__name__})") from None
