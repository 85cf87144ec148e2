"""The one way out to Slack: every message, view, DM, thread post, channel note and response_url answer
passes `workflows.escaping.outgoing_message` here, whoever built it.

- `SafeWebClient`: the Web API client the app, the scheduler and the CLI use (`bot.app.make_web_client`)
  and the per-request client Bolt hands to listeners (installed by the app's middleware);
- `SafeWebhookClient` / `SafeRespond`: answers through a response_url (`respond()`, `UsageContext.send`).

Renderers escape the data they format (`workflows.escaping.mrkdwn`); this is the check that holds even where
one forgot: no broadcast mention can leave the bot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt.context.respond import Respond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse
from slack_sdk.webhook import WebhookClient, WebhookResponse

from workflows.escaping import outgoing_message

log = logging.getLogger("usagebot.outgoing")

# Web API methods that carry text people read.
MESSAGE_METHODS = frozenset(
    {
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.update",
        "chat.scheduleMessage",
        "chat.meMessage",
        "views.open",
        "views.push",
        "views.update",
        "views.publish",
        "files.completeUploadExternal",
    }
)


def _safe(payload: Any) -> Any:
    return outgoing_message(payload) if isinstance(payload, dict) else payload


class SafeWebClient(WebClient):
    def api_call(
        self,
        api_method: str,
        *,
        json: dict[str, Any] | None = None,
        data: Any = None,
        params: Any = None,
        **kwargs: Any,
    ) -> SlackResponse:
        if api_method in MESSAGE_METHODS:
            json, data, params = _safe(json), _safe(data), _safe(params)
        return super().api_call(api_method, json=json, data=data, params=params, **kwargs)


def safe_copy(client: WebClient) -> SafeWebClient:
    """The same client (token, base URL, timeout, retries) with the outgoing check."""
    if isinstance(client, SafeWebClient):
        return client
    return SafeWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        headers=client.headers,
        team_id=getattr(client, "team_id", None),
        logger=client.logger,
        retry_handlers=list(client.retry_handlers) if client.retry_handlers is not None else None,
    )


class SafeWebhookClient(WebhookClient):
    def send_dict(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> WebhookResponse:
        return super().send_dict(outgoing_message(body), headers=headers)


class SafeRespond(Respond):
    """Bolt's `respond()` with the outgoing check."""

    def __call__(  # type: ignore[override]
        self, text: str | dict[str, Any] = "", blocks: Any = None, attachments: Any = None, **options: Any
    ) -> WebhookResponse:
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        client = SafeWebhookClient(url=self.response_url, proxy=self.proxy, ssl=self.ssl)
        if isinstance(text, dict):
            return client.send_dict(_build_message(**text))
        return client.send_dict(_build_message(text=text, blocks=blocks, attachments=attachments, **options))


# Work that follows an acknowledgement (refusals, apologies) runs on this small pool with short timeouts, never
# on the thread that acknowledges: a slow Slack or response_url must not hold a request worker.
_AFTER_ACK = ThreadPoolExecutor(max_workers=4, thread_name_prefix="usagebot-after-ack")


def send_later(fn: Callable[..., Any], *args: Any) -> None:
    _AFTER_ACK.submit(_logged, fn, *args)


def _logged(fn: Callable[..., Any], *args: Any) -> None:
    try:
        fn(*args)
    except Exception:
        log.warning("sending after the acknowledgement failed", exc_info=True)
