"""One number per concept: every view of every demo account shows the figures of the one computed report.

The demo export is synced into the test database (SQLite, or PostgreSQL under TEST_DATABASE_URL); for each
account the report is computed once and every view — Summary, Utilization, Health, Instances, Versions,
Trends, `usagebot report` text and JSON, the Home tab line — is checked against it.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.blocks.format import blocks_to_text
from bot.features.home.blocks import account_blocks
from bot.features.usage.blocks import RENDERERS, render_trends
from db.models import Account
from db.session import session_scope
from scoring.bands import fmt_banded
from scoring.flags import version_key
from scoring.rules import load_rules
from workflows.demo import generate_export
from workflows.portfolio import score_account
from workflows.report import build_account_report, report_to_json
from workflows.report_text import format_report
from workflows.sync import CsvExport, sync_export
from workflows.wording import seats_in_use

TODAY = date(2026, 11, 27)
RULES = load_rules("gitlab-current")


@pytest.fixture(scope="module")
def demo_db(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    from conftest import truncate_all

    truncate_all(database_url)
    out = tmp_path_factory.mktemp("demo")
    generate_export(out, accounts=24, months=13, seed=7, today=TODAY)
    assert sync_export(CsvExport(Path(out)), database_url).ok
    return database_url


def _text(answer: object) -> str:
    return blocks_to_text(answer.blocks, answer.text)  # type: ignore[attr-defined]


def _account_ids(url: str) -> list[str]:
    with session_scope(url) as s:
        return list(s.scalars(select(Account.id).order_by(Account.id)))


def test_every_view_of_every_demo_account_shows_the_report_figures(demo_db: str) -> None:
    from db.queries.account_data import load_accounts_data, newest_version_in_month

    checked = moved = 0
    for account_id in _account_ids(demo_db):
        with session_scope(demo_db) as s:
            report = build_account_report(s, account_id, rules=RULES)
            bundle = load_accounts_data(s, date(2025, 9, 1), report.month, account_ids=[account_id])[account_id]
            newest = newest_version_in_month(s, report.month)
        views = {name: _text(render(report)) for name, render in RENDERERS.items()}
        views["trends"] = _text(render_trends(report))
        text = format_report(report)
        data = report_to_json(report)
        t = report.totals
        seats = seats_in_use(t.billable_users, t.seats, t.utilization)

        # Seats in use: the same "B of S seats (r%)" wherever the account's seats are shown.
        for name in ("summary", "utilization"):
            assert seats in views[name], (account_id, name)
        assert seats in text
        assert data["totals"] == {"seats": t.seats, "billable_users": t.billable_users, "utilization": t.utilization}
        primaries = {i["id"]: i["billable_users"] for i in data["instances"] if i["primary"]}
        known = [b for b in primaries.values() if b is not None]
        assert t.billable_users == (sum(known) if known else None)  # each primary instance once
        assert t.seats == sum(sub["licensed_seats"] for sub in data["subscriptions"])

        # Product health: one score text, everywhere.
        shown = report.overall.shown
        if shown:
            for name in ("summary", "health"):
                assert f"({shown})" in views[name], (account_id, name)
            assert f"({shown})" in text
            assert re.fullmatch(r"\d+\.\d+", shown)
        # Each measure's colour in the health view and the JSON.
        for key, m in report.measures.items():
            assert data["measures"][key]["color"] == m.color
            if m.score is not None:
                assert f"*{m.label}*: " in _raw_health(report) or m.label in views["health"]
        # Subscriptions: each one's seats in use in the utilization view.
        for sub in report.subscriptions:
            assert seats_in_use(sub.billable_users, sub.info.licensed_seats, sub.utilization) in views["utilization"]
        # Versions: every newest/behind against the month's newest version; oldest first.
        if report.newest_version:
            assert f"in {report.month:%Y-%m}: {report.newest_version}" in views["versions"]
            assert data["newest_version"] == report.newest_version == newest
        versions = [v for v in re.findall(r"· v(\d+\.\d+\.\d+)", views["versions"])]
        assert versions == sorted(versions, key=version_key)
        # Sparklines: the same lines in Slack, `report` text and JSON.
        for row in report.sparklines:
            assert data["series"]["sparklines"][row.key]["line"] == row.line
            assert row.line in text
            if row.key in ("seats", "scm", "ci", "cd", "security", "overall"):
                assert row.line in views["trends"]
        # Month-over-month moves: one unit (points of the line's own 0–100 scale), one precision.
        moves = re.findall(r"\(([^()]*) on last month\)", text.split("Trends (", 1)[1].split("User adoption")[0])
        assert all(re.fullmatch(r"[+-]\d+\.\d points|unchanged", m) for m in moves), moves
        moved += len(moves)
        # Home: the portfolio line renders the same computed figures.
        line = score_account(bundle, report.month, RULES, newest)
        assert (line.billable_users, line.licensed_seats) == (t.billable_users, t.seats)
        assert line.utilization == t.utilization
        assert line.health_shown == shown and line.health_color == report.overall.color
        home = str(account_blocks(line, "mine"))
        assert seats in home
        # No database row id anywhere: instances are named by the warehouse's ids.
        assert "primary 1" not in text and "[1]" not in text
        checked += 1
    assert checked == 24 and moved > 24


def _raw_health(report: object) -> str:
    return str(RENDERERS["health"](report).blocks)  # type: ignore[arg-type]


def test_rounding_never_crosses_a_band_edge() -> None:
    bands = RULES.measures["license_utilization"].bands_for_age(20)
    assert bands is not None
    assert fmt_banded(0.7526, "percent", bands) == "75.3%"  # Green needs more than 75%
    assert fmt_banded(0.75, "percent", bands) == "75%"
    assert fmt_banded(0.7499, "percent", bands) == "75.0%" or fmt_banded(0.7499, "percent", bands) == "74.99%"
    assert fmt_banded(0.62, "percent", bands) == "62%"
    overall = RULES.overall.bands
    assert fmt_banded(49.65, "score", overall) == "49.6" or fmt_banded(49.65, "score", overall) == "49.7"
    assert fmt_banded(49.98, "score", overall) == "49.98"  # 50.0 would read as the edge
    assert fmt_banded(50.04, "score", overall) == "50.04"



def _silence_a_production_instance(folder: Path, months: int) -> str:
    """Drop the last `months` months of one Production self-managed instance's rows; its installation id."""
    import csv

    path = folder / "usage_monthly.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    last = max(r["snapshot_month"] for r in rows)
    target = next(
        r["dim_installation_id"]
        for r in rows
        if r["instance_type"] == "Production" and r["dim_installation_id"] and r["snapshot_month"] == last
    )
    cut = sorted({r["snapshot_month"] for r in rows})[-months:]
    kept = [r for r in rows if not (r["dim_installation_id"] == target and r["snapshot_month"] in cut)]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    return target


