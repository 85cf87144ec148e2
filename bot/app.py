"""The Bolt app: one factory, one WebClient configured once, listeners registered by feature, and what
every request passes before its listener (deps, its database session, the guard).

Each feature package (`bot/features/<name>/`) has `register(app)`; listeners reach settings through
`context["deps"]` and the database through the request's session (`session_of(context)`), both set by global
middleware, so no module holds global state. No two listeners answer the same action id, command or view,
so the order features register in does not matter.

The request's database session. Bolt (with `process_before_response` off) runs a listener's ack function
on a worker thread and its lazy functions on other worker threads, and a global middleware's `next()`
returns as soon as the ack is sent.
A session opened and closed around `next()` would therefore be closed while a lazy listener still works,
and would cross threads. So the session lives in the context and ends with the listener that used it:

- `open_request_session` (global middleware) puts an unopened `RequestSession` into `context["db"]`
  before any listener runs. Bolt deep-copies the context for each lazy listener; the copy of a
  `RequestSession` is a fresh, unopened one, so a session never crosses threads.
- `UsageApp` wraps every listener function it registers (`in_request_session`): on the listener's own
  thread, after the function returns, what it wrote is committed; when it raises, it is rolled back; the
  session is closed either way and its connection goes back to the pool.
- The session connects on first use, so a listener that never reads the database costs nothing.

Listeners read it with `session_of(context)` (`ctx.session` in a `bot.listener.UsageContext`) and never
commit it. Workflows that commit at their own documented points keep them: relabel's compare-and-set, a
report's or request's "stored before Slack is told" steps commit the session they are handed; the outbox,
request filing and joining take the session factory (`deps.sessions`) and open their own. A listener that
catches a failure and answers it itself calls `discard(context)`, so nothing half-done is committed after it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import PEOPLE_ERRORS, slack_text
from bot.guard import guard_requests, learn_workspace
from bot.outgoing import SafeRespond, SafeWebClient, SafeWebhookClient, safe_copy, send_later
from db.session import session_factory
from workflows.settings import Settings

log = logging.getLogger("usagebot.app")

# Feature packages with listeners; each has `register(app: App) -> None`.
FEATURES: tuple[str, ...] = (
    "bot.features.usage",
    "bot.features.relabel",
    "bot.features.metric_request",
    "bot.features.data_quality",
    "bot.features.home",
    "bot.features.alerts",
)


@dataclass(frozen=True)
class Deps:
    """What listeners need besides Slack: settings and a session factory."""

    settings: Settings
    sessions: sessionmaker[Session]

    def __deepcopy__(self, memo: dict[int, Any]) -> Deps:
        # Bolt deep-copies the context for lazy listeners; the deps are shared, read-only services.
        return self


def retry_handlers() -> list[RetryHandler]:
    # 429s wait for Retry-After; 5xx and dropped connections retry with backoff. Configured once here.
    return [
        ConnectionErrorRetryHandler(max_retry_count=3),
        RateLimitErrorRetryHandler(max_retry_count=6),
        ServerErrorRetryHandler(max_retry_count=3),
    ]


def make_web_client(settings: Settings) -> WebClient:
    """The Web API client (with the outgoing-message check of `bot.outgoing`)."""
    return SafeWebClient(
        token=settings.secret("slack_bot_token"),
        base_url=settings.slack_api_url,
        timeout=30,
        retry_handlers=retry_handlers(),
    )


# Context key set once a request has passed the request pipeline (HTTP) or came over Socket Mode.
VERIFIED = "usagebot_verified"

def _tell(url: str, text: str) -> None:
    SafeWebhookClient(url, timeout=5).send(text=text, response_type="ephemeral", replace_original=False)


def tell_later(url: str, text: str) -> None:
    """Bolt runs the error handler on the thread that acknowledges: the answer goes out after it, elsewhere."""
    send_later(_tell, url, text)


def deps_of(context: BoltContext) -> Deps:
    deps: Deps = context["deps"]
    return deps


def user_name_of(body: dict[str, Any]) -> str | None:
    """The clicking person's Slack handle, the one request field Bolt's `context` lacks (ids, team and
    channel come from `context.user_id`, `context.team_id`, `context.channel_id`)."""
    user = body.get("user")
    if not isinstance(user, dict):
        return None
    name = user.get("username") or user.get("name")
    return str(name) if name else None


# ------------------------------------------------------------------------------ the request's session

SESSION = "db"  # context key of the request's RequestSession


class RequestSession:
    """The session of one listener run, opened on first use."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._session: Session | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> RequestSession:
        # A lazy listener gets a copy of the context on another thread: its own session, not this one.
        return RequestSession(self._factory)

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = self._factory()
        return self._session

    @property
    def opened(self) -> bool:
        return self._session is not None

    def discard(self) -> None:
        """Roll back what this run wrote (a failure the listener answered itself)."""
        if self._session is not None:
            self._session.rollback()

    def finish(self, ok: bool) -> None:
        """Commit (ok) or roll back, then close; the listener's run is over."""
        session, self._session = self._session, None
        if session is None:
            return
        try:
            if ok:
                session.commit()
            else:
                session.rollback()
        finally:
            session.close()


