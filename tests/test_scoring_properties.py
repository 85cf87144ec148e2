"""Property tests: scores are only 25/63/88/empty, overall stays in [25, 88], empty measures change nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from support.scoring_helpers import MONTH, account, inst, row, sub

from scoring.measures import overall_of, score_row
from scoring.model import MEASURE_KEYS
from scoring.rollup import roll_up
from scoring.rules import load_rules

RULES = {name: load_rules(name) for name in ("gitlab-current", "gitlab-2024")}
COLUMNS = sorted(RULES["gitlab-current"].columns() | RULES["gitlab-2024"].columns())
METRICS = [c for c in COLUMNS if c not in ("billable_user_count", "license_user_count")]

maybe_count = st.one_of(st.none(), st.integers(0, 5000))
metric_value = st.one_of(st.none(), st.just(0.0), st.floats(0, 1e6, allow_nan=False))
metrics = st.dictionaries(st.sampled_from(METRICS), metric_value, max_size=len(METRICS))
tiers = st.sampled_from(["Self-Managed - Ultimate", "Self-Managed - Premium", "SaaS - Ultimate", "SaaS - Premium"])
deployments = st.sampled_from(["Self-Managed", "GitLab.com", "Dedicated"])
labels = st.sampled_from(["Production", "Production", "Unknown", "Non-Production"])
pings = st.one_of(st.none(), st.just(datetime(2026, 10, 3, tzinfo=UTC)), st.just(datetime(2026, 10, 27, tzinfo=UTC)))
since = st.one_of(st.none(), st.dates(date(2024, 1, 1), date(2026, 12, 1)))
rule_names = st.sampled_from(sorted(RULES))
scores = st.sampled_from([25, 63, 88, None])


def _valid(score: float | None, color: str) -> bool:
    if score is None:
        return color in ("No data", "N/A")
    return score in (25, 63, 88) and color in ("Red", "Yellow", "Green")


@settings(max_examples=300, deadline=None)
@given(metrics, maybe_count, maybe_count, tiers, deployments, since, rule_names)
def test_instance_scores_are_25_63_88_or_empty(m, billable, license, tier, deployment, since_, rules_name) -> None:  # type: ignore[no-untyped-def]
    rules = RULES[rules_name]
    r = row(billable=billable, license=license, metrics=m, deployment=deployment)
    measures = score_row(r, sub(tier=tier), since_, rules)
    for key, res in measures.items():
        assert _valid(res.score, res.color), (key, res)
        for s in res.sub_scores:
            assert _valid(s.score, s.color)
    overall = overall_of({k: x.score for k, x in measures.items()}, rules)
    assert overall.score is None or 25 <= overall.score <= 88


account_rows = st.lists(
    st.tuples(st.integers(1, 6), st.sampled_from(["S1", "S2", "S3"]), maybe_count, maybe_count, metrics, pings, labels),
    max_size=12,
)
arrs = st.one_of(st.none(), st.just(0.0), st.floats(1, 1e6, allow_nan=False))


@settings(max_examples=150, deadline=None)
@given(account_rows, st.tuples(arrs, arrs, arrs), st.tuples(tiers, tiers, tiers), since, rule_names, st.randoms())
def test_account_rollup_properties(rows_spec, arr3, tier3, since_, rules_name, rnd) -> None:  # type: ignore[no-untyped-def]
    rules = RULES[rules_name]
    subs = [
        sub(f"S{i + 1}", tier=tier3[i], arr=arr3[i], start=date(2025, 1 + i, 1), delivery="Self-Managed")
        for i in range(3)
    ]
    label_of: dict[int, str] = {}
    rows, seen = [], set()
    for inst_id, sub_id, billable, license, m, ping, label in rows_spec:
        if (inst_id, sub_id) in seen:
            continue  # one row per instance, subscription and month
        seen.add((inst_id, sub_id))
        label = label_of.setdefault(inst_id, label)
        rows.append(row(inst_id, sub_id, billable=billable, license=license, metrics=m, ping=ping, label=label))
    insts = {i: inst(i, label) for i, label in label_of.items()}
    acc = account(since=since_)
    am = roll_up(acc, subs, insts, rows, MONTH, rules)
    for key in MEASURE_KEYS:
        assert _valid(am.measures[key].score, am.measures[key].color), key
        used = am.measures[key].used
        if used:
            assert abs(sum(c.weight for c in used) - 1) < 1e-9
    assert am.overall.score is None or 25 - 1e-9 <= am.overall.score <= 88 + 1e-9
    assert am.reporting_share is None or 0 <= am.reporting_share <= 1
    # The order rows arrive in never changes the result (the primary choice is deterministic).
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    again = roll_up(acc, subs, insts, shuffled, MONTH, rules)
    assert {k: (m.value, m.color) for k, m in again.measures.items()} == {
        k: (m.value, m.color) for k, m in am.measures.items()
    }
    assert again.overall.score == am.overall.score


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({k: scores for k in MEASURE_KEYS}), st.sets(st.sampled_from(MEASURE_KEYS)), rule_names)
def test_adding_an_empty_measure_never_changes_overall(all_scores, dropped, rules_name) -> None:  # type: ignore[no-untyped-def]
    rules = RULES[rules_name]
    present = {k: v for k, v in all_scores.items() if k not in dropped}
    with_empty = {**present, **{k: None for k in dropped}}
    a, b = overall_of(present, rules), overall_of(with_empty, rules)
    assert a.score == b.score and a.color == b.color
    if a.score is not None:
        assert 25 <= a.score <= 88
        assert abs(sum(a.weights_used.values()) - 1) < 1e-9


@settings(max_examples=300, deadline=None)
@given(metrics, maybe_count, maybe_count, tiers, deployments, since, rule_names)
def test_fast_path_matches_explained_path(m, billable, license, tier, deployment, since_, rules_name) -> None:  # type: ignore[no-untyped-def]
    """Trends use the value-only path: it must give exactly the explained path's values and colours."""
    rules = RULES[rules_name]
    r = row(billable=billable, license=license, metrics=m, deployment=deployment)
    full = score_row(r, sub(tier=tier), since_, rules, explain=True)
    fast = score_row(r, sub(tier=tier), since_, rules, explain=False)
    for key in MEASURE_KEYS:
        assert (fast[key].value, fast[key].score, fast[key].color) == (
            full[key].value,
            full[key].score,
            full[key].color,
        )


