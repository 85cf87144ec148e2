"""Alerts delivered through slack_sdk to the fake Slack: one DM per TAM, never twice, mute from the alert."""

from __future__ import annotations

import json

from click.testing import CliRunner
from fakes.signing import block_action_payload, interaction_body, post
from sqlalchemy import func, select
from support.alerts_data import GOOD, OCT, SEP, TAM1, TAM2, TAM3, seed

from bot.blocks.limits import check_limits
from bot.cli import cli
from bot.features.alerts.blocks import MUTE_ACTION, UNMUTE_ACTION
from bot.features.alerts.jobs import run_alerts
from db.models import AlertMute, AlertRecord
from db.session import session_scope


def _users(fake_slack) -> None:  # type: ignore[no-untyped-def]
    fake_slack.add_user("U0TAM0001", "tam.one", TAM1)
    fake_slack.add_user("U0TAM0002", "tam.two", TAM2)
    fake_slack.add_user("U0TAM0003", "tam.three", TAM3)


def _all_text(msg: dict) -> str:
    return msg["text"] + "\n" + json.dumps(msg["blocks"])


def test_one_message_per_tam_and_no_repeat(bot_settings, fake_slack, db_url: str) -> None:  # type: ignore[no-untyped-def]
    seed(db_url)
    _users(fake_slack)
    run = run_alerts(bot_settings)
    assert (run.month, run.previous) == (OCT, SEP)
    assert run.result is not None and run.result.messages == 3 and run.result.failed == []
    one, two, three = (fake_slack.dm_messages(u) for u in ("U0TAM0001", "U0TAM0002", "U0TAM0003"))
    assert len(one) == len(two) == len(three) == 1
    text = _all_text(one[0])
    # TAM 1's single message covers both accounts, each alert, and the commands that explain them.
    assert "Acme Corp" in text and "Beta Industries" in text and "Cobalt" not in text
    assert "SCM dropped from Green to Yellow" in text and "fell 15 points" in text
    assert "beta-edge.example.com stopped reporting" in text
    assert "/usage Acme Corp health" in text and "/usage Beta Industries instances" in text
    buttons = [e for b in one[0]["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {(b["action_id"], b["value"]) for b in buttons} == {
        ("usage_view:health", '{"a":"ACC-ACME"}'),
        ("usage_view:utilization", '{"a":"ACC-ACME"}'),
        (MUTE_ACTION, "ACC-ACME"),
        ("usage_view:instances", '{"a":"ACC-BETA"}'),
        (MUTE_ACTION, "ACC-BETA"),
    }
    assert check_limits(one[0]["blocks"]) == []
    assert "Cobalt Labs" in _all_text(two[0]) and "Delta" not in _all_text(two[0])
    with session_scope(db_url) as s:
        assert set(s.scalars(select(AlertRecord.status))) == {"sent"}

    # The same sync again (or `usagebot alerts` by hand): nothing new, nothing sent.
    again = run_alerts(bot_settings)
    assert again.result is not None and again.result.recorded == 0 and again.result.messages == 0
    assert again.result.already == len(run.alerts)
    assert len(fake_slack.dm_messages("U0TAM0001")) == 1 and len(fake_slack.calls_to("chat.postMessage")) == 3


def test_failed_dm_stays_pending_then_is_sent_once(bot_settings, fake_slack, db_url: str) -> None:  # type: ignore[no-untyped-def]
    seed(db_url)
    _users(fake_slack)
    # Slack refuses the first DM (TAM 1's, the first in order): those records wait for the next run.
    fake_slack.fail("chat.postMessage", times=1, error="fatal_error")
    first = run_alerts(bot_settings)
    assert first.result is not None and first.result.messages == 2 and first.result.failed == [TAM1]
    with session_scope(db_url) as s:
        statuses = dict(s.execute(select(AlertRecord.tam_email, AlertRecord.status)).all())
    assert statuses == {TAM1: "pending", TAM2: "sent", TAM3: "sent"}
    assert fake_slack.dm_messages("U0TAM0001") == []
    second = run_alerts(bot_settings)
    assert second.result is not None and second.result.recorded == 0 and second.result.messages == 1
    assert len(fake_slack.dm_messages("U0TAM0001")) == 1 and len(fake_slack.dm_messages("U0TAM0002")) == 1


def test_unknown_tam_reported_to_channel(bot_settings, fake_slack, db_url: str) -> None:  # type: ignore[no-untyped-def]
    seed(db_url)
    fake_slack.add_user("U0TAM0001", "tam.one", TAM1)  # TAM 2 and 3 are not in Slack
    run = run_alerts(bot_settings)
    assert run.result is not None and sorted(run.result.tams_not_found) == [TAM2, TAM3]
    notes = fake_slack.messages["C0PRODANA1"]
    assert len(notes) == 1 and TAM2 in notes[0]["text"] and TAM3 in notes[0]["text"]


def test_mute_from_the_alert(bot_settings, bot_url: str, fake_slack, db_url: str) -> None:  # type: ignore[no-untyped-def]
    seed(db_url)
    _users(fake_slack)
    fake_slack.add_user("U0OTHER01", "someone", "someone@example.com")
    run_alerts(bot_settings)
    msg = fake_slack.dm_messages("U0TAM0001")[0]
    channel = fake_slack.dm_channel_id("U0TAM0001")

    # Someone who is not Acme's TAM cannot mute it.
    payload = block_action_payload(MUTE_ACTION, "ACC-ACME", user_id="U0OTHER01", channel_id=channel, message=msg)
    assert post(f"{bot_url}/slack/events", interaction_body(payload)).status == 200
    fake_slack.wait_for("chat.postEphemeral")
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(AlertMute)) == 0

    payload = block_action_payload(MUTE_ACTION, "ACC-ACME", user_id="U0TAM0001", channel_id=channel, message=msg)
    assert post(f"{bot_url}/slack/events", interaction_body(payload)).status == 200
    fake_slack.wait_for("chat.update")
    with session_scope(db_url) as s:
        mute = s.scalars(select(AlertMute)).one()
        assert (mute.account_id, mute.muted_by) == ("ACC-ACME", "U0TAM0001")
    updated = fake_slack.dm_messages("U0TAM0001")[0]
    text = json.dumps(updated["blocks"])
    assert "Alerts muted by <@U0TAM0001>" in text and UNMUTE_ACTION in text
    # Beta's Mute button is untouched.
    assert any(
        e.get("value") == "ACC-BETA" and e["action_id"] == MUTE_ACTION
        for b in updated["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    )

    # November: Acme drops again but is muted; Beta still alerts.
    from support.scoring_helpers import add_usage

    from db.models import Instance

    nov = OCT.replace(month=11)
    with session_scope(db_url) as s:
        acme = s.scalar(select(Instance).where(Instance.identity == "sm:acme-prod"))
        beta = s.scalar(select(Instance).where(Instance.identity == "sm:beta-main"))
        add_usage(s, acme, "S-ACME", nov, billable_user_count=50)
        scm_yellow = {**GOOD, "action_monthly_active_users_project_repo_28_days_user": 20}
        add_usage(s, beta, "S-BETA", nov, billable_user_count=100, license_user_count=120, **scm_yellow)
    run = run_alerts(bot_settings, nov)
    assert run.result is not None
    accounts = {a.account_id for a in run.alerts}
    assert "ACC-ACME" not in accounts and "ACC-BETA" in accounts
    latest = fake_slack.dm_messages("U0TAM0001")[-1]
    assert "Acme" not in _all_text(latest) and "Beta Industries" in _all_text(latest)


def test_cli_dry_run_sends_nothing(settings, db_url: str) -> None:  # type: ignore[no-untyped-def]
    seed(db_url)
    result = CliRunner().invoke(cli, ["alerts", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Alerts for 2026-10 compared with 2026-09" in result.output
    assert "Acme Corp [tam1@example.com] utilization_drop" in result.output and "Dry run" in result.output
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(AlertRecord)) == 0
    bad = CliRunner().invoke(cli, ["alerts", "--month", "2026-13"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output
    # Sending needs the Slack token: a clean message, not a traceback.
    nosend = CliRunner().invoke(cli, ["alerts"])
    assert nosend.exit_code == 1 and "SLACK_BOT_TOKEN" in nosend.output


def test_after_sync_hook_never_fails_the_sync(bot_settings, fake_slack, db_url: str) -> None:  # type: ignore[no-untyped-def]
    from bot.features.alerts.jobs import alerts_after_sync
    from workflows.settings import load_settings

    seed(db_url)
    _users(fake_slack)
    # Without Slack settings the sync just says alerts were skipped.
    no_slack = load_settings(_env_file=None, database_url=db_url, slack_bot_token="")
    assert "skipped" in alerts_after_sync(no_slack, OCT)
    # Acme: utilization, SCM, overall; Beta: an instance stopped; Cobalt: low; Echo: like Acme.
    assert alerts_after_sync(bot_settings, OCT) == "Alerts: 8 new, 3 messages to TAMs."
    assert alerts_after_sync(bot_settings, OCT) == "Alerts: 0 new, 0 messages to TAMs."


def test_a_sender_that_died_mid_send_is_recovered_without_repeats(bot_settings, fake_slack, db_url: str) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from bot.app import make_web_client
    from bot.features.alerts.jobs import ALERT_EVENT

    seed(db_url)
    _users(fake_slack)
    # A sender recorded and claimed everything, posted TAM 1's DM (tagged), then died before recording it;
    # it never got to TAM 2.
    from workflows.alerts import compute_alerts, record_alerts

    with session_scope(db_url) as s:
        record_alerts(s, compute_alerts(s, OCT, SEP))
        long_ago = datetime.now(UTC) - timedelta(hours=1)
        for email, token in ((TAM1, "a" * 32), (TAM2, "b" * 32)):
            s.execute(
                update(AlertRecord)
                .where(AlertRecord.tam_email == email)
                .values(status="sending", claim_token=token, sent_at=long_ago)
            )
    make_web_client(bot_settings).chat_postMessage(
        channel="U0TAM0001",
        text="Health alerts (sent before the crash)",
        metadata={"event_type": ALERT_EVENT, "event_payload": {"claim": "a" * 32}},
    )
    run = run_alerts(bot_settings)
    assert run.result is not None
    # TAM 1's DM was found by its tag: not sent again. TAM 2's claim went back to pending and was sent.
    assert len(fake_slack.dm_messages("U0TAM0001")) == 1
    assert len(fake_slack.dm_messages("U0TAM0002")) == 1 and "Cobalt Labs" in _all_text(
        fake_slack.dm_messages("U0TAM0002")[0]
    )
    with session_scope(db_url) as s:
        statuses = dict(s.execute(select(AlertRecord.tam_email, AlertRecord.status)).all())
    assert statuses == {TAM1: "sent", TAM2: "sent", TAM3: "sent"}
