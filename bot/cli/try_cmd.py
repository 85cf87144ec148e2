"""`usagebot try "/usage acme health"`: the same answer the bot gives in Slack, offline, as text."""

from __future__ import annotations

import click

from bot.cli import Failure, require_schema, settings_from


def register(cli: click.Group) -> None:
    @cli.command("try")
    @click.argument("text")
    @click.option(
        "--as-user", "as_email", default=None, help="Answer as this Slack email (relabel buttons for its TAM)."
    )
    @click.pass_context
    def try_(ctx: click.Context, text: str, as_email: str | None) -> None:
        """Run a slash command's TEXT (e.g. "/usage acme health") through the bot's handlers and print it."""
        from sqlalchemy.exc import SQLAlchemyError

        from bot.features.usage.command import Viewer, answer_text
        from bot.guard import Person
        from db.session import session_scope

        settings = settings_from(ctx)
        require_schema(settings)
        stripped = text.strip()
        if stripped.startswith("/") and not stripped.startswith("/usage"):
            raise click.UsageError(f"only /usage is known; got {stripped.split()[0]!r}")
        person = (
            Person("U0OFFLINE", None, as_email, as_email, is_guest=False, is_bot=False, deleted=False)
            if as_email
            else None
        )
        try:
            with session_scope(settings.database_url) as session:
                out = answer_text(session, settings, stripped, Viewer(person=person, admin_ids=frozenset()))
        except SQLAlchemyError as exc:
            raise Failure(
                f"could not read the database ({exc.__class__.__name__}); run `usagebot db upgrade` "
                "and `usagebot sync` (or `usagebot demo`) first"
            ) from None
        click.echo(out)
