"""bot/errors.py: the one mapping from workflows' people-facing errors to Slack text and CLI exits."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fakes.signing import block_action_payload, interaction_body, post
from fakes.slack import FakeSlack
from fakes.wsgi import serve
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.app import build_app
from bot.errors import ALREADY_ANSWERED, PEOPLE_ERRORS, REQUEST_GONE, SORRY, cli_error, slack_text
from bot.listener import UsageContext, acked_then
from workflows.data_quality import ReportError
from workflows.metric_request.filing import AlreadyDecided
from workflows.metric_request.form import RequestNotFound
from workflows.months import MonthOutsideData
from workflows.portfolio_filter import FilterError
from workflows.report import AccountNotFound
from workflows.settings import Settings


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


def _raising_feature(error: Exception) -> ModuleType:
    feature = ModuleType("raising_feature")

    def register(app: Any) -> None:
        @app.action("raise_plain")
        def plain(ack: Any) -> None:
            ack()
            raise error

        def lazy(ctx: UsageContext) -> None:
            raise error

        app.action("raise_lazy")(**acked_then("raise_lazy", lazy))

    feature.register = register  # type: ignore[attr-defined]
    return feature


@pytest.mark.parametrize("action", ["raise_plain", "raise_lazy"])
@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RequestNotFound("gone"), REQUEST_GONE),
        (FilterError("Unknown <x>."), "Unknown &lt;x&gt;."),
        (KeyError("bug"), SORRY),  # a bug: the apology, never the error's text
    ],
)
def test_an_error_escaping_a_listener_is_worded_by_the_mapping(
    bot_settings: Settings,
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
    error: Exception,
    expected: str,
) -> None:
    fake_slack.add_user("U0TAM0001", "avery", "avery@example.com")
    monkeypatch.setitem(sys.modules, "raising_feature", _raising_feature(error))
    with serve(SlackRequestHandler(build_app(bot_settings, ("raising_feature",)), path="/slack/events")) as url:
        payload = block_action_payload(action, "v", response_url=fake_slack.response_url())
        assert post(url + "/slack/events", interaction_body(payload)).status == 200
        fake_slack.wait_for("response_url")
    assert [r.get("text") for r in fake_slack.responses()] == [expected]
