"""Alerts after real syncs of two consecutive exports (`usagebot sync`), delivered to the fake Slack."""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select
from support.sync_helpers import FIXTURE

from bot.cli import cli
from db.models import AlertRecord
from db.session import session_scope

ACME_TAM = ("U0ALEX001", "alex.rivera", "alex.rivera@example.com")
ACMEB_TAM = ("U0PRIYA01", "priya.patel", "priya.patel@example.com")


def _export(dest: Path, last_month: str, acme_october_billable: int | None = None) -> Path:
    """The small fixture export up to `last_month`, optionally with Acme's October billable users changed."""
    shutil.copytree(FIXTURE, dest)
    path = dest / "usage_monthly.csv"
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    month, inst, billable = (head.index(c) for c in ("snapshot_month", "dim_installation_id", "billable_user_count"))
    body = [r for r in body if r[month] <= last_month]
    for r in body:
        if acme_october_billable is not None and r[inst] == "inst-acme-prod" and r[month] == "2026-10-01":
            r[billable] = str(acme_october_billable)
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([head, *body])
    return dest


def test_two_syncs_alert_once_per_tam(bot_settings, fake_slack, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for user_id, name, email in (ACME_TAM, ACMEB_TAM):
        fake_slack.add_user(user_id, name, email)
    runner = CliRunner()
    september = runner.invoke(cli, ["sync", str(_export(tmp_path / "sep", "2026-09-01"))])
    assert september.exit_code == 0, september.output
    assert "Data as of 2026-09" in september.output and "Alerts:" in september.output
    sent_before = len(fake_slack.calls_to("chat.postMessage"))

    # October: Acme's billable users fall from 420 to 300 of 500 seats (84% -> 60%).
    october = runner.invoke(cli, ["sync", str(_export(tmp_path / "oct", "2026-10-01", acme_october_billable=300))])
    assert october.exit_code == 0, october.output
    assert "Data as of 2026-10" in october.output
    with session_scope(db_url) as s:
        records = s.scalars(select(AlertRecord).where(AlertRecord.month == date(2026, 10, 1))).all()
        kinds = {(r.account_id, r.kind) for r in records}
    assert ("0016100001AcmeA", "utilization_drop") in kinds
    assert {r.status for r in records} <= {"sent", "no_tam", "tam_not_found"}
    dms = fake_slack.dm_messages(ACME_TAM[0])
    assert len([m for m in dms if "fell 24 points: 84% → 60%" in m["text"] + str(m["blocks"])]) == 1
    per_tam = {}
    for call in fake_slack.calls_to("chat.postMessage")[sent_before:]:
        per_tam[call.params["channel"]] = per_tam.get(call.params["channel"], 0) + 1
    assert per_tam and all(n == 1 for n in per_tam.values())

    # The same export again: nothing new, nobody messaged.
    posted = len(fake_slack.calls_to("chat.postMessage"))
    again = runner.invoke(cli, ["sync", str(tmp_path / "oct")])
    assert again.exit_code == 0 and "Alerts: 0 new, 0 messages" in again.output
    assert len(fake_slack.calls_to("chat.postMessage")) == posted
    # And --no-alerts does not even look.
    quiet = runner.invoke(cli, ["sync", "--no-alerts", str(tmp_path / "oct")])
    assert quiet.exit_code == 0 and "Alerts:" not in quiet.output
