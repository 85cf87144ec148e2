from __future__ import annotations

import click

from bot.cli import Failure, settings_from


def register(cli: click.Group) -> None:
    @cli.group("db")
    def db_group() -> None:
        """Database schema."""

    @db_group.command("upgrade")
    @click.pass_context
    def upgrade(ctx: click.Context) -> None:
        """Create or migrate the schema to the latest version."""
        from sqlalchemy.exc import SQLAlchemyError

        from db.migrate import current_heads
        from db.migrate import upgrade as run_upgrade

        settings = settings_from(ctx)
        try:
            before = current_heads(settings.database_url)
            run_upgrade(settings.database_url)
            after = current_heads(settings.database_url)
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc  # the driver's own message when there is one
            raise Failure(f"could not migrate the database: {exc.__class__.__name__}: {cause}") from None
        revision = ", ".join(sorted(after))
        if not before:
            click.echo(f"Created the database schema (revision {revision}).")
        elif before != after:
            click.echo(f"Migrated the database schema from {', '.join(sorted(before))} to {revision}.")
        else:
            click.echo(f"Database schema is up to date (revision {revision}).")
