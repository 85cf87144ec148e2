"""User adoption in Slack: `/usage ACCOUNT adoption`, the Adoption button, purchase intent on the summary, the
Health view's explanation for Subscription-Data-only instances, and the PNG chart. All within Slack's limits."""

from __future__ import annotations

from datetime import UTC, date, datetime

from support.scoring_helpers import add_account, add_instance, add_subscription, add_usage

from bot.blocks import ids
from bot.blocks.format import blocks_to_text
from bot.blocks.limits import check_limits
from bot.features.usage.blocks import VIEWS
from bot.features.usage.chart import adoption_png
from bot.features.usage.command import Viewer, account_answer, parse
from db.models import SyncRun
from db.session import session_scope
from scoring.trends import window
from workflows.report import build_account_report
from workflows.settings import Settings

OCT = date(2026, 10, 1)
ACC = "0016100001AdOpT"
UMAU = "umau_28_days_user"


def _seed(url: str) -> None:
    with session_scope(url) as s:
        add_account(s, ACC, "Initech <Ops> & Co", since=date(2024, 1, 1))
        add_subscription(s, ACC, "ULT", product_tier_name="Self-Managed - Ultimate", licensed_seats=300)
        prod = add_instance(s, ACC, "prod", "Production")
        cloud = add_instance(s, ACC, "cloud", "Production")
        for i, month in enumerate(window(OCT, 12)):
            add_usage(
                s,
                prod,
                "ULT",
                month,
                ci_pipelines_28_days_user=20 + i,
                sast_scans_28_days_event=3,
                dast_scans_28_days_event=0,
                ci_internal_pipelines_28_days_event=100,
                user_unique_users_all_secure_scanners_28_days_user=2,
                extra_metrics={UMAU: 100, "issues_28_days_user": 10},
            )
            add_usage(s, cloud, "ULT", month, billable_user_count=5, license_user_count=300)
        s.add(
            SyncRun(
                source="t",
                status="succeeded",
                as_of_month=OCT,
                finished_at=datetime.now(UTC),
                metric_columns=[UMAU, "ci_pipelines_28_days_user", "sast_scans_28_days_event", "issues_28_days_user"],
            )
        )


def test_adoption_is_a_view_and_a_button(settings: Settings) -> None:
    assert parse("initech adoption").view == "adoption" and "adoption" in VIEWS
    _seed(settings.database_url)
    with session_scope(settings.database_url) as s:
        summary = account_answer(s, settings, ACC, "summary", Viewer(), with_chart=False)
        adoption = account_answer(s, settings, ACC, "adoption", Viewer())
    buttons = [e["action_id"] for b in summary.blocks if b["type"] == "actions" for e in b["elements"]]
    assert ids.view_action("adoption") in buttons
    assert check_limits(summary.blocks) == [] and check_limits(adoption.blocks) == []
    text = blocks_to_text(adoption.blocks)
    assert "CI" in text and "31%" in text and "31 of 100" in text  # October: 31 pipeline users of 100 active
    assert "Plan" in text and "10%" in text
    # Columns the export does not have: said so, never 0.
    assert "not in the export" in text and "DAST" in text
    assert adoption.chart is not None and adoption.chart()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_shows_adoption_and_purchase_intent(settings: Settings) -> None:
    _seed(settings.database_url)
    with session_scope(settings.database_url) as s:
        text = blocks_to_text(account_answer(s, settings, ACC, "summary", Viewer(), with_chart=False).blocks)
    assert "User adoption" in text and "CI 31%" in text
    assert "Purchase intent" in text and "Pays for Ultimate" in text
    assert text.count("Pays for Ultimate") == 1  # not repeated among the other flags


def test_health_explains_subscription_data_only(settings: Settings) -> None:
    _seed(settings.database_url)
    with session_scope(settings.database_url) as s:
        answer = account_answer(s, settings, ACC, "health", Viewer(), with_chart=False)
    text = blocks_to_text(answer.blocks)
    assert check_limits(answer.blocks) == []
    assert "Why some measures have no data" in text and "cloud.example.com" in text
    assert "Subscription Data only" in text and "Cloud Licensing without Operational Metrics" in text
    assert "agreed exemption" in text and "What you can do" in text


def test_adoption_chart_draws_every_ratio(settings: Settings) -> None:
    _seed(settings.database_url)
    with session_scope(settings.database_url) as s:
        report = build_account_report(s, ACC)
    png = adoption_png(report)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
