"""Requests signed the way Slack signs them, and a way to send them over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fakes.slack import TEAM_ID

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"


def signature(body: str, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(body: str, *, timestamp: int | None = None, secret: str = SIGNING_SECRET, content_type: str) -> dict:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(body, ts, secret),
    }


def slash_body(
    text: str,
    *,
    user_id: str = "U0TAM0001",
    user_name: str = "avery",
    channel_id: str = "C0GENERAL1",
    command: str = "/usage",
    response_url: str = "https://hooks.slack.com/commands/T1/1/x",
    team_id: str = TEAM_ID,
    trigger_id: str = "111.222.trigger",
) -> str:
    """A slash command body, form-encoded with the fields Slack sends (see shared payloads)."""
    return urlencode(
        {
            "token": "verification_token",
            "team_id": team_id,
            "team_domain": "test",
            "channel_id": channel_id,
            "channel_name": "general",
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": "A0APP0001",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def interaction_body(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


def block_action_payload(
    action_id: str,
    value: str,
    *,
    user_id: str = "U0TAM0001",
    user_name: str = "avery",
    channel_id: str = "C0GENERAL1",
    message: dict[str, Any] | None = None,
    response_url: str = "https://hooks.slack.com/actions/T1/1/x",
    block_id: str = "b1",
    team_id: str = TEAM_ID,
    container: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A block_actions payload shaped like the shared bolt/real captures."""
    msg_ts = (message or {}).get("ts", "1700000000.000100")
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": "A0APP0001",
        "token": "verification_token",
        "container": container
        or {"type": "message", "message_ts": msg_ts, "channel_id": channel_id, "is_ephemeral": message is None},
        "trigger_id": "111.222.trigger",
        "team": {"id": team_id, "domain": "test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "general"},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": "x", "emoji": True},
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def event_body(event: dict[str, Any], *, team_id: str = TEAM_ID) -> str:
    return json.dumps(
        {
            "token": "verification_token",
            "team_id": team_id,
            "api_app_id": "A0APP0001",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{int(time.time() * 1000)}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": team_id, "user_id": "U0BOT0001", "is_bot": True}],
        }
    )


@dataclass
class Reply:
    status: int
    body: str
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def post(
    url: str,
    body: str,
    *,
    content_type: str = "application/x-www-form-urlencoded",
    timestamp: int | None = None,
    secret: str = SIGNING_SECRET,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Reply:
    """POST `body` to the app, signed (unless `headers` replaces the signing headers)."""
    hdrs = (
        headers
        if headers is not None
        else signed_headers(body, timestamp=timestamp, secret=secret, content_type=content_type)
    )
    req = urllib.request.Request(url, data=body.encode(), headers=hdrs, method="POST")
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Reply(resp.status, resp.read().decode(), time.monotonic() - start)
    except urllib.error.HTTPError as err:
        return Reply(err.code, err.read().decode(), time.monotonic() - start)
