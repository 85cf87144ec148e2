"""After `usagebot sync`, everyone who opened the Home tab sees the new data: the sync refreshes it."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path

from click.testing import CliRunner
from fakes.slack import FakeSlack

from bot.cli import cli
from db.models import HomeViewer
from db.session import session_scope
from workflows.demo import generate_export
from workflows.settings import Settings


def test_sync_refreshes_home_tabs(bot_settings: Settings, fake_slack: FakeSlack, tmp_path: Path) -> None:
    export = tmp_path / "export"
    generate_export(export, accounts=12, months=2, seed=3, today=date(2026, 11, 15))
    with (export / "accounts.csv").open() as f:
        rows = list(csv.DictReader(f))
    tam_email = rows[0]["technical_account_manager_email"]
    theirs = {r["dim_crm_account_id"] for r in rows if r["technical_account_manager_email"] == tam_email}
    fake_slack.add_user("U0TAMSYNC", "tam.sync", tam_email)
    with session_scope(bot_settings.database_url) as s:
        # Someone who opened the Home tab before (on the guide: there was no data yet).
        s.add(HomeViewer(user_id="U0TAMSYNC", email=tam_email, scope="mine", page=1, opened_at=datetime.now(UTC)))

    result = CliRunner().invoke(cli, ["sync", str(export)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Refreshed 1 App Home tab." in result.output

    view = fake_slack.published["U0TAMSYNC"]
    shown = [b["block_id"].split(":", 1)[1] for b in view["blocks"] if b.get("block_id", "").startswith("home_acct:")]
    assert set(shown) == theirs and shown
    assert "Data as of *2026-10*" in json.dumps(view["blocks"][1], ensure_ascii=False)
