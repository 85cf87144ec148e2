"""bot/errors.py: the one mapping from workflows' people-facing errors to Slack text and CLI exits."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.errors import ALREADY_ANSWERED, PEOPLE_ERRORS, REQUEST_GONE, cli_error, slack_text
from workflows.data_quality import ReportError
from workflows.metric_request.filing import AlreadyDecided
from workflows.metric_request.form import RequestNotFound
from workflows.months import MonthOutsideData
from workflows.portfolio_filter import FilterError
from workflows.report import AccountNotFound


def test_slack_text_escapes_what_the_person_typed() -> None:
    text = slack_text(AccountNotFound("<!channel> & co", []))
    assert text.startswith(":warning: No account matches")
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; co" in text
    assert slack_text(FilterError("I don't know <x>.")) == "I don't know &lt;x&gt;."
    assert slack_text(ReportError("That account is gone.")) == ":warning: That account is gone."


def test_request_errors_have_fixed_wording() -> None:
    assert slack_text(RequestNotFound("no request id")) == REQUEST_GONE
    assert slack_text(AlreadyDecided()) == ALREADY_ANSWERED


def test_cli_exits_one_line_without_backticks_for_filters() -> None:
    usage = cli_error(FilterError("Unknown word `zz`. Filters:\n• `stale`"))
    assert usage.exit_code == 2 and "`" not in usage.message
    month = MonthOutsideData(date(1999, 1, 1), (date(2025, 1, 1), date(2025, 3, 1)))
    failure = cli_error(month)
    assert failure.exit_code == 1 and failure.message == str(month)


@pytest.mark.parametrize("error", PEOPLE_ERRORS)
def test_cli_commands_leave_people_errors_to_the_group(error: type[Exception]) -> None:
    # The command group words them (bot/cli/__init__.py); a command catching one would word it again.
    cli = Path(__file__).resolve().parents[1] / "bot" / "cli"
    catching = [p.name for p in cli.glob("*_cmd.py") if f"except {error.__name__}" in p.read_text()]
    assert catching == []
