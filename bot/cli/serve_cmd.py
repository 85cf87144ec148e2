from __future__ import annotations

import os

import click

from bot.cli import settings_from


def register(cli: click.Group) -> None:
    @cli.command("serve")
    @click.option("--host", default="0.0.0.0", show_default=True, help="Interface to listen on (HTTP mode).")
    @click.option(
        "--port", type=int, default=lambda: int(os.environ.get("PORT", "3000")), help="Port (default $PORT or 3000)."
    )
    @click.option(
        "--workers",
        type=click.IntRange(1, 64),
        default=lambda: int(os.environ.get("WEB_CONCURRENCY", "2")),
        help="Worker processes (HTTP mode; default $WEB_CONCURRENCY or 2).",
    )
    @click.option(
        "--threads", type=click.IntRange(1, 256), default=8, show_default=True, help="Threads per worker (HTTP mode)."
    )
    @click.option("--socket", "socket_mode", is_flag=True, help="Run in Socket Mode instead of HTTP.")
    @click.pass_context
    def serve(ctx: click.Context, host: str, port: int, workers: int, threads: int, socket_mode: bool) -> None:
        """Run the bot: HTTP mode on POST /slack/events and GET /healthz, or Socket Mode."""
        from bot.server import run_http, run_socket_mode

        settings = settings_from(ctx)
        if socket_mode:  # a missing secret is a SettingsError, worded by bot.errors
            run_socket_mode(settings)
        else:
            run_http(settings, host, port, workers, threads)
