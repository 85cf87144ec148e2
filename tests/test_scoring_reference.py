"""The engine against a second, deliberately plain implementation written straight from docs/scoring.md.

The reference below hard-codes the gitlab-current thresholds (the engine reads them from the rules
file) and shares no code with `scoring/`: agreeing on random accounts is evidence both read the spec alike.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from support.scoring_helpers import MONTH, account, inst, row, sub

from scoring.rollup import roll_up
from scoring.rules import load_rules

RULES = load_rules("gitlab-current")
SCORE = {"Red": 25, "Yellow": 63, "Green": 88}
SCANS = [
    f"{x}_scans_28_days_event"
    for x in ("sast", "dast", "dependency_scanning", "container_scanning", "secret_detection", "coverage_fuzzing")
] + ["api_fuzzing_scans_28_days_event"]
WEIGHTS = {"license_utilization": 0.3, "user_engagement": 0.1, "scm": 0.15, "ci": 0.15, "cd": 0.15, "security": 0.15}


def ratio(n, d):  # type: ignore[no-untyped-def]
    return None if n is None or d is None or d == 0 else n / d


def months(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def license_color(v, age):  # type: ignore[no-untyped-def]
    if v is None or age is None or age < 3:
        return None
    if age <= 6:
        return "Red" if v <= 0.10 else "Yellow" if v <= 0.50 else "Green"
    if age <= 9:
        return "Red" if v <= 0.50 else "Yellow" if v <= 0.75 else "Green"
    return "Red" if v <= 0.75 else "Green"


def mean_color(v):  # type: ignore[no-untyped-def]
    return None if v is None else "Red" if v <= 50 else "Yellow" if v <= 75 else "Green"


COLOR = {
    "user_engagement": lambda v: "Red" if v < 0.5 else "Yellow" if v < 0.8 else "Green",
    "scm": lambda v: "Red" if v <= 0.10 else "Yellow" if v <= 0.33 else "Green",
    "ci": lambda v: "Red" if v <= 2 else "Yellow" if v <= 40 else "Green",
    "cd": mean_color,
    "security": mean_color,
}


def instance_values(r, tier: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    """Per instance-month values (ratio, or mean sub-score for CD and Security)."""
    m = r.metrics.get
    b = r.billable_user_count
    out = {k: None for k in WEIGHTS}
    if not r.license_user_count:
        return out
    out["license_utilization"] = ratio(b, r.license_user_count)
    if r.deployment_type == "Self-Managed":
        out["user_engagement"] = ratio(m("last_activity_28_days_user"), b)
    out["scm"] = ratio(m("action_monthly_active_users_project_repo_28_days_user"), b)
    builds = m("ci_builds_28_days_event_post_16_9")
    out["ci"] = ratio(builds if builds is not None else m("ci_builds_28_days_event"), b)
    subs = []
    du = ratio(m("deployments_28_days_user"), b)
    if du is not None:
        subs.append(SCORE["Red" if du < 0.05 else "Yellow" if du <= 0.12 else "Green"])
    dpu = ratio(m("deployments_28_days_event"), b)
    if dpu is not None:
        subs.append(SCORE["Red" if dpu < 2 else "Yellow" if dpu <= 7 else "Green"])
    ok, bad = m("successful_deployments_28_days_event"), m("failed_deployments_28_days_event")
    sr = None if ok is None or bad is None else ratio(ok, ok + bad)
    if sr is not None:
        subs.append(SCORE["Red" if sr < 0.25 else "Yellow" if sr <= 0.80 else "Green"])
    out["cd"] = sum(subs) / len(subs) if subs else None
    if "Ultimate" in tier:
        subs = []
        su = ratio(m("user_unique_users_all_secure_scanners_28_days_user"), b)
        if su is not None:
            subs.append(SCORE["Red" if su <= 0.05 else "Yellow" if su < 0.20 else "Green"])
        reported = [m(c) for c in SCANS if m(c) is not None]
        spp = ratio(sum(reported), m("ci_internal_pipelines_28_days_event")) if reported else None
        if spp is not None:
            subs.append(SCORE["Red" if spp < 0.1 else "Yellow" if spp <= 0.5 else "Green"])
        if reported:
            n = sum(1 for v in reported if v > 0)
            subs.append(SCORE["Red" if n <= 1 else "Yellow" if n == 2 else "Green"])
        out["security"] = sum(subs) / len(subs) if subs else None
    return out


def reference_rollup(acc, subs, rows, month):  # type: ignore[no-untyped-def]
    last = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    active = [s for s in subs if s.start_date < last and (s.end_date is None or s.end_date >= month)]
    by_id = {s.id: s for s in active}
    groups: dict = {}  # type: ignore[type-arg]
    for r in rows:
        if r.snapshot_month != month or r.subscription_id not in by_id:
            continue
        if r.label != "Production" or r.opt_out or not r.license_user_count:
            continue
        groups.setdefault((r.subscription_id, r.delivery_type), []).append(r)
    primaries = []
    for (sid, _), rs in groups.items():
        rs.sort(key=lambda r: r.instance_id)
        rs.sort(key=lambda r: -(r.ping_created_at.timestamp()) if r.ping_created_at else float("inf"))
        rs.sort(key=lambda r: -r.billable_user_count if r.billable_user_count is not None else float("inf"))
        ping = rs[0].ping_created_at
        primaries.append((by_id[sid], rs[0], ping is not None and month <= ping.date() < last))
    since = acc.customer_since_date or min((s.start_date for s in subs), default=None)
    age = months(since, month) if since else None
    values, colors = {}, {}
    for key in WEIGHTS:
        pairs = []
        for s, r, reporting in primaries:
            if not reporting:
                continue
            v = instance_values(r, s.tier)[key]
            if v is not None:
                pairs.append((s.arr or 0.0, v))
        if not pairs:
            values[key] = None
        elif sum(w for w, _ in pairs) > 0:
            values[key] = sum(w * v for w, v in pairs) / sum(w for w, _ in pairs)
        else:
            values[key] = sum(v for _, v in pairs) / len(pairs)
        v = values[key]
        colors[key] = (
            license_color(v, age) if key == "license_utilization" else (COLOR[key](v) if v is not None else None)
        )
    if not any("Ultimate" in s.tier for s in active):
        colors["security"] = "N/A"
    scored = {k: SCORE[c] for k, c in colors.items() if c in SCORE}
    total = sum(WEIGHTS[k] for k in scored)
    overall = sum(WEIGHTS[k] * v for k, v in scored.items()) / total if scored else None
    reporting_ids = {s.id for s, _, rep in primaries if rep}
    arr_total = sum(s.arr or 0.0 for s in active)
    if not active:
        share = None
    elif arr_total > 0:
        share = sum(s.arr or 0.0 for s in active if s.id in reporting_ids) / arr_total
    else:
        share = len(reporting_ids) / len(active)
    return values, colors, overall, share


maybe_count = st.one_of(st.none(), st.integers(0, 3000))
value = st.one_of(st.none(), st.just(0.0), st.integers(0, 5000).map(float), st.floats(0, 5000, allow_nan=False))
COLUMNS = sorted(c for c in RULES.columns() if c not in ("billable_user_count", "license_user_count"))
metric_dicts = st.dictionaries(st.sampled_from(COLUMNS), value, max_size=len(COLUMNS))
pings = st.sampled_from(
    [
        None,
        datetime(2026, 10, 2, tzinfo=UTC),
        datetime(2026, 10, 29, tzinfo=UTC),
        datetime(2026, 9, 29, tzinfo=UTC),  # an older ping: not this month's
        datetime(2026, 11, 1, 0, 30, tzinfo=UTC),  # the next month's: not this month's either
    ]
)
specs = st.lists(
    st.tuples(
        st.integers(1, 5),
        st.sampled_from(["S1", "S2", "S3"]),
        maybe_count,
        maybe_count,
        metric_dicts,
        pings,
        st.sampled_from(["Production", "Production", "Unknown"]),
        st.booleans(),
        st.sampled_from(["Self-Managed", "GitLab.com", "Dedicated"]),
    ),
    max_size=10,
)
sub_specs = st.tuples(
    st.sampled_from(["Self-Managed - Ultimate", "Self-Managed - Premium", "SaaS - Ultimate"]),
    st.one_of(st.none(), st.just(0.0), st.floats(1, 1e6, allow_nan=False)),
    st.dates(date(2025, 1, 1), date(2026, 11, 30)),
    st.one_of(st.none(), st.dates(date(2026, 9, 1), date(2027, 12, 31))),
)


@settings(max_examples=400, deadline=None)
@given(
    specs,
    st.tuples(sub_specs, sub_specs, sub_specs),
    st.one_of(st.none(), st.dates(date(2024, 1, 1), date(2026, 10, 31))),
)
def test_engine_matches_reference(rows_spec, subs_spec, since) -> None:  # type: ignore[no-untyped-def]
    subs = [sub(f"S{i + 1}", tier=t, arr=a, start=start, end=end) for i, (t, a, start, end) in enumerate(subs_spec)]
    labels: dict[int, tuple[str, str]] = {}
    rows, seen = [], set()
    for iid, sid, billable, license, metrics, ping, label, opt_out, deployment in rows_spec:
        if (iid, sid) in seen:
            continue
        seen.add((iid, sid))
        label, deployment = labels.setdefault(iid, (label, deployment))
        rows.append(
            row(iid, sid, billable, license, metrics, ping=ping, label=label, opt_out=opt_out, deployment=deployment)
        )
    insts = {i: inst(i, label, deployment) for i, (label, deployment) in labels.items()}
    acc = account(since=since)
    am = roll_up(acc, subs, insts, rows, MONTH, RULES)
    values, colors, overall, share = reference_rollup(acc, subs, rows, MONTH)
    for key in WEIGHTS:
        got = am.measures[key]
        want = values[key]
        if want is None:
            assert got.value is None, key
        else:
            assert got.value is not None and abs(got.value - want) <= 1e-9 * max(1.0, abs(want)), key
        assert got.color == (colors[key] or "No data"), (key, got.color, colors[key])
    if overall is None:
        assert am.overall.score is None
    else:
        assert abs(am.overall.score - overall) <= 1e-9 * overall
    assert share == am.reporting_share or abs(share - am.reporting_share) < 1e-12