def session_of(context: BoltContext) -> Session:
    """The request's session (see the module docstring for when it commits)."""
    holder: RequestSession = context[SESSION]
    return holder.session


def discard(context: BoltContext) -> None:
    holder: RequestSession | None = context.get(SESSION)
    if holder is not None:
        holder.discard()


def open_request_session(factory: sessionmaker[Session]) -> Callable[..., Any]:
    """The global middleware: an unopened session for this request, from the app's session factory."""

    def open_request_session(context: BoltContext, next: Callable[[], Any]) -> Any:
        context[SESSION] = RequestSession(factory)
        return next()

    return open_request_session


def in_request_session(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` (a Bolt listener function) ending its request session on its own thread: commit on return,
    roll back on an exception, close either way. A function without a `context` parameter cannot reach the
    session and is left as it is."""
    from slack_bolt.util.utils import get_arg_names_of_callable

    if "context" not in get_arg_names_of_callable(fn) or getattr(fn, "_in_request_session", False):
        return fn

    @functools.wraps(fn)  # Bolt reads the wrapped function's parameters and name (lazy listeners by name)
    def run(**kwargs: Any) -> Any:
        holder: RequestSession | None = kwargs["context"].get(SESSION)
        if holder is None:
            return fn(**kwargs)
        try:
            result = fn(**kwargs)
        except BaseException:
            holder.finish(ok=False)
            raise
        holder.finish(ok=True)
        return result

    run._in_request_session = True  # type: ignore[attr-defined]
    return run


class UsageApp(App):
    """Bolt's App whose every listener function (ack and lazy) ends its request session itself.

    Bolt has no public hook around a listener's run, so this overrides `_register_listener`, the one method
    every registration goes through; tests/test_edge_shape.py fails if a registered listener is left
    unwrapped (say, after a Bolt upgrade renames it)."""

    def _register_listener(
        self, functions: Sequence[Callable[..., Any]], *args: Any, **kwargs: Any
    ) -> Any:
        # Every registration (command, action, view, options, shortcut, event) goes through here.
        return super()._register_listener([in_request_session(f) for f in functions], *args, **kwargs)


# ------------------------------------------------------------------------------ the app


def build_app(settings: Settings, features: tuple[str, ...] = FEATURES) -> App:
    settings.require("slack_bot_token", "slack_signing_secret")
    bot_token = settings.secret("slack_bot_token")

    def authorize(enterprise_id: str | None, team_id: str | None, **_: Any) -> AuthorizeResult:
        # A single-workspace app knows its token: no `auth.test` call before each acknowledgement, so a slow
        # or failing Slack can never push an ack past 3 seconds (Bolt's default makes that call per request).
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=bot_token)

    client = make_web_client(settings)
    client.token = None  # each request gets a client of its own, with the token `authorize` returns
    app = UsageApp(
        signing_secret=settings.secret("slack_signing_secret"),
        client=client,
        authorize=authorize,
        process_before_response=False,
        logger=logging.getLogger("usagebot.bolt"),
    )
    deps = Deps(settings=settings, sessions=session_factory(settings.database_url))

    @app.middleware
    def inject_deps(context: BoltContext, next: Any) -> None:
        # Global middleware runs after Bolt's own checks, so a request that reaches it was admitted: over
        # HTTP by `bot.request_pipeline` (signature on the raw bytes), in Socket Mode by the app-level token.
        context["deps"] = deps
        context[VERIFIED] = True
        # Everything listeners send goes out through `bot.outgoing` (Bolt builds plain clients per request).
        context["client"] = safe_copy(context.client)
        if context.response_url:
            context["respond"] = SafeRespond(response_url=context.response_url)
        next()

    # One session per request in `context["db"]`, committed or rolled back when the listener using it ends.
    app.middleware(open_request_session(deps.sessions))
    # The policy for every request a person sends (commands, buttons, modals, shortcuts, options, Home); after
    # inject_deps, so a refusal goes out through the same outgoing check as every other message.
    app.middleware(guard_requests)
    # Who "our workspace" is comes from Slack once, now (never from the team id a request carries).
    learn_workspace(make_web_client(settings))

    @app.error
    def on_error(error: Exception, body: dict[str, Any], context: Any, logger: logging.Logger) -> None:
        verified = bool(context.get(VERIFIED)) if context is not None else False
        if not verified:
            # Nothing of an unadmitted request is logged or used (its response_url could point anywhere).
            logger.warning("request failed before it was admitted: %s", error.__class__.__name__)
            return
        if isinstance(error, PEOPLE_ERRORS):  # a problem the person can fix, worded in bot.errors
            logger.info("listener stopped: %s", error.__class__.__name__)
        else:
            logger.exception(
                "listener failed: type=%s user=%s command=%r action=%r",
                body.get("type") or body.get("command"),
                context.user_id,
                body.get("text"),
                [a.get("action_id") for a in body.get("actions") or [] if isinstance(a, dict)],
                exc_info=error,
            )
        url = body.get("response_url")
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            tell_later(url, slack_text(error))

    for name in features:
        import_module(name).register(app)
    return app