@settings(max_examples=150, deadline=None)
@given(account_rows, st.tuples(arrs, arrs, arrs), st.tuples(tiers, tiers, tiers), since, rule_names)
def test_trend_rollup_matches_explained_rollup(rows_spec, arr3, tier3, since_, rules_name) -> None:  # type: ignore[no-untyped-def]
    """Trends roll up without explanations: same values, scores, colours, overall and share."""
    rules = RULES[rules_name]
    subs = [sub(f"S{i + 1}", tier=tier3[i], arr=arr3[i], start=date(2025, 1 + i, 1)) for i in range(3)]
    label_of: dict[int, str] = {}
    rows, seen = [], set()
    for inst_id, sub_id, billable, license, m, ping, label in rows_spec:
        if (inst_id, sub_id) not in seen:
            seen.add((inst_id, sub_id))
            label = label_of.setdefault(inst_id, label)
            rows.append(row(inst_id, sub_id, billable=billable, license=license, metrics=m, ping=ping, label=label))
    insts = {i: inst(i, label) for i, label in label_of.items()}
    full = roll_up(account(since=since_), subs, insts, rows, MONTH, rules)
    light = roll_up(account(since=since_), subs, insts, rows, MONTH, rules, with_instances=False)
    for key in MEASURE_KEYS:
        a, b = full.measures[key], light.measures[key]
        assert (a.value, a.score, a.color) == (b.value, b.score, b.color), key
    assert (full.overall.score, full.overall.color) == (light.overall.score, light.overall.color)
    assert full.reporting_share == light.reporting_share
    assert [(s.info.id, s.reporting, s.utilization) for s in full.subscriptions] == [
        (s.info.id, s.reporting, s.utilization) for s in light.subscriptions
    ]
