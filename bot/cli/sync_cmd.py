"""`usagebot sync PATH` and `usagebot sync --from-sql URL [--schema NAME]` (docs/data-contract.md)."""

from __future__ import annotations

import sys
from typing import Any

import click

from bot.cli import Failure, require_schema, settings_from

# Every problem of a rejected export is printed (the spec asks for all of them); only a pathological export
# (every cell of a million rows wrong) is cut, and then the count of the rest is printed.
MAX_PRINTED = 100_000


class BarProgress:
    """A click progress bar per table, drawn only when stderr is a terminal."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._done = 0

    def start(self, label: str, total: int | None) -> None:
        self._bar = click.progressbar(length=total or 0, label=f"{label:<22}", file=sys.stderr, show_eta=True)
        self._bar.__enter__()
        self._done = 0

    def update(self, done: int) -> None:
        if self._bar is not None and done > self._done:
            self._bar.update(done - self._done)
            self._done = done

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.finish()
            self._bar.__exit__(None, None, None)
            self._bar = None


def progress_for_terminal() -> BarProgress | None:
    return BarProgress() if sys.stderr.isatty() else None


def report_result(result: Any) -> None:
    """Print a sync's outcome; raise Failure (exit 1) when the export was rejected."""
    if not result.ok:
        for line in result.problems[:MAX_PRINTED]:
            click.echo(line, err=True)
        more = result.problem_count - min(len(result.problems), MAX_PRINTED)
        if more > 0:
            click.echo(f"… and {more:,} more", err=True)
        noun = "problem" if result.problem_count == 1 else "problems"
        raise Failure(
            f"export rejected: {result.problem_count:,} {noun}; no data was changed "
            "(the attempt is logged in sync_runs)."
        )
    ch = result.changes
    as_of = result.as_of_month.strftime("%Y-%m") if result.as_of_month else "no usage rows"
    click.echo(
        f"Synced {result.source}\n"
        f"  read:    {result.accounts:,} accounts, {result.subscriptions:,} subscriptions, "
        f"{result.instances:,} instances, {result.usage_rows:,} usage rows\n"
        f"  changed: {ch.accounts:,} accounts, {ch.subscriptions:,} subscriptions, "
        f"{ch.instances:,} instances, {ch.usage_rows:,} usage rows ({ch.total:,} rows in all)\n"
        f"Data as of {as_of}."
    )
    if result.load_seconds is not None:
        sc = result.scoring
        scored = (
            "scores unchanged"
            if sc is None
            else f"scoring {sc.accounts:,} account{'' if sc.accounts == 1 else 's'} × {len(sc.months)} months "
            f"({sc.rows:,} account-months scored, {sc.unchanged:,} unchanged) {sc.seconds:.1f} s"
        )
        click.echo(f"Took: load {result.load_seconds:.1f} s, {scored}.")


def register(cli: click.Group) -> None:
    @cli.command("sync")
    @click.argument("path", required=False, type=click.Path(path_type=str))
    @click.option("--from-sql", "from_sql", metavar="URL", help="Read the export's tables from this SQLAlchemy URL.")
    @click.option("--schema", metavar="NAME", help="Schema holding the tables (with --from-sql).")
    @click.option("--no-alerts", is_flag=True, help="Do not DM TAMs health-drop alerts after the load.")
    @click.pass_context
    def sync(ctx: click.Context, path: str | None, from_sql: str | None, schema: str | None, no_alerts: bool) -> None:
        """Load a warehouse export: a folder with accounts.csv, subscriptions.csv and
        usage_monthly.csv, or the same tables in a database (--from-sql); without either, SYNC_SOURCE.

        Every row is validated first; one bad row rejects the whole export (exit 1) with each
        problem as file:line: column: what is wrong, and the database stays as it was.
        """
        from bot.features.sync.jobs import SlackSyncFollowUp
        from workflows.sync.scheduled import run_sync

        if path and from_sql:
            raise click.UsageError("give exactly one of PATH (a folder of CSV files) or --from-sql URL")
        if schema and not from_sql:
            raise click.UsageError("--schema only applies to --from-sql")
        settings = settings_from(ctx)
        if not path and not from_sql:
            # Nothing named: the clock's source (SYNC_SOURCE), so a person can run the scheduled sync now.
            configured = settings.secret("sync_source")
            if not configured:
                raise click.UsageError("give PATH (a folder of CSV files) or --from-sql URL, or set SYNC_SOURCE")
            from workflows.sync.scheduled import is_url

            from_sql, path = (configured, None) if is_url(configured) else (None, configured)
            schema = schema or settings.sync_schema
        if path and "://" in path:
            raise click.UsageError("PATH is a folder; give a database URL with --from-sql URL")
        if from_sql and "://" not in from_sql:
            raise Failure(f"cannot open {from_sql[:80]!r}: expected a SQLAlchemy URL such as postgresql://host/db")
        require_schema(settings)
        # The same entry point as the clock's scheduled sync: the sync lock, then alerts and Home refreshes.
        outcome = run_sync(
            settings,
            from_sql or path or "",
            schema,
            progress=progress_for_terminal(),
            follow_up=SlackSyncFollowUp(settings, alerts=not no_alerts),
        )
        if outcome.status == "busy":
            raise Failure(f"{outcome.busy_text()}. Try again when it has ended.")
        if outcome.status == "failed":
            raise Failure(outcome.error or "the sync failed")
        assert outcome.result is not None
        report_result(outcome.result)
        for line in outcome.follow_up:
            click.echo(line)
