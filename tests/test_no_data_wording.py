"""Before the first sync every list says no data is loaded yet, never "data as of" nothing."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bot.cli import cli
from bot.features.home.blocks import PAGE_SIZE, render_home
from bot.features.portfolio.blocks import render_listing
from db.session import session_scope
from workflows.portfolio import build_portfolio
from workflows.portfolio_filter import listing, parse_filters
from workflows.settings import Settings


def test_an_empty_database_says_no_data_is_loaded_not_data_as_of_nothing(settings: Settings) -> None:
    out = CliRunner().invoke(cli, ["portfolio", "tam@example.com"]).output
    assert "no data loaded yet" in out and "as of no data" not in out, out
    with session_scope(settings.database_url) as s:
        portfolio = build_portfolio(s, "mine", ["tam@example.com"])
    assert portfolio.as_of is None
    home = json.dumps(render_home(portfolio.page_view(1, PAGE_SIZE), ("mine",)), ensure_ascii=False)
    page = listing(portfolio, parse_filters([])).page_view(1, PAGE_SIZE)
    mine = json.dumps(render_listing(page, "mine").blocks, ensure_ascii=False)
    for text in (home, mine):
        assert "no data loaded yet" in text.lower() and "as of *no data" not in text.lower(), text
