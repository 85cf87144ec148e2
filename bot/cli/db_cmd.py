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

        from db.migrate import upgrade as run_upgrade

        settings = settings_from(ctx)
        try:
            run_upgrade(settings.database_url)
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc  # the driver's own message when there is one
            raise Failure(f"could not migrate the database: {exc.__class__.__name__}: {cause}") from None
        click.echo("Database schema is up to date.")
