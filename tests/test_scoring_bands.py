"""Every band edge of both rule sets, empty vs zero in every input (docs/scoring.md, per instance)."""

from __future__ import annotations

from datetime import date

import pytest
from support.scoring_helpers import MONTH, row, sub

from scoring.bands import place
from scoring.measures import score_row
from scoring.model import MeasureResult
from scoring.rules import load_rules

CURRENT = load_rules("gitlab-current")
OLD = load_rules("gitlab-2024")
SINCE = date(2024, 1, 1)  # 33 months before MONTH


def measure(
    key: str,
    metrics: dict[str, float | None],
    billable: int | None = 100,
    license: int | None = 200,
    tier: str = "Self-Managed - Ultimate",
    deployment: str = "Self-Managed",
    since: date | None = SINCE,
    rules=CURRENT,  # type: ignore[no-untyped-def]
) -> MeasureResult:
    r = row(billable=billable, license=license, metrics=metrics, deployment=deployment)
    return score_row(r, sub(tier=tier, start=date(2020, 1, 1)), since, rules)[key]


SCM = "action_monthly_active_users_project_repo_28_days_user"
OK, FAIL = "successful_deployments_28_days_event", "failed_deployments_28_days_event"
SAST, PIPES = "sast_scans_28_days_event", "ci_internal_pipelines_28_days_event"
CASES = [
    # (measure, metrics, expected colour) with 100 billable users
    ("user_engagement", {"last_activity_28_days_user": 49.99}, "Red"),
    ("user_engagement", {"last_activity_28_days_user": 50}, "Yellow"),
    ("user_engagement", {"last_activity_28_days_user": 79.99}, "Yellow"),
    ("user_engagement", {"last_activity_28_days_user": 80}, "Green"),
    ("scm", {SCM: 10}, "Red"),
    ("scm", {SCM: 10.001}, "Yellow"),
    ("scm", {SCM: 33}, "Yellow"),
    ("scm", {SCM: 33.001}, "Green"),
    ("ci", {"ci_builds_28_days_event_post_16_9": 200}, "Red"),
    ("ci", {"ci_builds_28_days_event_post_16_9": 200.01}, "Yellow"),
    ("ci", {"ci_builds_28_days_event_post_16_9": 4000}, "Yellow"),
    ("ci", {"ci_builds_28_days_event_post_16_9": 4000.01}, "Green"),
    # The fallback metric stands in only when the preferred one is empty or absent, not when it is 0.
    ("ci", {"ci_builds_28_days_event": 4001}, "Green"),
    ("ci", {"ci_builds_28_days_event_post_16_9": None, "ci_builds_28_days_event": 4001}, "Green"),
    ("ci", {"ci_builds_28_days_event_post_16_9": 0, "ci_builds_28_days_event": 4001}, "Red"),
]


@pytest.mark.parametrize(("key", "metrics", "color"), CASES)
def test_current_band_edges(key: str, metrics: dict[str, float | None], color: str) -> None:
    m = measure(key, metrics)
    assert m.color == color
    assert m.score == {"Red": 25, "Yellow": 63, "Green": 88}[color]


