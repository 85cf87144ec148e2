"""`usagebot portfolio EMAIL [FILTER]... [--team | --all] [--json]`: the `/usage mine` list on the command line."""

from __future__ import annotations

import json

import click

from bot.cli import Failure, settings_from
from workflows.wording import plural


def register(cli: click.Group) -> None:
    @cli.command("portfolio", context_settings={"ignore_unknown_options": True})
    @click.argument("email")
    @click.argument("filters", nargs=-1)
    @click.option("--team", "team", is_flag=True, help="The team EMAIL manages (CS_MANAGERS), as `/usage team`.")
    @click.option("--all", "every", is_flag=True, help="Every account, as `/usage team` for a CS Operations admin.")
    @click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
    @click.pass_context
    def portfolio(
        ctx: click.Context, email: str, filters: tuple[str, ...], team: bool, every: bool, as_json: bool
    ) -> None:
        """EMAIL's accounts (as their TAM), worst first: overall health, then score.

        FILTERS, combinable: red | yellow | green | nodata (overall health); MEASURE:COLOUR
        (utilization, engagement, scm, ci, cd, security; e.g. ci:red); tier:NAME; segment:NAME; flag:NAME.
        """
        from sqlalchemy.exc import SQLAlchemyError

        from bot.blocks.format import blocks_to_text, data_as_of, section
        from bot.features.portfolio.blocks import account_line
        from bot.features.portfolio.command import NOT_A_MANAGER, scope_for
        from db.session import session_scope
        from workflows.portfolio import Viewer, cached_portfolio, parse_managers
        from workflows.portfolio_filter import known_flags, listing, listing_json, parse_filters

        if "@" not in email:
            raise click.BadParameter(f"{email!r} is not an email address", param_hint="EMAIL")
        if team and every:
            raise click.UsageError("give at most one of --team and --all")
        settings = settings_from(ctx)
        email = email.strip().lower()
        viewer = Viewer(
            user_id="cli",
            email=email,
            is_admin=every,
            team=parse_managers(settings.cs_managers).get(email, frozenset()),
        )
        scope = scope_for(viewer, "team" if (team or every) else "mine")
        if scope is None:
            raise Failure(f"{email} manages no team in CS_MANAGERS. " + NOT_A_MANAGER.removeprefix(":lock: "))
        filt = parse_filters(filters, known_flags())  # an unknown word: a usage error worded in bot.errors
        try:
            with session_scope(settings.database_url) as session:
                found = listing(
                    cached_portfolio(session, scope, viewer.emails_for(scope), settings.scoring_rules), filt
                )
        except SQLAlchemyError as exc:
            raise Failure(
                f"could not read the database ({exc.__class__.__name__}); is DATABASE_URL right and has "
                "`usagebot db upgrade` been run?"
            ) from None
        if as_json:
            click.echo(json.dumps(listing_json(found), indent=2, ensure_ascii=False))
            return
        p = found.portfolio
        matching = f" matching '{filt.text}'" if filt.words else ""
        click.echo(
            f"{len(found.accounts):,} of {plural(len(p.accounts), 'account')}{matching}; "
            f"{data_as_of(p.as_of)}; worst first."
        )
        for a in found.accounts:
            click.echo("")
            click.echo(blocks_to_text([section(account_line(a, show_tam=scope != "mine"))]))
