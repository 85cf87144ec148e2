"""One database session per request, handed to listeners in Bolt's context and committed at the edge.

Bolt (with `process_before_response` off) runs a listener's ack function on a worker thread and its lazy
functions on other worker threads, and a global middleware's `next()` returns as soon as the ack is sent.
A session opened and closed around `next()` would therefore be closed while a lazy listener still works,
and would cross threads. So the session lives in the context and ends with the listener that used it:

- `open_request_session` (global middleware) puts an unopened `RequestSession` into `context["db"]`
  before any listener runs. Bolt deep-copies the context for each lazy listener; the copy of a
  `RequestSession` is a fresh, unopened one, so a session never crosses threads.
- `UsageApp` wraps every listener function it registers (`in_request_session`): on the listener's own
  thread, after the function returns, what it wrote is committed; when it raises, it is rolled back; the
  session is closed either way and its connection goes back to the pool.
- The session connects on first use, so a listener that never reads the database costs nothing.

Listeners read it with `session_of(context)` (`ctx.session` in a `SlashContext`). Workflows with their own
documented claim protocols (the outbox, request filing, digest and alert claims) keep their own commit
points: they get the session factory (`deps.sessions`), not this session. A listener that catches a failure
and answers it itself calls `discard()` so that nothing half-done is committed after it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

from slack_bolt import App, BoltContext
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("usagebot.session")

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
    """Bolt's App whose every listener function (ack and lazy) ends its request session itself."""

    def _register_listener(
        self, functions: Sequence[Callable[..., Any]], *args: Any, **kwargs: Any
    ) -> Any:
        # Every registration (command, action, view, options, shortcut, event) goes through here.
        return super()._register_listener([in_request_session(f) for f in functions], *args, **kwargs)
