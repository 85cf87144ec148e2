"""`usagebot rescore [--all]`: bring the stored scores up to date with the data and the rules.

The sync stores every account's scores itself; this is for a changed SCORING_RULES (or rules file) before
the clock gets to it, or to rebuild them on demand.
"""

from __future__ import annotations

import click

from bot.cli import require_schema, settings_from


def register(cli: click.Group) -> None:
    @cli.command("rescore")
    @click.option("--all", "everything", is_flag=True, help="Rescore every account even if the scores are current.")
    @click.pass_context
    def rescore(ctx: click.Context, everything: bool) -> None:
        """Score every account's stored months again when the rules changed (or always, with --all)."""
        from db.session import session_scope
        from workflows.scores import rescore_if_stale

        settings = settings_from(ctx)
        require_schema(settings)
        with session_scope(settings.database_url) as session:
            result = rescore_if_stale(session, settings.scoring_rules, force=everything)
        if result is None:
            click.echo("Stored scores are already current (same data, same rules): nothing to do.")
            return
        if not result.months:
            click.echo("No usage data yet: nothing to score.")
            return
        first, last = result.months[0], result.months[-1]
        click.echo(
            f"Rescored {result.accounts:,} accounts x {len(result.months)} months "
            f"({first:%Y-%m} to {last:%Y-%m}): {result.rows:,} account-months scored, "
            f"{result.unchanged:,} unchanged (their inputs had not changed), in {result.seconds:.1f}s."
        )
