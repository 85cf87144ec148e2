"""User adoption (pure): ratios pooled over the reporting primaries, features per use case, their rules file,
and the purchase-intent and operational-metrics flags."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from support.scoring_helpers import MONTH, account, inst, row, sub

from scoring.adoption import adoption_of, pooled_rows, with_series
from scoring.adoption_flags import metrics_not_shared_flags, operational_columns, purchase_intent_flag
from scoring.adoption_rules import ADOPTION_DIR, load_adoption_rules, parse_adoption_rules
from scoring.rollup import roll_up
from scoring.rules import RulesError, load_rules
from scoring.trends import window

RULES = load_rules()
AD = load_adoption_rules()
UMAU = "umau_28_days_user"
PIPE = "ci_pipelines_28_days_user"


def _month(rows, subs=None, instances=None, month=MONTH):  # type: ignore[no-untyped-def]
    subs = subs or [sub("S1")]
    instances = instances or {r.instance_id: inst(r.instance_id, r.label) for r in rows}
    return roll_up(account(), subs, instances, rows, month, RULES)


def test_ratio_pools_numerators_and_active_users_over_reporting_primaries() -> None:
    rows = [
        row(1, "S1", metrics={UMAU: 100, PIPE: 30}),
        row(2, "S2", metrics={UMAU: 300, PIPE: 90}),
    ]
    cur = _month(rows, subs=[sub("S1"), sub("S2")])
    a = adoption_of(MONTH, pooled_rows(cur), AD)
    ci = a.ratios["ci"]
    # Pooled, not averaged: (30 + 90) / (100 + 300).
    assert ci.value == pytest.approx(0.30)
    assert (ci.users, ci.active_users, ci.numerator) == (120, 400, PIPE)
    assert set(ci.instance_ids) == {1, 2}
    assert "120 of 400 monthly active users ran a pipeline (30%)" in ci.sentence


def test_instance_primary_for_two_subscriptions_counts_once() -> None:
    rows = [row(1, "S1", metrics={UMAU: 100, PIPE: 40}), row(1, "S2", metrics={UMAU: 100, PIPE: 40})]
    cur = _month(rows, subs=[sub("S1"), sub("S2")])
    ci = adoption_of(MONTH, pooled_rows(cur), AD).ratios["ci"]
    assert (ci.users, ci.active_users, ci.value) == (40, 100, pytest.approx(0.4))


def test_only_primaries_that_report_both_count_and_non_primaries_never() -> None:
    rows = [
        row(1, "S1", billable=100, metrics={UMAU: 100, PIPE: 50}),
        # S1's other instance has fewer billable users: not the primary, not pooled.
        row(3, "S1", billable=10, metrics={UMAU: 1000, PIPE: 1000}),
        # S2's primary reports active users but not pipelines: left out of both sums.
        row(2, "S2", metrics={UMAU: 900}),
        # Not Production: never pooled.
        row(4, "S3", metrics={UMAU: 5, PIPE: 5}, label="Non-Production"),
    ]
    cur = _month(rows, subs=[sub("S1"), sub("S2"), sub("S3")])
    ci = adoption_of(MONTH, pooled_rows(cur), AD).ratios["ci"]
    assert ci.instance_ids == (1,) and ci.value == pytest.approx(0.5)


def test_no_value_without_rows_without_both_or_with_zero_active_users() -> None:
    empty = adoption_of(MONTH, (), AD).ratios["ci"]
    assert empty.value is None and "no reporting primary" in (empty.reason or "")
    one_side = adoption_of(MONTH, pooled_rows(_month([row(1, metrics={PIPE: 3})])), AD).ratios["ci"]
    assert one_side.value is None and one_side.users is None and "reports both" in (one_side.reason or "")
    zero = adoption_of(MONTH, pooled_rows(_month([row(1, metrics={UMAU: 0, PIPE: 0})])), AD).ratios["ci"]
    assert zero.value is None and zero.active_users == 0 and "is 0" in (zero.reason or "")
    # A reporting month with zero users of the feature is 0, not empty.
    none_used = adoption_of(MONTH, pooled_rows(_month([row(1, metrics={UMAU: 10, PIPE: 0})])), AD).ratios["ci"]
    assert none_used.value == 0


def test_not_reporting_primary_is_not_pooled() -> None:
    cur = _month([row(1, metrics={UMAU: 10, PIPE: 5}, ping=None)])
    assert pooled_rows(cur) == ()


def test_column_missing_from_the_export_is_said_not_zero() -> None:
    rows = pooled_rows(_month([row(1, metrics={UMAU: 10, PIPE: 5})]))
    export = {UMAU, PIPE}
    a = adoption_of(MONTH, rows, AD, export)
    plan = a.ratios["plan"]
    assert plan.value is None and plan.users is None
    assert plan.not_in_export == ("issues_28_days_user",) and "not in the export" in plan.sentence
    assert a.ratios["ci"].value == pytest.approx(0.5)
    no_umau = adoption_of(MONTH, rows, AD, {PIPE}).ratios["ci"]
    assert no_umau.not_in_export == (UMAU,) and no_umau.value is None


def test_features_in_use_not_used_not_reported_not_in_export() -> None:
    rows = [
        row(1, "S1", metrics={"sast_scans_28_days_event": 4, "dast_scans_28_days_event": 0}),
        row(2, "S2", metrics={"sast_scans_28_days_event": 0, "dast_scans_28_days_event": 0}),
    ]
    pooled = pooled_rows(_month(rows, subs=[sub("S1"), sub("S2")]))
    export = AD.columns() - {"api_fuzzing_scans_28_days_event"}
    sec = adoption_of(MONTH, pooled, AD, export).use_cases["security"]
    state = {f.key: f.state for f in sec.features}
    assert state["sast"] == "in_use" and state["dast"] == "not_used"
    assert state["container_scanning"] == "not_reported" and state["api_fuzzing"] == "not_in_export"
    sast = next(f for f in sec.features if f.key == "sast")
    assert sast.value == 4 and sast.tier == "Ultimate" and sast.key_path
    assert [f.key for f in sec.having("in_use")] == ["sast"]
    # Every use case the issue names is in the bundled rules, with its features.
    ucs = adoption_of(MONTH, pooled, AD).use_cases
    assert {"scm", "ci", "cd", "security", "plan"} <= set(ucs)
    assert len(ucs["security"].features) >= 7 and {"pipelines", "builds"} <= {f.key for f in ucs["ci"].features}


def test_series_has_one_point_per_month_from_each_months_primaries() -> None:
    months = window(MONTH, 12)
    # One ping dated in each month but the sixth (not reporting then).
    rows = [
        row(1, metrics={UMAU: 100, PIPE: 10 * (i + 1)}, month=m, ping=datetime(m.year, m.month, 15, tzinfo=UTC))
        for i, m in enumerate(months)
        if i != 5
    ]
    rolled = [_month(rows, month=m) for m in months]
    a = with_series(adoption_of(MONTH, pooled_rows(rolled[-1]), AD), rolled, AD)
    series = a.ratios["ci"].series
    assert [p.month for p in series] == list(months)
    assert series[0].value == pytest.approx(0.1) and series[5].value is None
    assert series[-1].value == pytest.approx(1.2) == a.ratios["ci"].value


def test_bundled_adoption_rules_name_the_issue_columns() -> None:
    assert AD.active_users == UMAU
    expected = {
        "scm": "action_monthly_active_users_project_repo_28_days_user",
        "code_review": "merge_requests_28_days_user",
        "ci": PIPE,
        "cd": "deployments_28_days_user",
        "security": "user_unique_users_all_secure_scanners_28_days_user",
        "plan": "issues_28_days_user",
    }
    assert {k: r.numerator for k, r in AD.ratios.items()} == expected
    assert load_adoption_rules("gitlab") is AD


def _base() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ADOPTION_DIR / "gitlab.yaml").read_text())


def test_a_new_ratio_needs_no_code(tmp_path: Path) -> None:
    data = _base()
    data["ratios"]["epics"] = {"label": "Epics", "numerator": "epics_28_days_user", "phrase": "created an epic"}
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    rules = load_adoption_rules(str(path))
    rows = pooled_rows(_month([row(1, metrics={UMAU: 50, "epics_28_days_user": 5})]))
    assert adoption_of(MONTH, rows, rules).ratios["epics"].value == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["ratios"]["ci"].pop("numerator"), "ratios.ci.numerator"),
        (lambda d: d["ratios"].update({"Bad Key": d["ratios"]["ci"]}), "ratio key 'Bad Key'"),
        (lambda d: d["ratios"]["ci"].update({"numerator": "ci pipelines"}), "not a warehouse column"),
        (lambda d: d.update({"ratios": {}}), "ratios"),
        (lambda d: d["use_cases"]["ci"].update({"features": {}}), "use_cases.ci.features"),
        (lambda d: d["purchase_intent"].update({"measure": "plan"}), "is not a health measure"),
        (lambda d: d["purchase_intent"].update({"colors": ["Purple"]}), "colors must be"),
        (lambda d: d.update({"typo": 1}), "typo"),
    ],
)
def test_bad_adoption_rules_are_named(change, message) -> None:  # type: ignore[no-untyped-def]
    data = _base()
    change(data)
    with pytest.raises(RulesError) as err:
        parse_adoption_rules(yaml.safe_dump(data), "custom.yaml")
    assert "Adoption rules file custom.yaml" in str(err.value) and message in str(err.value)


def test_unknown_adoption_rule_set_and_missing_file() -> None:
    with pytest.raises(RulesError, match=r"Unknown adoption rule set .nope.*gitlab"):
        load_adoption_rules("nope")
    with pytest.raises(RulesError, match="not found"):
        load_adoption_rules("/nonexistent/adoption.yaml")


# ------------------------------------------------------------------------------------- purchase intent

SCANS = {
    "ci_internal_pipelines_28_days_event": 100,
    "user_unique_users_all_secure_scanners_28_days_user": 1,
    "sast_scans_28_days_event": 1,
    "dast_scans_28_days_event": 0,
}


def test_purchase_intent_when_ultimate_and_security_red() -> None:
    ultimate = sub("S1", tier="Self-Managed - Ultimate")
    cur = _month([row(1, metrics=SCANS)], subs=[ultimate])
    assert cur.measures["security"].color == "Red"
    a = adoption_of(MONTH, pooled_rows(cur), AD)
    flag = purchase_intent_flag(cur, a, AD)
    assert flag is not None and flag.kind == "purchase_intent" and flag.subscription_id == "S1"
    assert "DAST" in flag.details and "SAST" not in flag.details  # SAST ran
    assert "Container scanning" in flag.details  # not reported counts as unused
    assert "Pays for Ultimate (A-S1) but Security is Red" in flag.message and "DAST" in flag.message


def test_purchase_intent_when_security_has_no_data_and_not_otherwise() -> None:
    ultimate = sub("S1", tier="SaaS - Ultimate", delivery="SaaS")
    cur = _month([row(1, metrics={})], subs=[ultimate])
    assert cur.measures["security"].color == "No data"
    flag = purchase_intent_flag(cur, adoption_of(MONTH, pooled_rows(cur), AD), AD)
    assert flag is not None and "has no data" in flag.message
    # Premium: the account did not buy Ultimate.
    prem = _month([row(1, metrics=SCANS)])
    assert purchase_intent_flag(prem, adoption_of(MONTH, pooled_rows(prem), AD), AD) is None
    # Ultimate with Security Green: adoption matches the purchase.
    good = {
        **SCANS,
        "user_unique_users_all_secure_scanners_28_days_user": 60,
        **{c: 50 for c in RULES.columns() if c.endswith("_scans_28_days_event")},
    }
    green = _month([row(1, metrics=good)], subs=[sub("S1", tier="Self-Managed - Ultimate")])
    assert green.measures["security"].color == "Green"
    assert purchase_intent_flag(green, adoption_of(MONTH, pooled_rows(green), AD), AD) is None


def test_purchase_intent_needs_an_active_ultimate_subscription() -> None:
    ended = sub("S1", tier="Self-Managed - Ultimate", end=date(2026, 9, 30))
    cur = _month([row(1, metrics=SCANS)], subs=[ended, sub("S2")])
    assert purchase_intent_flag(cur, adoption_of(MONTH, pooled_rows(cur), AD), AD) is None


# ------------------------------------------------------------------------------- operational metrics

OPS = operational_columns(RULES, AD)


def test_opted_out_production_instance_is_flagged() -> None:
    rows = [row(1, opt_out=True, metrics={PIPE: 5}), row(2, "S1", billable=5, metrics={UMAU: 3})]
    instances = {1: inst(1), 2: inst(2)}
    flags = metrics_not_shared_flags(MONTH, rows, instances, RULES, OPS)
    assert [f.instance_id for f in flags] == [1]
    f = flags[0]
    assert f.kind == "operational_metrics_not_shared" and "marked Opt-Out" in f.message
    assert "Subscription Data only" in f.message and "exemption" in f.message and "Service Ping" in f.message


def test_license_data_without_usage_metrics_is_flagged_only_for_production_with_a_ping() -> None:
    rows = [
        row(1, billable=80, license=100, metrics={}),  # license only: flagged
        row(2, "S1", billable=80, license=100, metrics={}, label="Non-Production"),  # not Production
        row(3, "S1", billable=80, license=100, metrics={}, ping=None),  # not reporting: another flag says so
        row(4, "S1", billable=80, license=100, metrics={"last_activity_28_days_user": 3}),  # shares usage
    ]
    instances = {1: inst(1), 2: inst(2, "Non-Production"), 3: inst(3), 4: inst(4)}
    flags = metrics_not_shared_flags(MONTH, rows, instances, RULES, OPS)
    assert [f.instance_id for f in flags] == [1]
    assert "reports license data but no usage metric" in flags[0].message
    # Other months do not count.
    assert metrics_not_shared_flags(date(2026, 9, 1), rows, instances, RULES, OPS) == ()


def test_operational_columns_leave_out_license_and_user_counts() -> None:
    assert "license_user_count" not in OPS and "billable_user_count" not in OPS
    assert UMAU in OPS and PIPE in OPS
