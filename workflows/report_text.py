"""The readable text form of an account report (`usagebot report ACCOUNT`): every colour with its reason."""

from __future__ import annotations

from scoring.model import MEASURE_KEYS, AccountMeasure, AccountReport
from scoring.rollup import describe_instance
from scoring.trends import sparkline
from workflows.wording import customer_for, pct, plural, seats_in_use, seats_pct, version_text


def _pct(v: float | None) -> str:
    return pct(v)


def _names(report: AccountReport) -> tuple[dict[str, str], dict[int, str]]:
    subs = {s.info.id: s.info.name for s in report.subscriptions}
    insts = {i.instance.id: describe_instance(i.instance, i.instance.id) for i in report.instances}
    return subs, insts


def _measure_lines(m: AccountMeasure, common: set[str], report: AccountReport) -> list[str]:
    subs, insts = _names(report)
    lines = [f"  • {m.sentence}"]
    if m.band:
        lines.append(f"      band: {m.band}")
    if m.formula:
        lines.append(f"      formula: {m.formula}")
    for s in m.sub_scores:
        lines.append(f"      - {s.sentence}")
    for c in m.used:
        sub_name = subs.get(c.subscription_id, c.subscription_id)
        inst_name = insts.get(c.instance_id, "?")
        lines.append(f"      used: {sub_name} via {inst_name}, weight {c.weight:.0%}")
        if c.sentence and len(m.used) > 1:
            lines.append(f"        {c.sentence}")
    for e in m.left_out:
        if e.reason not in common:
            lines.append(f"      left out: {e.reason}")
    return lines


def _change(points: float | None) -> str:
    """' (+2.8 points on last month)', one precision for every trend line (see `SparkRow.change_points`)."""
    if points is None:
        return ""
    if round(points, 1) == 0:
        return " (unchanged on last month)"
    return f" ({points:+.1f} points on last month)"


def format_report(report: AccountReport) -> str:
    acc = report.account
    out = [
        f"{acc.name} ({acc.id})" + (f" — TAM {acc.tam_name or acc.tam_email}" if acc.tam_email or acc.tam_name else ""),
        f"Month {report.month:%Y-%m} · data as of {report.as_of:%Y-%m}"
        if report.as_of
        else f"Month {report.month:%Y-%m}",
        f"Rules: {report.rules_name}"
        + (f" · {customer_for(report.customer_months)}" if report.customer_months is not None else ""),
        "",
    ]
    share = report.reporting_share
    overall = report.overall
    score = f" ({overall.shown})" if overall.shown else ""
    out.append(f"Product health: {overall.color}{score}")
    out.append(f"  {overall.sentence}")
    if share is not None:
        note = "" if share >= 1 else " — the score is built on part of the account only"
        out.append(f"  Reporting share: {_pct(share)}{note}")
    t = report.totals
    out.append(f"Seats in use: {seats_in_use(t.billable_users, t.seats, t.utilization)}")
    lu = report.measures["license_utilization"]
    if lu.shown:
        out.append(f"License utilization (health measure, ARR-weighted): {lu.color}, {lu.shown}")
    out.append("")
    out.append("Measures:")
    # What every measure left out (not Production, Opt-Out, not reporting…) is said once, below.
    reasons = [{e.reason for e in report.measures[k].left_out} for k in MEASURE_KEYS]
    common = set.intersection(*reasons) if reasons else set()
    for key in MEASURE_KEYS:
        out.extend(_measure_lines(report.measures[key], common, report))
    if common:
        out.append("  Left out of every measure:")
        out.extend(f"    - {r}" for r in sorted(common))
    out.append("")
    out.append("Subscriptions:")
    if not report.subscriptions:
        out.append("  (none active this month)")
    per_sub = report.trends.subscription_utilization
    _subs, insts = _names(report)
    for s in report.subscriptions:
        arr = "no ARR" if s.info.arr is None else f"ARR {s.info.arr:,.0f}"
        status = "reporting" if s.reporting else f"not reporting ({s.excluded_reason})"
        primary = insts.get(s.primary_instance_id, "—") if s.primary_instance_id is not None else "—"
        out.append(
            f"  {s.info.name} · {s.info.tier} · {arr} · seats in use "
            f"{seats_in_use(s.billable_users, s.info.licensed_seats, s.utilization)} · {status} · primary {primary}"
        )
        lic = s.license
        if lic is not None and lic.value is not None:
            series = per_sub.get(s.info.id, ())
            change = series[-1].change if series else None
            mom = "" if change is None else f"; seats in use {change * 100:+.1f} points on last month"
            band = f"band {lic.band}" if lic.band else (lic.reason or "")
            nxt = f"; {lic.next_threshold}" if lic.next_threshold else ""
            out.append(f"      license utilization (health measure): {lic.color} {lic.shown}, {band}{nxt}{mom}")
    out.append("")
    out.append(
        "Instances:"
        + (
            f" (newest version reported in {report.month:%Y-%m}: {report.newest_version})"
            if report.newest_version
            else ""
        )
    )
    for i in report.instances:
        name = describe_instance(i.instance, i.instance.id)
        ping = i.last_ping.strftime("%Y-%m-%d") if i.last_ping else "never"
        tag = "primary" if i.primary else (i.excluded_reason or "")
        billable = f"{i.billable_users:,}" if i.billable_users is not None else "n/a"
        out.append(
            f"  {name} · {i.instance.label} · {i.instance.deployment_type} · "
            f"{version_text(report, i.instance.id, i.version)} · last ping {ping} · "
            f"billable {billable} · {tag}"
        )
    out.append("")
    out.append("Flags:")
    if not report.flags:
        out.append("  none")
    for f in report.flags:
        out.append(f"  [{f.kind}] {f.message}")
    out.append("")
    months = report.trends.months
    out.append(f"Trends ({months[0]:%Y-%m} to {months[-1]:%Y-%m}, oldest first; · = no data):")
    for row in report.sparklines:
        now = (
            row.last.color
            if row.last is not None and row.key != "seats"
            else seats_pct(row.values[-1] if row.values else None)
        )
        delta = _change(row.change_points)
        out.append(f"  {row.label:<22} {row.line}  ({row.scale})  now {now}{delta}")
    out.extend(_adoption_lines(report))
    return "\n".join(out)


def _adoption_lines(report: AccountReport) -> list[str]:
    """User adoption (share of monthly active users, with its series) and each use case's features."""
    a = report.adoption
    if a is None:
        return []
    pooled = plural(len(a.instance_ids), "reporting primary instance")
    out = ["", f"User adoption ({pooled} pooled; sparklines 0–100%):"]
    for r in a.ratios.values():
        line = sparkline([p.value for p in r.series], 1.0)
        out.append(f"  {r.label:<22} {line}  {r.sentence.split(': ', 1)[-1]}")
    out.append("Features in use:")
    for uc in a.use_cases.values():
        states = ", ".join(f"{f.label} ({f.state_words})" for f in uc.features)
        out.append(f"  {uc.label}: {states}")
    return out
