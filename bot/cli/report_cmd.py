"""`usagebot report ACCOUNT [--month YYYY-MM] [--json]`: an account's usage, utilization and health."""

from __future__ import annotations

import json
import re
from datetime import date

import click

from bot.cli import Failure, require_schema, settings_from

_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


def parse_month(value: str | None) -> date | None:
    if value is None:
        return None
    m = _MONTH.match(value)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise click.BadParameter(f"{value!r} is not a month; expected YYYY-MM such as 2026-10", param_hint="--month")
    return date(int(m.group(1)), int(m.group(2)), 1)


def register(cli: click.Group) -> None:
    @cli.command("report")
    @click.argument("account")
    @click.option("--month", "month_text", metavar="YYYY-MM", help="Month to show (default: the data's as-of month).")
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    @click.pass_context
    def report(ctx: click.Context, account: str, month_text: str | None, as_json: bool) -> None:
        """The account's usage, utilization and health (ACCOUNT = CRM id, name, start of a name or a close name)."""
        from sqlalchemy.exc import SQLAlchemyError

        from db.session import session_scope
        from scoring.rules import load_rules
        from workflows.report import build_account_report, report_to_json, resolve_account
        from workflows.report_text import format_report

        month = parse_month(month_text)
        settings = settings_from(ctx)
        require_schema(settings)
        rules = load_rules(settings.scoring_rules)  # a RulesError, unknown account or month: bot.errors
        try:
            with session_scope(settings.database_url) as session:
                account_id, _name = resolve_account(session, account)
                result = build_account_report(session, account_id, month, rules)
        except SQLAlchemyError as exc:
            raise Failure(
                f"could not read the database ({exc.__class__.__name__}); is DATABASE_URL right and has "
                "`usagebot db upgrade` been run?"
            ) from None
        if as_json:
            click.echo(json.dumps(report_to_json(result), indent=2, ensure_ascii=False))
        else:
            click.echo(format_report(result))
