"""The portfolio workflow and the Home renderer without Slack: scoring, counts, cache, managers, limits."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import delete
from support.home_data import MONTH, add_account, as_of

from bot.blocks.limits import check_limits
from bot.features.home.blocks import PAGE_SIZE, render_home
from db.models import AlertRecord, Instance, LabelChange, UsageMonthly
from db.session import session_scope
from scoring.model import Flag
from workflows.managers import ManagersError, parse_managers
from workflows.portfolio import Viewer, build_portfolio, cached_portfolio, clear_portfolio_cache
from workflows.settings import SettingsError, load_settings

TAM = "avery.tam@example.com"


@pytest.fixture(autouse=True)
def _fresh_portfolio_cache() -> None:
    # Each test's database restarts ids and counts, so a remembered portfolio could look current.
    clear_portfolio_cache()


def test_counts_alerts_and_old_unknown_instances(db_url: str) -> None:
    with session_scope(db_url) as s:
        as_of(s)
        ids = add_account(s, "0016ACME", "Acme Corp", TAM, "red", unknown_extra=2)
        add_account(s, "0016INIT", "Initech", TAM, "green")
        # An Unknown instance last seen two years ago is history, not something to relabel now.
        old = s.get(Instance, ids[2])
        assert old is not None
        old.last_seen_month = date(2024, 9, 1)
        s.execute(delete(UsageMonthly).where(UsageMonthly.instance_id == old.id))
        s.add(AlertRecord(account_id="0016ACME", kind="color_drop", measure="scm", month=MONTH, message="SCM dropped"))
        s.add(AlertRecord(account_id="0016ACME", kind="color_drop", measure="ci", month=MONTH, message="CI dropped"))
        s.add(AlertRecord(account_id="0016INIT", kind="color_drop", measure="ci", month=date(2026, 9, 1), message="x"))
    with session_scope(db_url) as s:
        p = build_portfolio(s, "mine", [TAM.upper()])
    assert [a.id for a in p.accounts] == ["0016ACME", "0016INIT"]
    acme, init = p.accounts
    assert (acme.unknown_instances, acme.alerts, init.alerts) == (1, 2, 0)
    assert (p.totals.accounts, p.totals.red, p.totals.green, p.totals.unknown_instances, p.totals.alerts) == (
        2,
        1,
        1,
        1,
        2,
    )
    assert p.month == MONTH and p.as_of == MONTH


def test_account_without_subscription_this_month(db_url: str) -> None:
    with session_scope(db_url) as s:
        as_of(s)
        add_account(s, "0016OLD", "Old Co", TAM, "green", month=date(2025, 1, 1))
        from db.models import Subscription

        sub = s.get(Subscription, "S-0016OLD")
        assert sub is not None
        sub.end_date = date(2025, 6, 30)
    with session_scope(db_url) as s:
        p = build_portfolio(s, "mine", [TAM])
    (old,) = p.accounts
    assert old.licensed_seats == 0 and old.health_color == "No data" and old.utilization is None
    view = render_home(p.page_view(1, PAGE_SIZE), ("mine",))
    assert "no active subscription this month" in str(view)


def test_cache_is_used_until_a_relabel(db_url: str) -> None:
    with session_scope(db_url) as s:
        as_of(s)
        ids = add_account(s, "0016ACME", "Acme Corp", TAM, "green", label="Unknown")
    with session_scope(db_url) as s:
        first = cached_portfolio(s, "all", None, min_accounts=1)
        assert cached_portfolio(s, "all", None, min_accounts=1) is first  # same data: from memory
    assert first.accounts[0].health_color == "No data"
    with session_scope(db_url) as s:
        inst = s.get(Instance, ids[0])
        assert inst is not None
        inst.label, inst.label_version = "Production", inst.label_version + 1
        s.add(LabelChange(instance_id=inst.id, from_label="Unknown", to_label="Production", changed_by="U1"))
    with session_scope(db_url) as s:
        second = cached_portfolio(s, "all", None, min_accounts=1)
    assert second is not first
    assert (second.accounts[0].health_color, second.accounts[0].unknown_instances) == ("Green", 0)


def test_render_stays_within_limits_with_long_names_and_many_flags(db_url: str) -> None:
    with session_scope(db_url) as s:
        as_of(s)
        for i in range(PAGE_SIZE + 3):
            add_account(s, f"0016X{i:03d}" + "9" * 50, "<b>&Evil</b> " + "N" * 240, TAM, "red", unknown_extra=3)
    with session_scope(db_url) as s:
        p = build_portfolio(s, "mine", [TAM])
    many = tuple(Flag("not_reporting", "x" * 500, instance_id=i) for i in range(40))
    p = type(p)(
        p.scope,
        p.emails,
        p.as_of,
        p.month,
        tuple(type(a)(**{**a.__dict__, "flags": many}) for a in p.accounts),
        p.totals,
    )
    for page in (1, 2, 3):
        view = render_home(p.page_view(page, PAGE_SIZE), ("mine", "team", "all"))
        assert check_limits(view["blocks"], "home") == []
        assert len(view["blocks"]) <= 100
        text = str(view)
        assert "<b>" not in text and "&lt;b&gt;&amp;Evil" in text
        assert "not reporting (40)" in text
    last = render_home(p.page_view(99, PAGE_SIZE), ("mine",))  # clamped to the last page
    assert '"page":2' in last["private_metadata"]


def test_managers_setting() -> None:
    teams = parse_managers(" Mia@Example.com : a@example.com, B@example.com ; mia@example.com:c@example.com;")
    assert teams == {"mia@example.com": frozenset({"a@example.com", "b@example.com", "c@example.com"})}
    assert parse_managers("") == {}
    for bad in ("mia@example.com", "mia:a@example.com", "mia@example.com:", "mia@example.com:not-an-email"):
        with pytest.raises(ManagersError):
            parse_managers(bad)
    with pytest.raises(SettingsError, match="CS_MANAGERS: cannot read"):
        load_settings(_env_file=None, cs_managers="mia@example.com;")
    viewer = Viewer("U1", "mia@example.com", team=teams["mia@example.com"])
    assert viewer.scopes(has_own=False) == ("team",)
    assert viewer.emails_for("team") == {"mia@example.com", "a@example.com", "b@example.com", "c@example.com"}
    assert Viewer("U2", "x@example.com", is_admin=True).scopes(has_own=True) == ("mine", "all")
    assert Viewer("U2", "x@example.com", is_admin=True).emails_for("all") is None


def test_concurrent_requests_build_a_large_portfolio_once(db_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with session_scope(db_url) as s:
        as_of(s)
        for i in range(6):
            add_account(s, f"0016C{i}", f"Customer {i}", f"tam{i}@example.com", ("red", "green")[i % 2])

    def one(_: int) -> object:
        with session_scope(db_url) as s:
            return cached_portfolio(s, "all", None, min_accounts=1)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, range(8)))
    assert all(r is results[0] for r in results)
    assert len(results[0].accounts) == 6  # type: ignore[attr-defined]
