"""A local fake of Slack's Web API, spoken over real HTTP so slack_sdk's WebClient is used as is.

Start it with `FakeSlack()` (a context manager or `.start()`/`.stop()`), point `SLACK_API_URL` at
`fake.api_url`, and read what the bot did from `fake.calls` / `fake.messages`. Tests can register
users and channels, and make a method answer 429 (with Retry-After) or 5xx for its next N calls.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from fakes.http import LocalServer

TEAM_ID = "T0TEAM01"
BOT_USER_ID = "U0BOT0001"


@dataclass
class Call:
    method: str  # Web API method, "response_url" or "upload"
    params: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.time)
    path: str = ""


@dataclass
class Failure:
    status: int
    times: int
    retry_after: int | None = None
    error: str | None = None  # a Slack "ok": false error instead of an HTTP error
    accept: bool = False  # do the work first, then answer the error (Slack kept it, the client can't tell)


class FakeSlack(LocalServer):
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        # channel id -> list of messages (oldest first); each a dict with ts, text, blocks, metadata…
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.published: dict[str, dict[str, Any]] = {}  # user id -> Home view
        self.files: dict[str, dict[str, Any]] = {}
        self._failures: dict[str, list[Failure]] = {}
        self._lock = threading.RLock()
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self.add_channel("C0GENERAL1", name="general")
        self.socket_url: str | None = None  # what apps.connections.open answers (Socket Mode tests)
        self.enterprise_id: str | None = None  # set to play an Enterprise Grid organisation (auth.test says so)

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def response_url(self, key: str = "r1") -> str:
        return f"{self.base_url}/response/{key}"

    # ----------------------------------------------------------------- setup by tests
    def add_user(
        self,
        user_id: str,
        name: str = "",
        email: str | None = None,
        *,
        team_id: str = TEAM_ID,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        tz: str | None = "UTC",
        enterprise_id: str | None = None,
    ) -> dict[str, Any]:
        name = name or user_id.lower()
        user = {
            "id": user_id,
            "team_id": team_id,
            "name": name,
            "real_name": name.replace(".", " ").title(),
            "deleted": deleted,
            "is_bot": is_bot,
            "is_restricted": is_restricted,
            "is_ultra_restricted": is_ultra_restricted,
            "tz": tz,
            "profile": {"email": email, "real_name": name.title(), "display_name": name},
        }
        if enterprise_id:
            user["enterprise_user"] = {"enterprise_id": enterprise_id, "teams": [team_id]}
        self.users[user_id] = user
        return user

    def add_channel(
        self, channel_id: str, name: str = "", *, is_ext_shared: bool = False, is_im: bool = False, user: str = ""
    ) -> dict[str, Any]:
        channel = {
            "id": channel_id,
            "name": name or channel_id.lower(),
            "is_channel": not is_im,
            "is_im": is_im,
            "is_private": False,
            "is_ext_shared": is_ext_shared,
            "is_shared": is_ext_shared,
            "user": user or None,
        }
        self.channels[channel_id] = channel
        self.messages.setdefault(channel_id, [])
        return channel

    def fail(
        self,
        method: str,
        status: int = 429,
        times: int = 1,
        retry_after: int | None = 1,
        error: str | None = None,
        *,
        accept: bool = False,
    ) -> None:
        """Make `method` (or "response_url") answer `status` for its next `times` calls; with `accept`, the
        call still takes effect (a message is stored) before the error is answered."""
        with self._lock:
            self._failures.setdefault(method, []).append(Failure(status, times, retry_after, error, accept))

    # ----------------------------------------------------------------- reading what happened
    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def responses(self) -> list[dict[str, Any]]:
        """Bodies the app posted to response URLs (what `respond()` showed the person)."""
        return [c.params for c in self.calls_to("response_url")]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Wait until `method` was called at least `count` times (work after the ack is asynchronous)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            calls = self.calls_to(method)
            if len(calls) >= count:
                return calls
            time.sleep(0.02)
        raise AssertionError(f"{method} called {len(self.calls_to(method))} times, expected {count}: {self.summary()}")

    def summary(self) -> str:
        return ", ".join(c.method for c in self.calls)

    def dm_channel_id(self, user_id: str) -> str:
        return "D" + user_id.lstrip("UW")

    def dm_messages(self, user_id: str) -> list[dict[str, Any]]:
        return list(self.messages.get(self.dm_channel_id(user_id), []))

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    # ----------------------------------------------------------------- HTTP plumbing
    def _handle(self, req: BaseHTTPRequestHandler, method: str = "POST") -> None:
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        url = urlparse(req.path)
        auth = req.headers.get("Authorization") or ""
        token = auth.removeprefix("Bearer ").strip() or None
        # File uploads carry raw bytes, not form fields.
        is_upload = url.path.startswith("/upload/")
        params = {} if is_upload else self._parse_params(req.headers.get("Content-Type") or "", raw, url.query)
        if token is None and isinstance(params.get("token"), str):
            token = params["token"]

        if url.path.startswith("/api/"):
            method = url.path.removeprefix("/api/")
        elif url.path.startswith("/response/"):
            method = "response_url"
        elif url.path.startswith("/upload/"):
            method = "upload"
            params = {"file_id": url.path.removeprefix("/upload/"), "size": len(raw)}
        else:
            self._reply(req, 404, {"ok": False, "error": "unknown_path"})
            return

        with self._lock:
            self.calls.append(Call(method=method, params=params, token=token, path=url.path))
            failure = self._next_failure(method)
        if failure is not None and failure.accept:
            handler = getattr(self, "_api_" + method.replace(".", "_"), None)
            if handler is not None:
                with self._lock:
                    handler(params, token)
        if failure is not None:
            if failure.error:
                self._reply(req, 200, {"ok": False, "error": failure.error})
            else:
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
                self._reply(req, failure.status, {"ok": False, "error": "ratelimited"}, headers)
            return
        if method == "response_url":
            self._on_response_url(url.path.removeprefix("/response/"), params)
            self._reply_text(req, 200, "ok")
            return
        if method == "upload":
            self._reply_text(req, 200, "OK - " + str(params["size"]))
            return
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            self._reply(req, 200, {"ok": False, "error": "unknown_method"})
            return
        with self._lock:
            body = handler(params, token)
        self._reply(req, 200, body)

    def _next_failure(self, method: str) -> Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    @staticmethod
    def _parse_params(content_type: str, raw: bytes, query: str) -> dict[str, Any]:
        params: dict[str, Any] = {k: v[0] for k, v in parse_qs(query).items()}
        if not raw:
            return params
        if "json" in content_type:
            params.update(json.loads(raw.decode("utf-8")))
        elif "form" in content_type:
            for key, values in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items():
                value: Any = values[0]
                if isinstance(value, str) and value[:1] in "[{":
                    with contextlib.suppress(ValueError):
                        value = json.loads(value)
                params[key] = value
        return params

    @staticmethod
    def _reply(
        req: BaseHTTPRequestHandler, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json; charset=utf-8")
        req.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            req.send_header(k, v)
        req.end_headers()
        req.wfile.write(data)

    @staticmethod
    def _reply_text(req: BaseHTTPRequestHandler, status: int, text: str) -> None:
        data = text.encode()
        req.send_response(status)
        req.send_header("Content-Type", "text/plain")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def _new_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.{next(self._ids):06d}"

    # ----------------------------------------------------------------- Web API methods
    def _api_apps_connections_open(self, _p: dict[str, Any], token: str | None) -> dict[str, Any]:
        """Socket Mode: the WebSocket URL to connect to (a `fakes.socket_mode.FakeSocketMode`), app tokens only."""
        if not (token or "").startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if not self.socket_url:
            return {"ok": False, "error": "socket_mode_not_enabled"}
        return {"ok": True, "url": self.socket_url}

    def _api_auth_test(self, _p: dict[str, Any], _t: str | None) -> dict[str, Any]:
        answer = {"ok": True, "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": "B0BOT0001", "team": "Test"}
        if self.enterprise_id:
            answer["enterprise_id"] = self.enterprise_id
        return answer

    def _channel_for_post(self, channel: str) -> str:
        # Posting to a user id opens (or reuses) the DM with that user, as Slack does.
        if channel.startswith(("U", "W")):
            return self._open_dm(channel)
        return channel

    def _open_dm(self, user_id: str) -> str:
        cid = self.dm_channel_id(user_id)
        if cid not in self.channels:
            self.add_channel(cid, name=f"dm-{user_id}", is_im=True, user=user_id)
        return cid

    def _api_chat_postMessage(self, p: dict[str, Any], _t: str | None) -> dict[str, Any]:
        raw_channel = str(p.get("channel") or "")
        if not raw_channel:
            return {"ok": False, "error": "channel_not_found"}
        if not p.get("text") and not p.get("blocks") and not p.get("attachments"):
            return {"ok": False, "error": "no_text"}
        blocks = p.get("blocks") or []
        if isinstance(blocks, list) and len(blocks) > 50:
            return {"ok": False, "error": "invalid_blocks", "errors": ["must be less than 51 items"]}
        channel = self._channel_for_post(raw_channel)
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        ts = self._new_ts()
        msg = {
            "type": "message",
            "ts": ts,
            "user": BOT_USER_ID,
            "bot_id": "B0BOT0001",
            "text": p.get("text") or "",
            "blocks": blocks,
            "thread_ts": p.get("thread_ts"),
            "metadata": p.get("metadata"),
        }
        self.messages.setdefault(channel, []).append(msg)
        return {"ok": True, "channel": channel, "ts": ts, "message": msg}

    def _api_chat_postEphemeral(self, p: dict[str, Any], _t: str | None) -> dict[str, Any]:
        if not p.get("user"):
            return {"ok": False, "error": "user_not_found"}
        self.ephemerals.append(p)
        return {"ok": True, "message_ts": self._new_ts()}

    def _api_chat_update(self, p: dict[str, Any], _t: str | None) -> dict[str, Any]:
        channel, ts = str(p.get("channel") or ""), str(p.get("ts") or "")
        for msg in self.messages.get(channel, []):
            if msg["ts"] == ts:
                msg["text"] = p.get("text") or msg["text"]
                if "blocks" in p:
                    msg["blocks"] = p.get("blocks") or []
                if p.get("metadata"):
                    msg["metadata"] = p["metadata"]
                return {"ok": True, "channel": channel, "ts": ts, "text": msg["text"]}
        return {"ok": False, "error": "message_not_found"}

    def _api_chat_delete(self, p: dict[str, Any], _t: str | None) -> dict[str, Any]:
        channel, ts = str(p.get("channel") or ""), str(p.get("ts") or "")
        msgs = self.messages.get(channel, [])
        self.messages[channel] = [m for m in msgs if m["ts"] != ts]
        return {"ok": True, "channel": channel, "ts": ts}

    def _api_chat_getPermalink(self, p: dict[str, Any], _t: str | None) -> dict[str, Any]:
        channel, ts = p.get("channel"), str(p.get("message_ts") or "")
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://test.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _api_conversations_open(self, p: dict[str, Any], _t: str | None) -> dict[str, Any]:
        users = str(p.get("users") or "")
        if not users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": self._open_dm(users.split(",")[0])}}

    def _api_conversations_info(self, p: dict[str, Any], _t: str | None) -> dict[str, Any]:
        channel = self.channels.get(str(p.get("channel") or ""))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": channel}

    def _api_conversations_history(self, p: dict[str, Any], _t: str | None) -> dict[str, Any]:
        channel = str(p.get("channel") or "")
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        limit = int(p.get("limit") or 100)
        oldest = float(p.get("oldest") or 0)
        msgs = [m for m in reversed(self.messages.get(channel, [])) if float(m["ts"]) > oldest][:limit]
        include_meta = str(p.get("include_all_metadata") or "").lower() in ("1", "true")
        out = [dict(m) if include_meta else {k: v for k, v in m.items() if k != "metadata"} for m in msgs]
        return {"ok": True, "messages": out, "has_more": False}

    def _api_conversations_replies(self, p: dict[str, Any], _t: str | None) -> dict[str, Any]:
        channel, ts = str(p.get("channel") or ""), str(p.get("ts") or "")
        msgs = [m for m in self.messages.get(channel, []) if m["ts"] == ts or m.get("thread_ts") == ts]
        return {"ok": True, "messages": msgs, "has_more": False}

    def _api_users_info(self, p: dict[str, Any], _t: str | None) -> dict[str, Any]:
        user = self.users.get(str(p.get("user") or ""))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    def _api_users_lookupByEmail(self, p: dict[str, Any], _t: str | None) -> dict[str, Any]:
        email = str(p.get("email") or "").lower()
        for user in self.users.values():
            if (user["profile"].get("email") or "").lower() == email and not user["deleted"]:
                return {"ok": True, "user": user}
        return {"ok": False, "error": "users_not_found"}

    def _view(self, p: dict[str, Any]) -> dict[str, Any]:
        view = p.get("view") or {}
        if isinstance(view, str):
            view = json.loads(view)
        return view

    def _api_views_open(self, p: dict[str, Any], _t: str | None) -> dict[str, Any]:
        if not p.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view = self._view(p)
        if len(view.get("blocks") or []) > 100:
            return {"ok": False, "error": "invalid_arguments"}
        view_id = f"V{next(self._ids):08d}"
        stored = {**view, "id": view_id, "hash": f"h{view_id}"}
        self.views[view_id] = stored
        return {"ok": True, "view": stored}

    def _api_views_push(self, p: dict[str, Any], t: str | None) -> dict[str, Any]:
        return self._api_views_open(p, t)

    def _api_views_update(self, p: dict[str, Any], _t: str | None) -> dict[str, Any]:
        view_id = str(p.get("view_id") or "")
        if view_id not in self.views:
            return {"ok": False, "error": "not_found"}
        stored = {**self._view(p), "id": view_id, "hash": f"h{view_id}"}
        self.views[view_id] = stored
        return {"ok": True, "view": stored}

    def _api_views_publish(self, p: dict[str, Any], _t: str | None) -> dict[str, Any]:
        user_id = str(p.get("user_id") or "")
        view = self._view(p)
        if len(view.get("blocks") or []) > 100:
            return {"ok": False, "error": "invalid_arguments"}
        stored = {**view, "id": f"VHOME{user_id}"}
        self.published[user_id] = stored
        return {"ok": True, "view": stored}

    def _api_files_getUploadURLExternal(self, p: dict[str, Any], _t: str | None) -> dict[str, Any]:
        file_id = f"F{next(self._ids):08d}"
        self.files[file_id] = {"id": file_id, "name": p.get("filename"), "length": p.get("length")}
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _api_files_completeUploadExternal(self, p: dict[str, Any], _t: str | None) -> dict[str, Any]:
        files = p.get("files") or []
        if isinstance(files, str):
            files = json.loads(files)
        out = []
        for f in files:
            stored = self.files.get(f["id"], {"id": f["id"]})
            stored.update(
                {"title": f.get("title"), "channel": p.get("channel_id"), "comment": p.get("initial_comment")}
            )
            out.append(stored)
        return {"ok": True, "files": out}

    def _on_response_url(self, _key: str, _params: dict[str, Any]) -> None:
        """Response URL posts are only recorded (see `responses()`)."""
