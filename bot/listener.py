"""The one listener shape: `fn(ctx: UsageContext)`, registered with `acked_then`.

Slack gets its acknowledgement at once; the work runs in a lazy listener right after it (still inside the
3-second window in which a `trigger_id` can open a modal), and a failure is worded in one place (`safely`:
a domain error in its words from `bot.errors`, anything else logged and apologised for). Use as
`app.action(ACTION_ID)(**acked_then("what", fn))`, `app.command(...)`, `app.shortcut(...)`, `app.event(...)`.

Only a listener whose acknowledgement itself carries the answer (a modal submission's `response_action`,
the options of an external select) is a plain Bolt listener, `(ack, body, client, context)`; it reads the
same request fields from `context` and its session with `session_of(context)`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from slack_bolt import BoltContext
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot import guard
from bot.app import SESSION, Deps, RequestSession, deps_of, retry_handlers, user_name_of
from bot.blocks.format import section
from bot.blocks.limits import clip, fit_to_limits
from bot.errors import PEOPLE_ERRORS, SORRY, slack_text
from bot.guard import PERSON
from bot.outgoing import SafeWebhookClient
from workflows.settings import Settings

log = logging.getLogger("usagebot.listener")


class Shown(Protocol):
    """An answer to show: its notification text and blocks (a feature's `Answer`)."""

    @property
    def text(self) -> str: ...

    @property
    def blocks(self) -> list[dict[str, Any]]: ...


@dataclass
class UsageContext:
    """What a listener gets: who and where (as Bolt read them from the request), the Slack client,
    `respond`, the app's deps, the request's database session, and the raw body for what Bolt's context
    lacks (a button's value, a modal's id, `trigger_id`, the command text)."""

    client: WebClient
    respond: Callable[..., Any]
    body: dict[str, Any]
    deps: Deps
    db: RequestSession | None = None
    person: guard.Person | None = None
    user_id: str = ""
    user_name: str | None = None
    channel_id: str | None = None
    team_id: str | None = None

    @classmethod
    def of(cls, body: dict[str, Any], client: WebClient, respond: Any, context: BoltContext) -> UsageContext:
        """The context of one request; the person is the one the guard middleware admitted."""
        return cls(
            client=client,
            respond=respond,
            body=body,
            deps=deps_of(context),
            db=context.get(SESSION),
            person=context.get(PERSON),
            user_id=context.user_id or "",
            user_name=user_name_of(body),
            channel_id=context.channel_id,
            team_id=context.team_id,
        )

    @property
    def session(self) -> Session:
        """The request's session: committed when the listener returns, rolled back when it fails."""
        if self.db is None:
            raise RuntimeError("no request session: the app was not built by bot.app.build_app")
        return self.db.session

    @property
    def settings(self) -> Settings:
        return self.deps.settings

    @property
    def action(self) -> dict[str, Any]:
        """The clicked element of a button or select (empty for other requests)."""
        actions = self.body.get("actions") or [{}]
        first = actions[0]
        return first if isinstance(first, dict) else {}

    @property
    def trigger_id(self) -> str:
        return str(self.body.get("trigger_id") or "")

    def show(self, answer: Shown, *, replace_original: bool = False) -> None:
        self.send(text=answer.text, blocks=answer.blocks, replace_original=replace_original)

    def send(self, *, text: str, blocks: list[dict[str, Any]] | None = None, replace_original: bool = False) -> None:
        """An ephemeral answer through the response_url, retried on 429 / 5xx / dropped connections like
        every other Slack call (Bolt's own `respond()` does not retry)."""
        url = self.body.get("response_url")
        if not url:
            self.respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=replace_original)
            return
        resp = SafeWebhookClient(url, timeout=15, retry_handlers=retry_handlers()).send(
            text=text, blocks=blocks, response_type="ephemeral", replace_original=replace_original
        )
        if resp.status_code != 200:
            log.warning("response_url answered %s: %s", resp.status_code, (resp.body or "")[:200])

    def say(self, text: str) -> None:
        """A one-line ephemeral answer (a refusal, a problem)."""
        self.send(text=clip(text, 3000), blocks=fit_to_limits([section(text)]))


def safely(ctx: UsageContext, what: str, work: Callable[[UsageContext], None]) -> None:
    """Run work after the ack; a domain error is answered in its words (bot.errors), any other failure is
    logged with context and the person gets the apology. Either way nothing the work wrote is committed."""
    try:
        work(ctx)
    except PEOPLE_ERRORS as exc:
        _discard(ctx)
        log.info("%s stopped: %s", what, exc.__class__.__name__)
        _tell(ctx, slack_text(exc))
    except Exception:
        _discard(ctx)
        log.exception(
            "%s failed: user=%s channel=%s text=%r actions=%r",
            what,
            ctx.user_id,
            ctx.channel_id,
            (ctx.body.get("text") or "")[:300],
            [a.get("action_id") for a in ctx.body.get("actions") or []],
        )
        _tell(ctx, SORRY)


def _discard(ctx: UsageContext) -> None:
    if ctx.db is not None:
        try:
            ctx.db.discard()
        except Exception:  # the database itself failed: the session is closed when the listener ends
            log.warning("rollback failed", exc_info=True)


def _tell(ctx: UsageContext, text: str) -> None:
    try:
        ctx.say(text)
    except Exception:
        log.warning("could not tell the user about the failure", exc_info=True)


def acked_then(what: str, fn: Callable[[UsageContext], None]) -> dict[str, Any]:
    """The listener shape: ack at once (Slack's three seconds), then `fn(ctx)` in a lazy listener, failures
    worded by `safely`. Use as `app.action(ACTION_ID)(**acked_then("what", fn))`."""

    def ack_now(ack: Any) -> None:
        ack()

    def work(body: dict[str, Any], client: WebClient, respond: Any, context: BoltContext) -> None:
        safely(UsageContext.of(body, client, respond, context), what, fn)

    work.__name__ = "usage_" + re.sub(r"\W+", "_", what).strip("_")  # Bolt names lazy functions by __name__ in logs
    return {"ack": ack_now, "lazy": [work]}
