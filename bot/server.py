"""HTTP mode (gunicorn, gthread workers) with `/slack/events` and `/healthz`, and Socket Mode."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
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


def make_wsgi_app(settings: Settings) -> WSGIApp:
    """The whole HTTP surface. Bolt is built on first use so each pre-forked worker builds its own."""
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    from bot.app import build_app

    lock = threading.Lock()
    handler: list[SlackRequestHandler] = []

    def slack_handler() -> SlackRequestHandler:
        if not handler:
            with lock:
                if not handler:
                    handler.append(SlackRequestHandler(build_app(settings), path="/slack/events"))
        return handler[0]

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
            return slack_handler()(environ, start_response)
        data = b"Not Found"
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
        return [data]

    slack_handler()  # fail fast on missing settings, before binding a port
    return app


def run_http(settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    from db.session import dispose_all

    wsgi = make_wsgi_app(settings)

    class Server(BaseApplication):  # type: ignore[misc]
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
