"""`usagebot sync`: exit 0 with counts and the "as of" month, exit 1 with every problem, exit 2 on bad usage."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from support.sync_helpers import FIXTURE, copy_fixture, count

from bot.cli import cli
from workflows.settings import Settings


def test_sync_succeeds_and_prints_counts(settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["sync", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    assert "3 accounts, 4 subscriptions, 5 instances, 10 usage rows" in result.output
    assert "Data as of 2026-10." in result.output
    assert count(settings.database_url, "usage_monthly") == 10
    # Where the time went: the load, then the scoring step of every account's stored months.
    took = r"Took: load \d+\.\d s, scoring 3 accounts × \d+ months \(\d+ account-months scored, 0 unchanged\)"
    assert re.search(took + r" \d+\.\d s\.", result.output)

    again = CliRunner().invoke(cli, ["sync", str(FIXTURE)])
    assert again.exit_code == 0
    assert "(0 rows in all)" in again.output
    assert re.search(r"Took: load \d+\.\d s, scores unchanged\.", again.output)


def test_sync_rejection_exits_1_and_lists_problems(settings: Settings, tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path / "export")
    usage = folder / "usage_monthly.csv"
    lines = usage.read_text().splitlines()
    lines[3] = lines[3].replace("2026-10-01", "2026-10-31", 1)
    usage.write_text("\n".join(lines) + "\n")

    result = CliRunner().invoke(cli, ["sync", str(folder)])
    assert result.exit_code == 1
    assert "usage_monthly.csv:4: snapshot_month: 2026-10-31 is not the first day of a month" in result.output
    assert "export rejected: 1 problem; no data was changed" in result.output
    assert "Traceback" not in result.output
    assert count(settings.database_url, "accounts") == 0


def test_sync_from_sql_and_usage_errors(settings: Settings, tmp_path: Path) -> None:
    db_file = tmp_path / "empty.sqlite"
    db_file.touch()
    result = CliRunner().invoke(cli, ["sync", "--from-sql", f"sqlite:///{db_file}"])
    assert result.exit_code == 1
    assert "accounts: table not found in sqlite:///" in result.output

    assert CliRunner().invoke(cli, ["sync"]).exit_code == 2
    assert CliRunner().invoke(cli, ["sync", str(FIXTURE), "--from-sql", "sqlite://"]).exit_code == 2
    missing = CliRunner().invoke(cli, ["sync", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1
    assert "is not a folder" in missing.output
    bad_url = CliRunner().invoke(cli, ["sync", "--from-sql", "nonsense://x"])
    assert bad_url.exit_code == 1
    assert "Traceback" not in bad_url.output
