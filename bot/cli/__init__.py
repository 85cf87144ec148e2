"""`usagebot …`: thin commands that parse arguments, call workflows and print.

Each command group lives in its own module with `register(cli)`.
"""

from __future__ import annotations

import logging
import sys
from importlib import import_module

import click

from workflows.settings import Settings, SettingsError, load_settings

# Modules that add commands; each has `register(cli: click.Group) -> None`.
COMMAND_MODULES: tuple[str, ...] = (
    "bot.cli.db_cmd",
    "bot.cli.sync_cmd",
    "bot.cli.demo_cmd",
    "bot.cli.report_cmd",
    "bot.cli.portfolio_cmd",
    "bot.cli.metrics_cmd",
    "bot.cli.requests_cmd",
    "bot.cli.serve_cmd",
    "bot.cli.try_cmd",
    "bot.cli.digest_cmd",
    "bot.cli.scheduler_cmd",
    "bot.cli.manifest_cmd",
    "bot.cli.alerts_cmd",
    "bot.cli.scores_cmd",
)


class Failure(click.ClickException):
    """The work failed: printed without a traceback, exit code 1."""

    exit_code = 1


def settings_from(ctx: click.Context) -> Settings:
    """Settings for this invocation, loaded once; a settings problem is a clean exit 1."""
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        try:
            obj["settings"] = load_settings()
        except SettingsError as exc:
            raise Failure(str(exc)) from None
    return obj["settings"]


def require_schema(settings: Settings) -> None:
    """A clean exit 1 telling what to run when the database has no schema yet (an empty database)."""
    from sqlalchemy.exc import SQLAlchemyError

    from db.migrate import current_heads

    try:
        heads = current_heads(settings.database_url)
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        raise Failure(
            f"could not open the database ({type(exc).__name__}: {str(reason).splitlines()[0][:300]}); "
            "check DATABASE_URL"
        ) from None
    if not heads:
        raise Failure("The database has no schema yet: run `usagebot db upgrade` first (it creates the tables).")


class _Commands(click.Group):
    """The command group; a domain error a person can fix (`bot.errors`) and a database that can't be
    reached or refuses the work are one clear line in every command, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        from sqlalchemy.exc import SQLAlchemyError

        from bot.errors import PEOPLE_ERRORS, cli_error
        from workflows.secrets import redact

        try:
            return super().invoke(ctx)
        except PEOPLE_ERRORS as exc:  # worded once, in bot/errors.py
            raise cli_error(exc) from None
        except SQLAlchemyError as exc:
            logging.getLogger("usagebot.cli").debug("database error", exc_info=True)
            reason = redact(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0])
            raise Failure(
                f"the database is unreachable or refused the work ({exc.__class__.__name__}: {reason}). "
                "Check DATABASE_URL and that the database is up; nothing was changed."
            ) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """usagebot: product usage, utilization and health of customer accounts, in Slack."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from workflows.secrets import install_log_redaction

    install_log_redaction()  # a URL in any log line loses its password and secret parameters
    # Alembic and HTTP clients are chatty at INFO; their news matters only when debugging.
    for noisy in ("alembic", "urllib3", "slack_sdk", "slack_bolt", "gitlab"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    ctx.ensure_object(dict)


for _name in COMMAND_MODULES:
    import_module(_name).register(cli)


def main() -> None:
    cli(prog_name="usagebot")
