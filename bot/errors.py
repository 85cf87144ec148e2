"""Domain errors → what a person reads: the one place the edge turns a `workflows` exception into words.

`workflows` raises typed errors for problems a person caused or can fix (a month without data, an
unknown account, a filter word it does not know, a request that is gone or already answered, a data
issue report it refuses). Slack listeners call `slack_text`; an error that escapes a listener
gets the same words from the app's error handler (plain listeners) or `safely` (lazy ones); the
CLI's command group calls `cli_error` for every command. No handler writes its own wording.
Anything not listed here is a bug: it is logged with its traceback and the person gets `SORRY`,
never the traceback.
"""

from __future__ import annotations

import click

from bot.blocks.format import escape
from scoring.rules import RulesError
from workflows.data_quality import ReportError
from workflows.metric_request.filing import AlreadyDecided
from workflows.metric_request.form import RequestNotFound
from workflows.months import MonthOutsideData
from workflows.portfolio_filter import FilterError
from workflows.report import AccountNotFound
from workflows.settings import SettingsError

# Errors whose text is written for people (it may quote what they typed, so Slack gets it escaped).
PEOPLE_ERRORS: tuple[type[Exception], ...] = (
    MonthOutsideData,
    AccountNotFound,
    FilterError,
    ReportError,
    RequestNotFound,
    AlreadyDecided,
    SettingsError,
    RulesError,
)

# What a person reads when the bot itself failed (a bug): the traceback goes to the log only.
SORRY = ":warning: Sorry, something went wrong on our side. It has been logged; please try again in a minute."
REQUEST_GONE = "I can't find this request any more; please start again."
ALREADY_ANSWERED = "This request was already answered; nothing more to file."


def slack_text(exc: BaseException) -> str:
    """Slack mrkdwn for a people-facing domain error (`PEOPLE_ERRORS`); `SORRY` for anything else."""
    if not isinstance(exc, PEOPLE_ERRORS):
        return SORRY
    if isinstance(exc, RequestNotFound):
        return REQUEST_GONE
    if isinstance(exc, AlreadyDecided):
        return ALREADY_ANSWERED
    if isinstance(exc, FilterError):
        return escape(str(exc))  # a help text that quotes the word typed; its own layout, no icon
    return f":warning: {escape(str(exc))}"


class _Failure(click.ClickException):
    exit_code = 1


def cli_error(exc: Exception) -> click.ClickException:
    """The click exception `usagebot` exits with for a people-facing domain error: one line, no traceback.

    A filter word it does not know is a usage mistake (exit 2, with the valid words); the rest exit 1.
    """
    if isinstance(exc, FilterError):
        return click.UsageError(str(exc).replace("`", ""))
    if isinstance(exc, RequestNotFound | AlreadyDecided):
        return _Failure(slack_text(exc))
    return _Failure(str(exc))