def test_home_flags_every_account_as_its_summary_does(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Home loads two months of rows, `/usage` twelve: a Production instance silent for three months is one fact,
    flagged the same way in both."""
    from conftest import truncate_all

    from workflows.portfolio import build_portfolio

    truncate_all(database_url)
    out = tmp_path_factory.mktemp("silent")
    generate_export(out, accounts=12, months=13, seed=11, today=TODAY)
    _silence_a_production_instance(out, 3)
    assert sync_export(CsvExport(Path(out)), database_url).ok
    with session_scope(database_url) as s:
        home = {a.id: a for a in build_portfolio(s, "all", None, rules=RULES).accounts}
        differ = []
        silent = 0
        for account_id in _account_ids(database_url):
            report = build_account_report(s, account_id, rules=RULES)
            summary = sorted((f.kind, f.instance_id or 0, f.subscription_id or "") for f in report.flags)
            listed = sorted((f.kind, f.instance_id or 0, f.subscription_id or "") for f in home[account_id].flags)
            silent += sum(1 for f in report.flags if f.kind == "not_reporting")
            if summary != listed:
                differ.append((account_id, summary, listed))
    assert silent and differ == []


def test_seats_in_use_never_reads_as_past_a_license_edge() -> None:
    from workflows.wording import seats_pct

    # One subscription: seats in use and license utilization are the same ratio, shown one above the other.
    assert seats_in_use(7499, 10000, 0.7499) == "7,499 of 10,000 seats (74%)"
    assert seats_pct(0.75) == "75%" and seats_pct(0.29) == "29%" and seats_pct(1.004) == "100%"
    assert seats_pct(0.999) == "99%" and seats_pct(None) == "n/a"
