"""Account roll-up (docs/scoring.md, account steps 1-8): subscriptions, primaries, ARR weights, overall, share."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from support.scoring_helpers import MONTH, PING, account, inst, row, sub

from scoring.flags import account_flags, minors_behind
from scoring.measures import overall_of, score_row
from scoring.rollup import active_in, choose_primary, roll_up
from scoring.rules import load_rules
from scoring.trends import build_trends

RULES = load_rules("gitlab-current")
SCM = "action_monthly_active_users_project_repo_28_days_user"


def scm_rows(*specs: tuple[int, str, float, int]) -> list:  # type: ignore[type-arg]
    """(instance, subscription, scm users, billable) -> rows with license 200."""
    return [row(i, s, billable=b, metrics={SCM: v}) for i, s, v, b in specs]


def rollup(subs, rows, instances=None, acc=None, month=MONTH):  # type: ignore[no-untyped-def]
    insts = instances or {r.instance_id: inst(r.instance_id, r.label) for r in rows}
    return roll_up(acc or account(), subs, insts, rows, month, RULES)


def test_arr_weighted_mean() -> None:
    subs = [sub("S1", arr=3000.0), sub("S2", arr=1000.0)]
    am = rollup(subs, scm_rows((1, "S1", 20, 100), (2, "S2", 60, 100)))
    assert am.measures["scm"].value == pytest.approx(0.2 * 0.75 + 0.6 * 0.25)
    assert am.measures["scm"].color == "Yellow"
    assert {c.subscription_id: c.weight for c in am.measures["scm"].used} == {"S1": 0.75, "S2": 0.25}
    assert "ARR-weighted over 2 subscriptions" in am.measures["scm"].sentence
    assert [c.sentence.split(":")[0] for c in am.measures["scm"].used] == ["SCM is Yellow", "SCM is Green"]


def test_one_subscription_without_arr_gets_weight_zero() -> None:
    subs = [sub("S1", arr=1000.0), sub("S2", arr=None)]
    am = rollup(subs, scm_rows((1, "S1", 20, 100), (2, "S2", 60, 100)))
    assert am.measures["scm"].value == pytest.approx(0.2)
    assert any("A-S2: no ARR" in e.reason for e in am.measures["scm"].left_out)
    assert am.reporting_share == 1.0  # all the month's ARR reports


@pytest.mark.parametrize("arrs", [(None, None), (0.0, None), (0.0, 0.0)])
def test_no_arr_anywhere_means_equal_weights(arrs: tuple[float | None, float | None]) -> None:
    subs = [sub("S1", arr=arrs[0]), sub("S2", arr=arrs[1]), sub("S3", arr=None)]
    rows = [*scm_rows((1, "S1", 20, 100), (2, "S2", 60, 100)), row(3, "S3", ping=None)]
    am = rollup(subs, rows)
    assert am.measures["scm"].value == pytest.approx(0.4)
    assert am.measures["scm"].equal_weights
    # Share by count when the month's ARR is 0: two of three subscriptions report.
    assert am.reporting_share == pytest.approx(2 / 3)


def test_share_by_arr_and_non_reporting_subscription() -> None:
    subs = [sub("S1", arr=3000.0), sub("S2", arr=1000.0)]
    rows = [*scm_rows((1, "S1", 20, 100)), row(2, "S2", ping=None, metrics={SCM: 90})]
    am = rollup(subs, rows)
    assert am.reporting_share == 0.75
    # The non-reporting subscription's stale values are never used.
    assert am.measures["scm"].value == pytest.approx(0.2)
    assert any("not reporting" in e.reason for e in am.measures["scm"].left_out)
    s2 = next(s for s in am.subscriptions if s.info.id == "S2")
    assert not s2.reporting and s2.primary_instance_id == 2


def test_ping_from_an_earlier_month_does_not_report() -> None:
    old = datetime(2026, 8, 30, tzinfo=UTC)
    am = rollup([sub("S1")], [row(1, "S1", ping=old, metrics={SCM: 50})])
    assert am.reporting_share == 0.0 and am.measures["scm"].color == "No data"


def _r(instance_id: int, billable: int | None, ping: datetime | None):  # type: ignore[no-untyped-def]
    return row(instance_id, "S1", billable=billable, ping=ping)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([_r(1, 10, PING), _r(2, 20, PING)], 2),  # most billable users
        ([_r(1, None, PING), _r(2, 0, None)], 2),  # empty billable users last, even after 0
        ([_r(1, 20, datetime(2026, 10, 1, tzinfo=UTC)), _r(2, 20, PING)], 2),  # tie: latest ping
        ([_r(1, 20, None), _r(2, 20, datetime(2026, 10, 1, tzinfo=UTC))], 2),  # empty ping last
        ([_r(3, 20, PING), _r(2, 20, PING)], 2),  # full tie: lowest instance id
        ([_r(5, None, None), _r(4, None, None)], 4),
    ],
)
def test_primary_choice(rows: list, expected: int) -> None:  # type: ignore[type-arg]
    assert choose_primary(rows).instance_id == expected
    assert choose_primary(list(reversed(rows))).instance_id == expected


def test_primary_per_subscription_and_delivery_type_among_eligible_rows() -> None:
    subs = [sub("S1")]
    rows = [
        row(1, "S1", billable=500, label="Unknown", metrics={SCM: 0}),
        row(2, "S1", billable=400, opt_out=True, metrics={SCM: 0}),
        row(3, "S1", billable=300, license=0, metrics={SCM: 0}),
        row(4, "S1", billable=100, metrics={SCM: 50}),
        row(5, "S1", billable=90, metrics={SCM: 0}),
    ]
    am = rollup(subs, rows)
    assert am.subscriptions[0].primary_instance_ids == (4,)
    assert am.measures["scm"].value == 0.5
    reasons = " | ".join(e.reason for e in am.measures["scm"].left_out)
    assert "not Production (labelled Unknown)" in reasons
    assert "marked Opt-Out" in reasons
    assert "no license user count" in reasons
    by_id = {i.instance.id: i for i in am.instances}
    assert by_id[4].primary and not by_id[5].primary
    assert by_id[1].excluded_reason == "not Production (labelled Unknown)"


def test_unknown_instance_explains_missing_score() -> None:
    am = rollup([sub("S1")], [row(1, "S1", label="Unknown", metrics={SCM: 50})])
    m = am.measures["scm"]
    assert m.color == "No data" and m.score is None
    assert "labelled Unknown" in (m.reason or "")
    assert am.overall.score is None and am.overall.color == "No data"
    assert am.reporting_share == 0.0


@pytest.mark.parametrize(
    ("start", "end", "active"),
    [
        (date(2026, 10, 31), None, True),  # starts on the month's last day
        (date(2026, 11, 1), None, False),
        (date(2025, 1, 1), date(2026, 10, 1), True),  # ends on its first day
        (date(2025, 1, 1), date(2026, 9, 30), False),
        (date(2026, 10, 15), date(2026, 10, 20), True),  # starts and ends mid-month
    ],
)
def test_subscriptions_of_the_month(start: date, end: date | None, active: bool) -> None:
    s = sub("S1", start=start, end=end)
    assert active_in(s, MONTH) is active
    am = rollup([s], scm_rows((1, "S1", 50, 100)))
    assert (am.measures["scm"].color != "No data") is active
    assert len(am.subscriptions) == (1 if active else 0)


def test_security_only_ultimate_and_na_without_ultimate() -> None:
    sec = {"user_unique_users_all_secure_scanners_28_days_user": 50}
    premium = [sub("S1", tier="Self-Managed - Premium")]
    am = rollup(premium, [row(1, "S1", metrics=sec)])
    assert am.measures["security"].color == "N/A" and am.measures["security"].score is None
    assert "security" not in am.overall.weights_used
    both = [sub("S1", tier="Self-Managed - Premium", arr=9000.0), sub("S2", tier="Self-Managed - Ultimate", arr=1.0)]
    am = rollup(
        both,
        [
            row(1, "S1", metrics=sec),
            row(2, "S2", metrics={**sec, "user_unique_users_all_secure_scanners_28_days_user": 1}),
        ],
    )
    # Only the Ultimate subscription feeds Security, whatever the Premium one's weight.
    assert am.measures["security"].value == 25 and am.measures["security"].color == "Red"
    ultimate_no_data = rollup([sub("S2", tier="Self-Managed - Ultimate")], [row(2, "S2")])
    assert ultimate_no_data.measures["security"].color == "No data"


def test_engagement_only_from_self_managed_primaries() -> None:
    subs = [sub("S1", arr=1.0), sub("S2", arr=1000.0, delivery="SaaS")]
    rows = [
        row(1, "S1", metrics={"last_activity_28_days_user": 90}),
        row(2, "S2", deployment="GitLab.com", metrics={"last_activity_28_days_user": 10}),
    ]
    am = rollup(subs, rows, {1: inst(1), 2: inst(2, deployment="GitLab.com")})
    assert am.measures["user_engagement"].value == 0.9


def test_account_license_age_uses_earliest_subscription_without_customer_since() -> None:
    subs = [sub("S1", start=date(2026, 8, 1)), sub("S2", start=date(2026, 1, 1), arr=0.0)]
    rows = [row(1, "S1", billable=60, license=100)]
    am = rollup(subs, rows, acc=account(since=None))
    assert am.age_months == 9
    lic = am.measures["license_utilization"]
    assert lic.value == 0.6 and lic.color == "Yellow"  # 7-9 months: 0.50 < 0.6 <= 0.75
    young = rollup([sub("S1", start=date(2026, 8, 1))], rows, acc=account(since=None))
    assert young.measures["license_utilization"].color == "No data"  # 2 months
    assert young.measures["license_utilization"].value == 0.6


def test_overall_rescales_weights_over_non_empty_measures() -> None:
    o = overall_of({"license_utilization": 88, "scm": 25}, RULES)
    assert o.score == pytest.approx((0.30 * 88 + 0.15 * 25) / 0.45)
    assert o.weights_used == pytest.approx({"license_utilization": 2 / 3, "scm": 1 / 3})
    assert o.color == "Yellow"
    assert overall_of({}, RULES).score is None
    full = {"license_utilization": 88, "user_engagement": 88, "scm": 88, "ci": 88, "cd": 88, "security": 88}
    assert overall_of(full, RULES).score == pytest.approx(88) and overall_of(full, RULES).color == "Green"


def test_overall_of_account_uses_account_scores() -> None:
    subs = [sub("S1")]
    am = rollup(subs, [row(1, "S1", billable=190, license=200, metrics={SCM: 5})])
    # License 0.95 Green (88), SCM 0.0263 Red (25); everything else empty.
    assert am.overall.score == pytest.approx((0.30 * 88 + 0.15 * 25) / 0.45)
    assert "Product health is Yellow" in am.overall.sentence


def test_flags() -> None:
    subs = [sub("S1", seats=50)]
    old_ping = datetime(2026, 8, 31, 23, 0, tzinfo=UTC)  # 61 days before Nov 1
    rows = [
        row(1, "S1", billable=60, license=50, version="17.9.0", mapped=False),
        row(2, "S1", billable=10, ping=None, version="17.2.0", label="Unknown"),
        row(3, "S1", billable=10, ping=None, version="17.3.0"),
        row(3, "S1", billable=10, ping=old_ping, version="17.3.0", month=date(2026, 8, 1)),
    ]
    insts = {1: inst(1), 2: inst(2, "Unknown"), 3: inst(3)}
    am = roll_up(account(), subs, insts, rows, MONTH, RULES)
    flags = account_flags(am, rows, insts, "17.9.1", RULES)
    kinds = {(f.kind, f.instance_id) for f in flags}
    assert ("license_unmapped", 1) in kinds
    assert ("over_licensed", 1) in kinds
    assert ("not_reporting", 2) in kinds and ("not_reporting", 3) in kinds
    # One fact, one flag: the silent instance is "not reporting", with how old its last ping is.
    assert ("stale", 3) not in kinds
    silent = next(f for f in flags if f.kind == "not_reporting" and f.instance_id == 3)
    assert "last ping 2026-08-31, 61 days before the end of 2026-10" in silent.message
    assert ("version_behind", 2) in kinds  # 7 minor versions behind
    assert ("version_behind", 3) not in kinds  # exactly 6: not flagged
    assert not any(k == "no_production" for k, _ in kinds)
    unmapped = next(f for f in flags if f.kind == "license_unmapped")
    assert "ask Support to generate a new license with the right subscription id" in unmapped.message
    only_unknown = {2: inst(2, "Unknown")}
    am = roll_up(account(), subs, only_unknown, rows[1:2], MONTH, RULES)
    flags = account_flags(am, rows[1:2], only_unknown, None, RULES)
    assert [f.kind for f in flags if f.kind == "no_production"] == ["no_production"]


def test_stale_only_for_a_reporting_instance_and_never_for_geo_secondaries() -> None:
    subs = [sub("S1")]
    insts = {1: inst(1)}
    rows = [row(1, "S1", ping=datetime(2026, 9, 1, 23, 59, tzinfo=UTC), month=date(2026, 9, 1))]
    am = roll_up(account(), subs, insts, rows, MONTH, RULES)
    assert [f.kind for f in account_flags(am, rows, insts, None, RULES)] == ["not_reporting"]
    geo = {1: inst(1, "Geo Secondary Node")}
    am = roll_up(account(), subs, geo, rows, MONTH, RULES)
    assert [f.kind for f in account_flags(am, rows, geo, None, RULES)] == ["no_production"]


def test_minors_behind_across_majors() -> None:
    assert minors_behind("16.11.3", "17.0.0", RULES) == 1
    assert minors_behind("16.5.0", "17.0.0", RULES) == 7
    assert minors_behind("17.3.2-ee", "17.3.9", RULES) == 0
    assert minors_behind(None, "17.0.0", RULES) is None


def test_trends_series_and_change() -> None:
    subs = [sub("S1")]
    rows = [
        row(
            1,
            "S1",
            billable=b,
            license=200,
            metrics={SCM: v},
            month=date(2026, m, 1),
            ping=datetime(2026, m, 5, tzinfo=UTC),
        )
        for m, b, v in ((8, 100, 10), (9, 120, 30), (10, 150, 90))
    ]
    insts = {1: inst(1)}
    am = roll_up(account(), subs, insts, rows, MONTH, RULES)
    t = build_trends(account(), subs, insts, rows, am, RULES)
    assert len(t.months) == 12 and t.months[-1] == MONTH
    scm = t.measures["scm"]
    assert [p.color for p in scm[-3:]] == ["Red", "Yellow", "Green"]
    assert scm[-1].change == pytest.approx(0.6 - 0.25)
    assert scm[-4].value is None and scm[-3].change is None
    assert [p.value for p in t.billable_users[-3:]] == [100, 120, 150]
    assert t.licensed_seats[-1].value == 500
    assert t.utilization[-1].value == pytest.approx(150 / 500)
    per_sub = t.subscription_utilization["S1"]
    # Per subscription: seats in use (billable users / the subscription's licensed seats).
    assert [p.value for p in per_sub[-3:]] == pytest.approx([0.2, 0.24, 0.3])
    assert per_sub[-1].change == pytest.approx(0.06) and per_sub[-1].color == "Red"  # measure 0.75 at 10+ months: Red
    lic = am.subscriptions[0].license
    assert lic is not None and lic.value == 0.75 and lic.next_threshold == "Green needs more than 75%"


def test_non_primary_instances_explain_on_request() -> None:
    rows = [row(1, "S1", billable=100, metrics={SCM: 50}), row(2, "S1", billable=50, metrics={SCM: 5})]
    am = rollup([sub("S1")], rows)
    other = next(i for i in am.instances if i.instance.id == 2)
    assert not other.primary and not other.explained
    assert other.measures["scm"].color == "Red" and other.measures["scm"].sentence == ""
    full = other.explain(RULES)
    assert full["scm"].color == "Red"
    assert full["scm"].sentence.startswith("SCM is Red: 5 of 50 billable users")
    primary = next(i for i in am.instances if i.primary)
    assert primary.explain(RULES) is primary.measures and primary.measures["scm"].sentence


def test_non_primary_values_worked_out_on_read_equal_scoring_the_row() -> None:
    """A non-primary instance's values and colours are filled when first read: exactly what scoring its row
    gives, and a roll-up whose instances were read equals one whose were not."""
    rows = [
        row(1, "S1", billable=100, metrics={SCM: 50}),
        row(2, "S1", billable=50, metrics={SCM: 5}),
        row(3, "S1", billable=20, metrics={SCM: 19}),
    ]
    subs = [sub("S1")]
    untouched, read = rollup(subs, rows), rollup(subs, rows)
    others = [i for i in read.instances if not i.primary]
    assert len(others) == 2 and all(i.given_measures is None for i in others)
    for im in others:
        assert im.row is not None
        expected = score_row(im.row, im.subscription, im.customer_since, RULES, explain=False)
        assert im.measures == expected
        assert im.overall == overall_of({k: m.score for k, m in expected.items()}, RULES, explain=False)
        assert im.given_measures is not None
    assert read.instances == untouched.instances and read == untouched
    assert [i.measures["scm"].color for i in others] == ["Red", "Green"]