SUB_CASES = [
    # (measure, sub-score, metrics, expected sub-score colour)
    ("cd", "deployment_users", {"deployments_28_days_user": 4.99}, "Red"),
    ("cd", "deployment_users", {"deployments_28_days_user": 5}, "Yellow"),
    ("cd", "deployment_users", {"deployments_28_days_user": 12}, "Yellow"),
    ("cd", "deployment_users", {"deployments_28_days_user": 12.01}, "Green"),
    ("cd", "deployments_per_user", {"deployments_28_days_event": 199.99}, "Red"),
    ("cd", "deployments_per_user", {"deployments_28_days_event": 200}, "Yellow"),
    ("cd", "deployments_per_user", {"deployments_28_days_event": 700}, "Yellow"),
    ("cd", "deployments_per_user", {"deployments_28_days_event": 700.01}, "Green"),
    ("cd", "success_rate", {OK: 24, FAIL: 76}, "Red"),
    (
        "cd",
        "success_rate",
        {OK: 1, FAIL: 3},
        "Yellow",
    ),
    (
        "cd",
        "success_rate",
        {OK: 4, FAIL: 1},
        "Yellow",
    ),
    (
        "cd",
        "success_rate",
        {OK: 81, FAIL: 19},
        "Green",
    ),
    ("security", "scanner_users", {"user_unique_users_all_secure_scanners_28_days_user": 5}, "Red"),
    ("security", "scanner_users", {"user_unique_users_all_secure_scanners_28_days_user": 5.01}, "Yellow"),
    ("security", "scanner_users", {"user_unique_users_all_secure_scanners_28_days_user": 19.99}, "Yellow"),
    ("security", "scanner_users", {"user_unique_users_all_secure_scanners_28_days_user": 20}, "Green"),
    (
        "security",
        "scans_per_pipeline",
        {SAST: 9.99, PIPES: 100},
        "Red",
    ),
    (
        "security",
        "scans_per_pipeline",
        {SAST: 10, PIPES: 100},
        "Yellow",
    ),
    (
        "security",
        "scans_per_pipeline",
        {SAST: 50, PIPES: 100},
        "Yellow",
    ),
    (
        "security",
        "scans_per_pipeline",
        {SAST: 50.01, PIPES: 100},
        "Green",
    ),
    ("security", "scanner_types", {SAST: 3, "dast_scans_28_days_event": 0}, "Red"),
    ("security", "scanner_types", {SAST: 3, "dast_scans_28_days_event": 1}, "Yellow"),
    (
        "security",
        "scanner_types",
        {SAST: 3, "dast_scans_28_days_event": 1, "api_fuzzing_scans_28_days_event": 2},
        "Green",
    ),
]


@pytest.mark.parametrize(("key", "sub_key", "metrics", "color"), SUB_CASES)
def test_sub_score_edges(key: str, sub_key: str, metrics: dict[str, float | None], color: str) -> None:
    m = measure(key, metrics)
    subs = {s.key: s for s in m.sub_scores}
    assert subs[sub_key].color == color
    # With one sub-score reported, the measure is that sub-score (the others are empty, not Red).
    others = [s for s in m.sub_scores if s.key != sub_key]
    if all(s.value is None for s in others):
        assert m.value == subs[sub_key].score


@pytest.mark.parametrize("key", ["cd", "security"])
@pytest.mark.parametrize(
    ("value", "color"), [(50, "Red"), (50.0001, "Yellow"), (75, "Yellow"), (75.0001, "Green"), (25, "Red")]
)
def test_mean_sub_score_and_overall_edges(key: str, value: float, color: str) -> None:
    assert place(value, CURRENT.measures[key].bands, "number").color == color  # type: ignore[arg-type]
    assert place(value, CURRENT.overall.bands, "number").color == color


