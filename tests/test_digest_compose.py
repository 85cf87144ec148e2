"""Composing digests (set-based, grouped, flagged) and the `usagebot digest` command (dry run, bad input)."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner
from sqlalchemy import func, select
from support.digest_data import account, instance, portfolio

from bot.blocks.limits import check_limits
from bot.cli import cli
from bot.features.digest.blocks import render_digest
from db.models import DigestDelivery, SlackUserCache
from db.session import session_scope
from workflows.digest.compose import compose, parse_month
from workflows.settings import Settings


def test_compose_groups_by_tam_and_account(db_url: str) -> None:
    portfolio(db_url)
    with session_scope(db_url) as s:
        comp = compose(s, "2026-11")
    by_tam = {d.tam_email: d for d in comp.digests}
    # Blake's only instance is labelled: no digest. Emails are matched in any case.
    assert set(by_tam) == {"avery@example.com", "casey@example.com"}
    avery = by_tam["avery@example.com"]
    assert [a.name for a in avery.accounts] == ["Acme Corp", "Beta Industries"]
    acme = avery.accounts[0]
    assert [i.name for i in acme.instances] == ["gitlab.acme.com", "old.acme.com"]  # probably obsolete last
    old = acme.instances[1]
    assert old.probably_obsolete and old.silent_days is not None and old.silent_days >= 90
    assert not acme.instances[0].probably_obsolete
    assert avery.instance_count == 3
    assert [(f.instance_name, f.kind) for f in avery.flags] == [("gitlab.acme.com", "license_unmapped")]
    assert comp.accounts_without_tam == [("0016E", "Echo (no TAM)", 1)]


def test_compose_for_one_tam_and_namespaces(db_url: str) -> None:
    with session_scope(db_url) as s:
        account(s, "A1", "Saas Co", "tam@example.com")
        instance(s, "A1", None, namespace="saas-co-group", silent_days=None, billable=None)
    with session_scope(db_url) as s:
        comp = compose(s, "2026-11", tam_email=" TAM@example.com ")
    (digest,) = comp.digests
    inst = digest.accounts[0].instances[0]
    assert (inst.name, inst.kind, inst.last_ping, inst.probably_obsolete) == ("saas-co-group", "namespace", None, False)
    text = str(render_digest(digest)[0]["blocks"])
    assert "saas-co-group" in text and "never pinged" in text


def test_unmapped_flag_reads_only_the_latest_row(db_url: str) -> None:
    from datetime import date

    from db.models import UsageMonthly

    with session_scope(db_url) as s:
        account(s, "A1", "Acme", "tam@example.com")
        inst = instance(s, "A1", "gitlab.acme.com", license_mapped=True)
        # An older month was unmapped; the latest is mapped: no flag.
        s.add(
            UsageMonthly(
                snapshot_month=date(2024, 1, 1),
                instance_id=inst.id,
                account_id="A1",
                subscription_id="sub-A1",
                delivery_type="Self-Managed",
                deployment_type="Self-Managed",
                license_mapped=False,
                extra_metrics=[],
            )
        )
    with session_scope(db_url) as s:
        assert compose(s, "2026-11").digests[0].flags == []


def test_unmapped_flag_uses_the_account_reports_month_rule(db_url: str) -> None:
    """The digest flags an unmapped license by the same rule as `/usage` (scoring.flags): only a row of the
    data's latest month counts. It used to read each instance's own latest row, so an instance that stopped
    reporting long ago kept a stale flag in every digest while the account's answer showed none."""
    from datetime import date

    from db.models import UsageMonthly
    from scoring.flags import unmapped_license_instances

    with session_scope(db_url) as s:
        account(s, "A1", "Acme", "tam@example.com")
        instance(s, "A1", "gitlab.acme.com", license_mapped=True)  # the data's latest month: mapped
        gone = instance(s, "A1", "old.acme.com")
        gone.last_seen_month = date(2025, 6, 1)
        s.add(
            UsageMonthly(
                snapshot_month=date(2025, 6, 1),
                instance_id=gone.id,
                account_id="A1",
                subscription_id="sub-A1",
                delivery_type="Self-Managed",
                deployment_type="Self-Managed",
                license_mapped=False,
                extra_metrics=[],
            )
        )
    with session_scope(db_url) as s:
        assert compose(s, "2026-11").digests[0].flags == []
        rows = s.scalars(select(UsageMonthly)).all()
        latest = max(r.snapshot_month for r in rows)
        assert unmapped_license_instances(rows, latest) == []  # what /usage decides for the same rows
        assert unmapped_license_instances(rows, date(2025, 6, 1)) == [gone.id]


