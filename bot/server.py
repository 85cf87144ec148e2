"""HTTP mode (gunicorn, gthread workers) with `/slack/events` and `/healthz`, and Socket Mode."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from typing import Any

from workflows.settings import Settings

log = logging.getLogger("usagebot.server")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def health(settings: Settings) -> tuple[int, dict[str, Any]]:
    from sqlalchemy.exc import SQLAlchemyError

    from db.queries.health import data_as_of, ping
    from db.session import session_scope

    try:
        with session_scope(settings.database_url) as session:
            ping(session)
            as_of = data_as_of(session)
    except SQLAlchemyError as exc:
        log.warning("health check: database unreachable: %s", exc.__class__.__name__)
        return 503, {"status": "error", "database": f"unreachable ({exc.__class__.__name__})", "data_as_of": None}
    return 200, {"status": "ok", "database": "ok", "data_as_of": as_of.strftime("%Y-%m") if as_of else None}


def _plain(start_response: Callable[..., Any], status: str, text: str) -> list[bytes]:
    data = text.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))])
    return [data]


def make_wsgi_app(settings: Settings) -> WSGIApp:
    """The whole HTTP surface. Every Slack request passes `request_pipeline.admit` (size, signature, shape)
    before Bolt sees it; Bolt is built on first use so each pre-forked worker builds its own."""
    from slack_bolt import App, BoltRequest

    from bot.app import build_app
    from bot.request_pipeline import MALFORMED, Rejection, admit

    lock = threading.Lock()
    built: list[App] = []
    signing_secret = settings.secret("slack_signing_secret")

    def bolt() -> App:
        if not built:
            with lock:
                if not built:
                    built.append(build_app(settings))
        return built[0]

    def slack_events(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        admitted = admit(environ, signing_secret)
        if isinstance(admitted, Rejection):
            return _plain(start_response, admitted.status_line, admitted.reason)
        # Bolt gets the body already verified and parsed here (its own parser takes any form body containing
        # the word "payload" for an interaction, and its verifier would read the headers a second time).
        bolt_headers: dict[str, str | Sequence[str]] = dict(admitted.headers)
        try:
            request = BoltRequest(
                body=admitted.body, query=environ.get("QUERY_STRING", ""), headers=bolt_headers, mode="socket_mode"
            )
            response = bolt().dispatch(request)
        except Exception as exc:  # a signed body of a shape Bolt cannot read (fields of the wrong type)
            log.warning("signed request of an unexpected shape: type=%r: %r", admitted.body.get("type"), exc)
            return _plain(start_response, MALFORMED.status_line, MALFORMED.reason)
        if response.status >= 500:
            # A listener failed while acknowledging; `on_error` logged it with its traceback. What the sender
            # learns is only that this request was not handled (a 500 would tell a prober it found a crash).
            return _plain(start_response, MALFORMED.status_line, MALFORMED.reason)
        data = (response.body or "").encode()
        headers = [(k, v) for k, values in response.headers.items() for v in values if k.lower() != "content-length"]
        status = HTTPStatus(response.status)
        start_response(f"{status.value} {status.phrase}", [*headers, ("Content-Length", str(len(data)))])
        return [data]

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD") or "GET"
        if path == "/healthz" and method in ("GET", "HEAD"):
            status, body = health(settings)
            data = json.dumps(body).encode()
            start_response(
                f"{status} {'OK' if status == 200 else 'Service Unavailable'}",
                [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
            )
            return [data]
        if path == "/slack/events" and method == "POST":
            return slack_events(environ, start_response)
        return _plain(start_response, "404 Not Found", "Not Found")

    bolt()  # fail fast on missing settings, before binding a port
    return app


def run_http(settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    from db.session import dispose_all

    wsgi = make_wsgi_app(settings)

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("timeout", 60)
            self.cfg.set("graceful_timeout", 20)
            self.cfg.set("accesslog", None)
            # Connections opened before the fork must not be shared between workers.
            self.cfg.set("post_fork", lambda _server, _worker: dispose_all())

        def load(self) -> WSGIApp:
            return wsgi

    Server().run()


def run_socket_mode(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import build_app

    settings.require("slack_app_token")
    SocketModeHandler(build_app(settings), settings.secret("slack_app_token")).start()