def _months_ago(n: int) -> date:
    idx = MONTH.year * 12 + MONTH.month - 1 - n
    return date(idx // 12, idx % 12 + 1, 28)  # the day of the month is ignored


LICENSE_CASES = [
    (2, 0.99, "No data"),
    (0, 0.99, "No data"),
    (-1, 0.99, "No data"),  # snapshot before the customer-since date
    (3, 0.10, "Red"),
    (3, 0.11, "Yellow"),
    (3, 0.50, "Yellow"),
    (6, 0.50, "Yellow"),
    (6, 0.51, "Green"),
    (7, 0.50, "Red"),
    (7, 0.51, "Yellow"),
    (9, 0.75, "Yellow"),
    (9, 0.76, "Green"),
    (10, 0.75, "Red"),
    (10, 0.50, "Red"),  # no Yellow from 10 months on
    (10, 0.76, "Green"),
    (40, 1.3, "Green"),
]


@pytest.mark.parametrize(("age", "ratio", "color"), LICENSE_CASES)
def test_license_age_bands(age: int, ratio: float, color: str) -> None:
    m = measure("license_utilization", {}, billable=round(ratio * 100), license=100, since=_months_ago(age))
    assert m.value == pytest.approx(ratio)
    assert m.color == color
    if color == "No data":
        assert m.score is None and m.reason


def test_license_age_from_subscription_start_without_customer_since() -> None:
    r = row(billable=10, license=100)
    young = score_row(r, sub(start=date(2026, 8, 31)), None, CURRENT)["license_utilization"]
    old = score_row(r, sub(start=date(2026, 7, 1)), None, CURRENT)["license_utilization"]
    assert young.color == "No data" and "first 3 months" in (young.reason or "")
    assert old.color == "Red"  # 3 months: 0.10 is Red


@pytest.mark.parametrize(
    ("key", "metrics", "billable", "color"),
    [
        ("scm", {SCM: 24.99}, 100, "Red"),
        ("scm", {SCM: 25}, 100, "Yellow"),
        ("scm", {SCM: 49.99}, 100, "Yellow"),
        ("scm", {SCM: 50}, 100, "Green"),
        ("ci", {"ci_pipelines_28_days_user": 100}, 1000, "Red"),
        ("ci", {"ci_pipelines_28_days_user": 101}, 1000, "Yellow"),
        ("ci", {"ci_pipelines_28_days_user": 333}, 1000, "Yellow"),
        ("ci", {"ci_pipelines_28_days_user": 334}, 1000, "Green"),
        # gitlab-2024 CI reads pipelines users, not builds
        ("ci", {"ci_builds_28_days_event_post_16_9": 100000}, 1000, "No data"),
    ],
)
def test_gitlab_2024_rules(key: str, metrics: dict[str, float | None], billable: int, color: str) -> None:
    assert measure(key, metrics, billable=billable, rules=OLD).color == color


def test_rule_sets_differ_on_the_same_row() -> None:
    metrics = {SCM: 30, "ci_builds_28_days_event_post_16_9": 5000, "ci_pipelines_28_days_user": 30}
    assert measure("scm", metrics).color == "Yellow" and measure("scm", metrics, rules=OLD).color == "Yellow"
    assert measure("scm", {SCM: 40}).color == "Green" and measure("scm", {SCM: 40}, rules=OLD).color == "Yellow"
    assert measure("ci", metrics).color == "Green" and measure("ci", metrics, rules=OLD).color == "Yellow"


# ------------------------------------------------------------------------------------ empty vs zero

RATIO_INPUTS = [
    ("user_engagement", "last_activity_28_days_user"),
    ("scm", SCM),
    ("ci", "ci_builds_28_days_event_post_16_9"),
]


@pytest.mark.parametrize(("key", "column"), RATIO_INPUTS)
def test_empty_numerator_is_no_data_but_zero_is_red(key: str, column: str) -> None:
    empty = measure(key, {column: None})
    assert (empty.value, empty.score, empty.color) == (None, None, "No data")
    assert "not reported" in (empty.reason or "")
    zero = measure(key, {column: 0})
    assert (zero.value, zero.score, zero.color) == (0.0, 25, "Red")


@pytest.mark.parametrize("billable", [None, 0])
def test_empty_or_zero_billable_users(billable: int | None) -> None:
    metrics = {SCM: 5, "last_activity_28_days_user": 5, "deployments_28_days_user": 3, "deployments_28_days_event": 3}
    for key in ("user_engagement", "scm", "ci", "cd"):
        m = measure(key, metrics, billable=billable)
        assert m.color == "No data" and m.score is None, key
    lic = measure("license_utilization", metrics, billable=billable)
    if billable is None:
        assert lic.color == "No data" and lic.value is None
    else:
        assert (lic.value, lic.color) == (0.0, "Red")  # 0 of 200 seats used: a real 0


@pytest.mark.parametrize("license", [None, 0])
def test_rows_without_license_count_are_not_scored(license: int | None) -> None:
    r = row(license=license, metrics={SCM: 90})
    for m in score_row(r, sub(), SINCE, CURRENT).values():
        assert m.score is None and m.color in ("No data", "N/A")


def test_success_rate_empty_and_zero() -> None:
    s, f = "successful_deployments_28_days_event", "failed_deployments_28_days_event"
    subs = lambda metrics: {x.key: x for x in measure("cd", metrics).sub_scores}["success_rate"]  # noqa: E731
    assert subs({s: 0, f: 0}).color == "No data"
    assert subs({s: 5, f: None}).color == "No data"
    assert subs({s: None, f: 5}).color == "No data"
    assert subs({s: 0, f: 5}).color == "Red"


def test_security_scans_empty_and_zero() -> None:
    def subs(metrics: dict[str, float | None]) -> dict[str, str]:
        return {x.key: x.color for x in measure("security", metrics).sub_scores}

    assert subs({"ci_internal_pipelines_28_days_event": 10}) == {
        "scanner_users": "No data",
        "scans_per_pipeline": "No data",
        "scanner_types": "No data",
    }
    zero = subs({"sast_scans_28_days_event": 0, "ci_internal_pipelines_28_days_event": 10})
    assert zero["scans_per_pipeline"] == "Red" and zero["scanner_types"] == "Red"
    assert subs({"sast_scans_28_days_event": 5, "ci_internal_pipelines_28_days_event": 0})["scans_per_pipeline"] == (
        "No data"
    )
    assert subs({"sast_scans_28_days_event": 5})["scans_per_pipeline"] == "No data"


def test_scanner_counts_with_some_of_seven_missing() -> None:
    m = measure(
        "security",
        {
            "sast_scans_28_days_event": 20,
            "secret_detection_scans_28_days_event": 30,
            "dast_scans_28_days_event": None,
            "ci_internal_pipelines_28_days_event": 100,
            "user_unique_users_all_secure_scanners_28_days_user": 30,
        },
    )
    subs = {s.key: s for s in m.sub_scores}
    assert subs["scans_per_pipeline"].value == 0.5 and subs["scans_per_pipeline"].color == "Yellow"
    assert subs["scanner_types"].value == 2 and subs["scanner_types"].color == "Yellow"
    assert subs["scanner_users"].color == "Green"
    assert m.value == pytest.approx((63 + 63 + 88) / 3) and m.color == "Yellow"


def test_cd_with_a_missing_sub_score() -> None:
    m = measure("cd", {"deployments_28_days_user": 20, "deployments_28_days_event": 100})
    subs = {s.key: s.score for s in m.sub_scores}
    assert subs == {"deployment_users": 88, "deployments_per_user": 25, "success_rate": None}
    assert m.value == (88 + 25) / 2 and m.color == "Yellow"  # 56.5: the empty one is not counted as Red


def test_engagement_only_self_managed_and_security_only_ultimate() -> None:
    metrics = {"last_activity_28_days_user": 90, "user_unique_users_all_secure_scanners_28_days_user": 50}
    for deployment in ("GitLab.com", "Dedicated"):
        assert measure("user_engagement", metrics, deployment=deployment).color == "No data"
    assert measure("user_engagement", metrics).color == "Green"
    premium = measure("security", metrics, tier="Self-Managed - Premium")
    assert premium.color == "N/A" and premium.score is None
    assert measure("security", metrics).color == "Green"


def test_explanation_sentence() -> None:
    m = measure("scm", {SCM: 92}, billable=410, license=500)
    assert m.sentence == (
        "SCM is Yellow: 92 of 410 billable users did a Git operation in the last 28 days (22%); "
        "Green needs more than 33%"
    )
    assert m.band == "> 10% to ≤ 33%" and m.next_threshold == "Green needs more than 33%"
    assert [i.name for i in m.inputs] == [SCM, "billable_user_count"]
    green = measure("scm", {SCM: 50})
    assert green.next_threshold is None and green.sentence.startswith("SCM is Green")
