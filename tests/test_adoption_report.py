"""User adoption in the account report, on the real database: JSON shape, "not in the export", definitions,
purchase intent and operational-metrics flags, and the sync recording the export's columns."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from support.scoring_helpers import add_account, add_instance, add_subscription, add_usage
from support.sync_helpers import copy_fixture

from bot.features.home.blocks import totals_text
from db.models import MetricDefinition, SyncRun
from db.queries.health import export_metric_columns
from db.session import session_scope
from scoring.adoption_rules import load_adoption_rules
from scoring.model import Flag
from scoring.trends import window
from workflows.portfolio import PortfolioAccount, build_portfolio
from workflows.report import build_account_report, report_to_json
from workflows.report_text import format_report
from workflows.sync import CsvExport, sync_export

OCT = date(2026, 10, 1)
ACC = "0016100001AbCdE"
UMAU = "umau_28_days_user"
PIPE = "ci_pipelines_28_days_user"


def _seed(url: str, metric_columns: list[str] | None) -> None:
    with session_scope(url) as s:
        add_account(s, ACC, "Acme Corp", since=date(2024, 1, 1))
        add_subscription(s, ACC, "SUB1", product_tier_name="Self-Managed - Ultimate", licensed_seats=300)
        add_subscription(s, ACC, "SUB2", licensed_seats=100)
        a = add_instance(s, ACC, "a", "Production")
        b = add_instance(s, ACC, "b", "Production")
        cloud = add_instance(s, ACC, "cloud", "Production")
        for i, month in enumerate(window(OCT, 3)):
            add_usage(s, a, "SUB1", month, **{PIPE: 30 + i, "sast_scans_28_days_event": 0}, extra_metrics={UMAU: 100})
            add_usage(s, b, "SUB2", month, **{PIPE: 10}, extra_metrics={UMAU: 300})
            # Shares Subscription Data only: license and billable users, no usage metric.
            add_usage(s, cloud, "SUB1", month, billable_user_count=5, license_user_count=300)
        s.add(
            SyncRun(
                source="test",
                status="succeeded",
                as_of_month=OCT,
                finished_at=datetime.now(UTC),
                metric_columns=metric_columns,
            )
        )
        s.add(
            MetricDefinition(
                key_path="usage_activity_by_stage_monthly.verify.ci_pipelines",
                description="Distinct users triggering pipelines in a month",
                status="active",
                source_path="x.yml",
                content_hash="h",
            )
        )


def test_report_json_adoption_pools_primaries_with_12_month_series(db_url: str) -> None:
    _seed(db_url, None)
    with session_scope(db_url) as s:
        data = report_to_json(build_account_report(s, ACC))
    ci = data["adoption"]["ci"]
    # a: 32 of 100, b: 10 of 300; the license-only instance reports neither and is not pooled.
    assert ci["value"] == pytest.approx(42 / 400)
    assert (ci["numerator"], ci["users"], ci["active_users"]) == (PIPE, 42, 400)
    assert len(ci["series"]) == 12 and ci["series"][-1] == {"month": "2026-10", "value": ci["value"]}
    assert ci["series"][-3]["value"] == pytest.approx(40 / 400) and ci["series"][0]["value"] is None
    assert set(data["adoption"]) == set(load_adoption_rules().ratios)
    assert set(ci) == {"value", "numerator", "users", "active_users", "series"}
    # Not reported anywhere (and the export's columns unknown): empty, never 0.
    assert data["adoption"]["plan"]["value"] is None and data["adoption"]["plan"]["users"] is None
    pipelines = next(f for f in data["features"]["ci"]["features"] if f["key"] == "pipelines")
    assert pipelines["state"] == "in_use" and pipelines["definition"].startswith("Distinct users triggering")
    sast = next(f for f in data["features"]["security"]["features"] if f["key"] == "sast")
    assert sast["state"] == "not_used" and sast["value"] == 0 and sast["definition"] is None


def test_columns_not_in_the_export_are_said_so(db_url: str) -> None:
    _seed(db_url, [UMAU, PIPE, "sast_scans_28_days_event"])
    with session_scope(db_url) as s:
        assert export_metric_columns(s) == {UMAU, PIPE, "sast_scans_28_days_event"}
        data = report_to_json(build_account_report(s, ACC))
    assert data["adoption"]["ci"]["value"] == pytest.approx(42 / 400)
    assert data["adoption"]["plan"] == {
        "value": None,
        "numerator": "issues_28_days_user",
        "users": None,
        "active_users": None,
        "series": data["adoption"]["plan"]["series"],
    }
    assert data["adoption_notes"]["plan"] == "issues_28_days_user is not in the export"
    dast = next(f for f in data["features"]["security"]["features"] if f["key"] == "dast")
    assert dast["state"] == "not_in_export"


def test_flags_purchase_intent_and_operational_metrics_not_shared(db_url: str) -> None:
    _seed(db_url, None)
    with session_scope(db_url) as s:
        data = report_to_json(build_account_report(s, ACC))
    kinds = [f["kind"] for f in data["flags"]]
    assert "purchase_intent" in kinds and "operational_metrics_not_shared" in kinds
    intent = next(f for f in data["flags"] if f["kind"] == "purchase_intent")
    assert intent["subscription"] == "SUB1" and "SAST" in intent["details"] and "Ultimate" in intent["message"]
    shared = [f for f in data["flags"] if f["kind"] == "operational_metrics_not_shared"]
    assert [f["instance"] for f in shared] == ["cloud"]
    assert "Subscription Data only" in shared[0]["message"]


def test_sync_records_the_exports_metric_columns(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    export = copy_fixture(tmp_path / "export")
    result = sync_export(CsvExport(export), db_url)
    assert result.ok
    header = (export / "usage_monthly.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    with session_scope(db_url) as s:
        run = s.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
        assert run is not None and run.metric_columns
        cols = export_metric_columns(s)
    assert cols is not None and "ci_builds_28_days_event" in cols and cols <= set(header)
    assert "snapshot_month" not in cols and "billable_user_count" not in cols


def _line(name: str, flags: tuple[Flag, ...], util: float) -> PortfolioAccount:
    return PortfolioAccount(name, name, None, None, 10, 100, util, "Red", "Red", 25.0, {}, 0, flags, 1.0)


def test_home_ranks_purchase_intent_first_within_a_colour(db_url: str) -> None:
    _seed(db_url, None)
    with session_scope(db_url) as s:
        portfolio = build_portfolio(s, "all", None)
    (acme,) = portfolio.accounts
    assert acme.purchase_intent and "purchase_intent" in {f.kind for f in acme.flags}
    intent = (Flag("purchase_intent", "Pays for Ultimate…"),)
    lines = [_line("low", (), 0.1), _line("intent", intent, 0.9), _line("mid", (), 0.5)]
    assert [a.name for a in sorted(lines, key=PortfolioAccount.need_key)] == ["intent", "low", "mid"]


def test_home_counts_purchase_intent(db_url: str) -> None:
    _seed(db_url, None)
    with session_scope(db_url) as s:
        portfolio = build_portfolio(s, "all", None)
    assert portfolio.totals.purchase_intent == 1
    assert "💰 1 with purchase intent" in totals_text(portfolio)


def test_text_report_lists_adoption_and_features(db_url: str) -> None:
    _seed(db_url, [UMAU, PIPE, "sast_scans_28_days_event"])
    with session_scope(db_url) as s:
        text = format_report(build_account_report(s, ACC))
    assert "User adoption (2 reporting primary instances pooled" in text
    assert "42 of 400 monthly active users ran a pipeline (10%)" in text
    assert "issues_28_days_user is not in the export" in text and "Service Desk (not in the export)" in text
    assert "SAST (not used)" in text