def test_markup_in_data_is_escaped(db_url: str) -> None:
    with session_scope(db_url) as s:
        account(s, "A1", "<!channel> & *bold*", "tam@example.com")
        instance(s, "A1", "<https://evil|click>")
    with session_scope(db_url) as s:
        (digest,) = compose(s, "2026-11").digests
    blocks = render_digest(digest)[0]["blocks"]
    text = str(blocks)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text and "&lt;https://evil|click&gt;" in text
    assert check_limits(blocks) == []


def test_parse_month() -> None:
    assert parse_month("2026-1") == "2026-01"
    for bad in ("2026-13", "nov", "", "2026/11"):
        try:
            parse_month(bad)
        except ValueError as exc:
            assert "YYYY-MM" in str(exc)
        else:
            raise AssertionError(bad)


# The data of the CLI tests is dated in the month they ask for, whatever today's date.
DATA_TIME = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_cli_dry_run_prints_and_changes_nothing(bot_settings: Settings, fake_slack, db_url: str) -> None:  # type: ignore[no-untyped-def]
    fake_slack.add_user("U0AVERY01", "avery", "avery@example.com")
    portfolio(db_url, now=DATA_TIME)
    result = CliRunner().invoke(cli, ["digest", "--month", "2026-11", "--dry-run"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Dry run for 2026-11" in out and "gitlab.acme.com" in out and "Acme Corp" in out
    assert "casey@example.com" in out  # not in Slack: reported
    assert "Echo (no TAM)" in out
    assert fake_slack.calls_to("chat.postMessage") == [] and fake_slack.calls_to("conversations.open") == []
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(DigestDelivery)) == 0
        assert s.scalar(select(func.count()).select_from(SlackUserCache)) == 0


def test_cli_sends_for_one_tam(bot_settings: Settings, fake_slack, db_url: str) -> None:  # type: ignore[no-untyped-def]
    fake_slack.add_user("U0AVERY01", "avery", "avery@example.com")
    portfolio(db_url, now=DATA_TIME)
    result = CliRunner().invoke(cli, ["digest", "--month", "2026-11", "--tam", "avery@example.com", "--pace", "0"])
    assert result.exit_code == 0, result.output
    assert "1 TAM messaged" in result.output
    assert len(fake_slack.dm_messages("U0AVERY01")) == 1
    again = CliRunner().invoke(cli, ["digest", "--month", "2026-11", "--tam", "avery@example.com"])
    assert again.exit_code == 0 and "0 TAMs messaged" in again.output and "1 already had theirs" in again.output


def test_cli_bad_input_is_friendly(bot_settings: Settings, db_url: str) -> None:
    bad_month = CliRunner().invoke(cli, ["digest", "--month", "November"])
    assert bad_month.exit_code == 2 and "YYYY-MM" in bad_month.output and "Traceback" not in bad_month.output
    bad_tam = CliRunner().invoke(cli, ["digest", "--tam", "avery"])
    assert bad_tam.exit_code == 2 and "not an email" in bad_tam.output


def test_cli_without_token_fails_cleanly(settings: Settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["digest", "--month", "2026-11"], env={"SLACK_BOT_TOKEN": ""})
    assert result.exit_code == 1 and "SLACK_BOT_TOKEN" in result.output


def test_scheduler_list_shows_jobs(settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["scheduler", "--list"], env={"TIMEZONE": "Europe/Berlin"})
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    digest = lines["monthly_digest"]
    assert "on the first working day of the month at 09:00, in each TAM's own Slack time zone" in digest
    assert "(else Europe/Berlin)" in lines["monthly_digest"]
    assert lines["metrics_reimport"].split(None, 1)[1].startswith("every Monday at 06:00 (Europe/Berlin); next ")
    assert "every 10 minutes; next " in lines["digest_resume"]
    assert datetime.now(UTC).year <= int(lines["monthly_digest"].split("next ")[1][:4])
    assert "cron[" not in result.output and "interval[" not in result.output
