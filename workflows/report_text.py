"""The readable text form of an account report (`usagebot report ACCOUNT`): every colour with its reason."""

from __future__ import annotations

from scoring.bands import fmt_value
from scoring.model import MEASURE_KEYS, AccountMeasure, AccountReport, TrendPoint

_SPARK = "▁▂▃▄▅▆▇█"


def sparkline(points: tuple[TrendPoint, ...]) -> str:
    values = [p.value for p in points]
    known = [v for v in values if v is not None]
    if not known:
        return "·" * len(values)
    lo, hi = min(known), max(known)
    span = hi - lo or 1.0
    return "".join("·" if v is None else _SPARK[int((v - lo) / span * (len(_SPARK) - 1))] for v in values)


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0%}"


def _names(report: AccountReport) -> tuple[dict[str, str], dict[int, str]]:
    subs = {s.info.id: s.info.name for s in report.subscriptions}
    insts = {
        i.instance.id: i.instance.hostname or i.instance.namespace_name or i.instance.identity for i in report.instances
    }
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
        inst_name = insts.get(c.instance_id, str(c.instance_id))
        lines.append(f"      used: {sub_name} via {inst_name}, weight {c.weight:.0%}")
        if c.sentence and len(m.used) > 1:
            lines.append(f"        {c.sentence}")
    for e in m.left_out:
        if e.reason not in common:
            lines.append(f"      left out: {e.reason}")
    return lines


def _change(key: str, change: float | None) -> str:
    if change is None:
        return ""
    if key in ("license_utilization", "user_engagement", "scm"):
        return f" ({change * 100:+.1f} points on last month)"
    return f" ({change:+.3g} on last month)"


def format_report(report: AccountReport) -> str:
    acc = report.account
    out = [
        f"{acc.name} ({acc.id})" + (f" — TAM {acc.tam_name or acc.tam_email}" if acc.tam_email or acc.tam_name else ""),
        f"Month {report.month:%Y-%m} · data as of {report.as_of:%Y-%m}"
        if report.as_of
        else f"Month {report.month:%Y-%m}",
        f"Rules: {report.rules_name}",
        "",
    ]
    share = report.reporting_share
    overall = report.overall
    score = "" if overall.score is None else f" ({fmt_value(overall.score, 'number')})"
    out.append(f"Product health: {overall.color}{score}")
    out.append(f"  {overall.sentence}")
    if share is not None:
        note = "" if share >= 1 else " — the score is built on part of the account only"
        out.append(f"  Reporting share: {_pct(share)}{note}")
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
    for s in report.subscriptions:
        arr = "no ARR" if s.info.arr is None else f"ARR {s.info.arr:,.0f}"
        status = "reporting" if s.reporting else f"not reporting ({s.excluded_reason})"
        out.append(
            f"  {s.info.name} · {s.info.tier} · {s.info.licensed_seats:,} seats · {arr} · "
            f"billable {s.billable_users if s.billable_users is not None else 'n/a'} · "
            f"utilization {_pct(s.utilization)} · {status} · primary {s.primary_instance_id or '—'}"
        )
        lic = s.license
        if lic is not None and lic.value is not None:
            series = per_sub.get(s.info.id, ())
            change = series[-1].change if series else None
            mom = "" if change is None else f"; {change * 100:+.1f} points on last month"
            band = f"band {lic.band}" if lic.band else (lic.reason or "")
            nxt = f"; {lic.next_threshold}" if lic.next_threshold else ""
            out.append(f"      month {s.months_since_start} as a customer: {lic.color}, {band}{nxt}{mom}")
    out.append("")
    out.append("Instances:")
    for i in report.instances:
        name = i.instance.hostname or i.instance.namespace_name or i.instance.namespace_id or i.instance.identity
        ping = i.last_ping.strftime("%Y-%m-%d") if i.last_ping else "never"
        tag = "primary" if i.primary else (i.excluded_reason or "")
        billable = i.billable_users if i.billable_users is not None else "n/a"
        out.append(
            f"  [{i.instance.id}] {name} · {i.instance.label} · {i.instance.deployment_type} · "
            f"v{i.version or '?'} · last ping {ping} · billable {billable} · {tag}"
        )
    out.append("")
    out.append("Flags:")
    if not report.flags:
        out.append("  none")
    for f in report.flags:
        out.append(f"  [{f.kind}] {f.message}")
    out.append("")
    t = report.trends
    out.append(f"Trends ({t.months[0]:%Y-%m} to {t.months[-1]:%Y-%m}):")
    out.append(f"  {'Utilization':<22} {sparkline(t.utilization)}  now {_pct(t.utilization[-1].value)}")
    for key in MEASURE_KEYS:
        series = t.measures[key]
        last = series[-1]
        label = report.measures[key].label
        out.append(f"  {label:<22} {sparkline(series)}  now {last.color}{_change(key, last.change)}")
    out.append(f"  {'Product health':<22} {sparkline(t.overall)}  now {t.overall[-1].color}")
    out.extend(_adoption_lines(report))
    return "\n".join(out)


def _adoption_lines(report: AccountReport) -> list[str]:
    """User adoption (share of monthly active users, with its series) and each use case's features."""
    a = report.adoption
    if a is None:
        return []
    out = ["", f"User adoption ({len(a.instance_ids)} reporting primary instance(s) pooled):"]
    for r in a.ratios.values():
        points = tuple(TrendPoint(p.month, p.value, None, "No data", None) for p in r.series)
        out.append(f"  {r.label:<22} {sparkline(points)}  {r.sentence.split(': ', 1)[-1]}")
    out.append("Features in use:")
    for uc in a.use_cases.values():
        states = ", ".join(f"{f.label} ({f.state_words})" for f in uc.features)
        out.append(f"  {uc.label}: {states}")
    return out
