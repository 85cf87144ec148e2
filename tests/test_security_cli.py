"""Commands fail with one clear line, never a traceback; a digest rerun that sent nothing stays quiet.

Each test is named after the weakness it closes (issue: hostile input can't act, ping, spoof or leak).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.slack import FakeSlack
from support.digest_data import portfolio

from bot.features.digest.delivery import run_and_report
from workflows.settings import Settings

UNREACHABLE = "postgresql+psycopg://nobody:s3cret@127.0.0.1:1/none?connect_timeout=1&password=hunter2"
USAGEBOT = [sys.executable, "-m", "bot"]


def _run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "GITLAB_", "DATABASE_"))}
    env.update(DATABASE_URL=UNREACHABLE, SLACK_BOT_TOKEN="xoxb-x", SLACK_API_URL="http://127.0.0.1:1/api/")
    return subprocess.run(
        [*USAGEBOT, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False
    )


@pytest.mark.parametrize(
    "args",
    [
        ("requests", "retry"),
        ("report", "acme"),
        ("digest", "--dry-run"),
        ("alerts", "--dry-run"),
        ("portfolio", "tam@example.com"),
        ("metrics", "search", "pipelines"),
        ("metrics", "show", "pipelines"),
        ("try", "/usage acme"),
    ],
    ids=lambda a: " ".join(a),
)
def test_commands_with_an_unreachable_database_give_one_friendly_error_and_no_traceback(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    """Issue item 10: `usagebot requests retry` with an unreachable database printed two tracebacks."""
    done = _run(*args, tmp_path=tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "Traceback" not in out
    assert "s3cret" not in out and "hunter2" not in out
    assert [line for line in out.splitlines() if line.startswith("Error:")] == [out.splitlines()[0]]  # one message
    assert len(out.strip().splitlines()) == 1, out  # and nothing after it (the driver's hints, its help links)


def test_a_digest_rerun_that_sent_nothing_posts_no_summary(
    bot_settings: Settings, fake_slack: FakeSlack, db_url: str
) -> None:
    """Issue item 11: a digest rerun that sent nothing still posted a summary to the channel (the TAMs not
    found in Slack were "news" again on every run)."""
    from test_digest_delivery import _users

    _users(fake_slack)
    portfolio(db_url)
    first = run_and_report(bot_settings, month="2026-11", pace_seconds=0)
    assert first.tams_messaged and first.tams_not_found  # something to say, including someone not found
    assert len(fake_slack.messages["C0PRODANA1"]) == 1
    again = run_and_report(bot_settings, month="2026-11", pace_seconds=0)
    assert again.tams_messaged == [] and again.tams_not_found  # nothing sent, the same TAM still missing
    assert len(fake_slack.messages["C0PRODANA1"]) == 1
    run_and_report(bot_settings, month="2026-12", pace_seconds=0)  # a new month is news again
    assert len(fake_slack.messages["C0PRODANA1"]) == 2
