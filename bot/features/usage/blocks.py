"""`/usage` answers as Block Kit: pure functions from the scoring engine's `AccountReport` to an `Answer`.

No scores are computed here: every colour, band and sentence comes from `scoring/` via `workflows.report`.
Every answer names the account, the "data as of" month, and the reporting share when below 100%, and
goes through `fit_to_limits`, so it is always within Slack's limits (see `bot/blocks/limits.py`).
Buttons and their values: `bot/blocks/ids.py`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.blocks import ids
from bot.blocks.format import (
    actions,
    button,
    color_text,
    context,
    day,
    divider,
    escape,
    fields_section,
    header,
    number,
    pct,
    plural,
    seats_text,
    section,
    sparkline,
    ym,
)
from bot.blocks.limits import Block, clip, fit_to_limits, pack_lines, summarize
from scoring.adoption import AdoptionRatio, FeatureUse
from scoring.adoption_flags import EXEMPTION, NOT_SHARED_ACTION, SUBSCRIPTION_DATA_ONLY
from scoring.flags import version_key
from scoring.model import MEASURE_KEYS, AccountMeasure, AccountReport, InstanceMonth, MeasureResult
from workflows.wording import customer_for, seats_pct, version_text

PURCHASE_INTENT = "purchase_intent"
NOT_SHARED = "operational_metrics_not_shared"

VIEW_TITLES: dict[str, str] = {
    "summary": "Summary",
    "utilization": "Utilization",
    "health": "Health",
    "adoption": "Adoption",
    "instances": "Instances",
    "versions": "Versions",
    "trends": "Trends",
}
USE_CASES: tuple[str, ...] = ("scm", "ci", "cd", "security")
MAX_RELABEL_ROWS = 15  # Unknown instances shown with buttons (2 blocks each); the digest lists the rest


@dataclass(frozen=True)
class Answer:
    """What a person sees: the notification text and the blocks (already within Slack's limits)."""

    text: str
    blocks: list[Block]
    # Draws the PNG to upload next to the answer (trends); called after the answer is shown, as drawing is slow.
    chart: Callable[[], bytes] | None = None
    ok: bool = True  # False for refusals and "not found": nothing to share


@dataclass(frozen=True)
class ViewOptions:
    """Facts about the viewer and the data the renderer needs but must not look up itself."""

    may_relabel: bool = False  # the account's TAM or a CS Ops admin
    label_versions: Mapping[int, int] = field(default_factory=dict)  # instance id -> Instance.label_version
    interactive: bool = True  # False for a shared copy: no buttons
    shared_by: str | None = None  # Slack user id of the person who shared it


# ---------------------------------------------------------------------------------------------- pieces


def _heading(report: AccountReport, view: str, opts: ViewOptions) -> list[Block]:
    acc = report.account
    title = f"{acc.name} · {VIEW_TITLES.get(view, view.title())}"
    bits = [f"Data as of *{ym(report.as_of or report.month)}*"]
    if report.month != report.as_of and report.as_of is not None:
        bits.append(f"month shown {ym(report.month)}")
    if acc.tam_name or acc.tam_email:
        bits.append(f"TAM {escape(acc.tam_name or acc.tam_email)}")
    bits.append(f"account id `{escape(acc.id)}`")
    share = report.reporting_share
    if share is not None and share < 1:
        bits.append(f":warning: reporting share {pct(share)}: scores cover only the reporting part of the account")
    if opts.shared_by:
        bits.append(f"shared by <@{opts.shared_by}>")
    return [header(clip(title, 150)), context(" · ".join(bits))]


def _footer(report: AccountReport, view: str, opts: ViewOptions) -> list[Block]:
    if not opts.interactive:
        return []
    acc_id = report.account.id
    nav = [
        button(title, ids.view_action(v), ids.encode_value(a=acc_id))
        for v, title in VIEW_TITLES.items()
        if v != view and v != "versions"
    ]
    more = [
        button("Share to channel", ids.SHARE_ACTION, ids.encode_value(a=acc_id, v=view)),
        button("Report a data issue", ids.REPORT_ISSUE_ACTION, ids.encode_value(a=acc_id, v=view)),
        button("Request a metric", ids.REQUEST_METRIC_ACTION, ids.encode_value(a=acc_id)),
    ]
    return [actions(nav, block_id="usage_nav"), actions(more, block_id="usage_more")]


def _finish(report: AccountReport, view: str, body: list[Block], opts: ViewOptions, summary: str) -> Answer:
    """The answer; its fallback text (notifications, Share) is "<account name>: <summary>", the name escaped."""
    blocks = fit_to_limits([*_heading(report, view, opts), *body], footer=_footer(report, view, opts))
    return Answer(text=clip(f"{escape(report.account.name)}: {summary}", 3000), blocks=blocks)


def _measure_short(m: MeasureResult) -> str:
    score = "" if m.score is None else f" ({m.score})"
    return f"{color_text(m.color)}{score}"


def _sub_names(report: AccountReport) -> dict[str, str]:
    return {s.info.id: s.info.name for s in report.subscriptions}


def _inst_names(report: AccountReport) -> dict[int, str]:
    return {i.instance.id: i.instance.display_name for i in report.instances}


# ---------------------------------------------------------------------------------------------- views


def _health_text(report: AccountReport) -> str:
    overall = report.overall
    return color_text(overall.color) + (f" ({overall.shown})" if overall.shown else "")


def _license_measure_text(m: MeasureResult) -> str:
    """The health measure, named for what it is: colour and the ARR-weighted value it came from."""
    return color_text(m.color) + (f" · {m.shown} ARR-weighted" if m.shown else "")


def _seats_line(report: AccountReport) -> str:
    t = report.totals
    return seats_text(t.billable_users, t.seats, t.utilization)


def _spark(report: AccountReport, key: str) -> str:
    row = next((r for r in report.sparklines if r.key == key), None)
    return "" if row is None else f"`{row.line}` 12 months ({row.scale})"


def render_summary(report: AccountReport, opts: ViewOptions = ViewOptions()) -> Answer:
    lu = report.measures["license_utilization"]
    overall = report.overall
    body: list[Block] = [
        fields_section(
            [
                f"*Product health*\n{_health_text(report)}",
                f"*Seats in use*\n{_seats_line(report)}\n{_spark(report, 'seats')}",
                f"*License utilization* (health measure)\n{_license_measure_text(lu)}",
                "*Use cases*\n"
                + " · ".join(f"{report.measures[k].label} {color_text(report.measures[k].color)}" for k in USE_CASES),
                f"*User engagement*\n{color_text(report.measures['user_engagement'].color)}",
                f"*Age*\n{customer_for(report.customer_months)}",
            ]
        )
    ]
    subs = [
        f"• *{escape(s.info.name)}* · {escape(s.info.tier)} · {plural(s.info.licensed_seats, 'seat')} · "
        f"{s.info.start_date:%Y-%m-%d} to {s.info.end_date.strftime('%Y-%m-%d') if s.info.end_date else 'open'}"
        + ("" if s.reporting else f" · :warning: not reporting ({escape(s.excluded_reason or 'no usage data')})")
        for s in report.subscriptions
    ]
    body.append(section("*Subscriptions*\n" + ("\n".join(summarize(subs, 8)) if subs else "_none active this month_")))
    types = Counter(i.instance.label for i in report.instances)
    type_line = " · ".join(f"{label} {n:,}" for label, n in sorted(types.items())) or "none seen"
    unknown = types.get("Unknown", 0)
    nudge = (
        f"\n:mag: {unknown:,} Unknown: tell us what they are in `/usage {escape(report.account.name)} instances`"
        if unknown
        else ""
    )
    pings = [i.last_ping for i in report.instances if i.last_ping is not None]
    last = max(pings) if pings else None
    not_reporting = sum(1 for s in report.subscriptions if not s.reporting)
    status = f"last ping {day(last)}" + (
        f" · {plural(not_reporting, 'subscription')} not reporting" if not_reporting else ""
    )
    body.append(section(f"*Instances*: {type_line}{nudge}\n*Reporting*: {status}"))
    adoption = _adoption_line(report)
    if adoption:
        body.append(section(adoption))
    body += _intent_blocks(report)
    others = [f for f in report.flags if f.kind != PURCHASE_INTENT]
    if others:
        flags = [f"• :triangular_flag_on_post: {escape(f.message)}" for f in others]
        body.append(section("*Flags*\n" + "\n".join(summarize(flags, 8, "more flags"))))
    text = f"product health {overall.color}, seats in use {_seats_line(report)}, license utilization {lu.color}"
    return _finish(report, "summary", body, opts, text)


def render_utilization(report: AccountReport, opts: ViewOptions = ViewOptions()) -> Answer:
    lu = report.measures["license_utilization"]
    change = report.trends.utilization[-1].change if report.trends.utilization else None
    mom = "" if change is None else f" · month over month {change * 100:+.1f} points"
    body: list[Block] = [
        section(
            f"*Seats in use*: {_seats_line(report)}{mom} · {customer_for(report.customer_months)}\n"
            f"*License utilization* (health measure): {_license_measure_text(lu)}\n"
            f"{escape(lu.sentence)}"
            + (f"\nBand: {escape(lu.band)}" if lu.band else "")
            + (f" · next: {escape(lu.next_threshold)}" if lu.next_threshold else "")
        )
    ]
    names = _inst_names(report)
    lines: list[str] = []
    for s in report.subscriptions:
        m = s.license
        line = (
            f"• *{escape(s.info.name)}* ({escape(s.info.tier)}): seats in use "
            f"{seats_text(s.billable_users, s.info.licensed_seats, s.utilization)}"
        )
        if s.primary_instance_id is not None:
            line += f" · primary {escape(names.get(s.primary_instance_id, '?'))}"
        if m is not None and m.color in ("Red", "Yellow", "Green"):
            line += f"\n    license utilization (health measure): {color_text(m.color)} {m.shown}"
            line += f" · band {escape(m.band)}" if m.band else ""
            if m.next_threshold:
                line += f" · {escape(m.next_threshold)}"
        if not s.reporting:
            line += f"\n    :warning: not reporting: {escape(s.excluded_reason or 'no usage data this month')}"
        lines.append(line)
    if not lines:
        lines = ["_No subscription is active this month._"]
    body += [section(t) for t in pack_lines(["*Subscriptions*", *lines])]
    return _finish(report, "utilization", body, opts, f"seats in use {_seats_line(report)}")


def _inputs(inputs: Sequence[Any]) -> str:
    seen: dict[str, str] = {}
    for v in inputs:
        seen.setdefault(v.name, f"`{escape(v.name)}` = {number(v.value)}")
    return ", ".join(seen.values())


def _measure_block(
    m: AccountMeasure,
    subs: Mapping[str, str],
    insts: Mapping[int, str],
    by_id: Mapping[int, InstanceMonth],
    common: set[str] = frozenset(),  # type: ignore[assignment]
    no_data_note: str = "",
) -> list[str]:
    lines = [f"*{escape(m.label)}*: {_measure_short(m)}", escape(m.sentence)]
    if m.inputs:
        lines.append("Inputs: " + _inputs(m.inputs))
    if m.formula:
        lines.append(f"Formula: `{escape(m.formula)}`")
    if m.band:
        lines.append(f"Band: {escape(m.band)}")
    if m.next_threshold:
        lines.append(f"Next: {escape(m.next_threshold)}")
    for s in m.sub_scores:
        lines.append(f"  ◦ {escape(s.sentence)}")
    # The metric values behind the colour: each primary instance that fed it, with its own inputs.
    shown: list[str] = []
    for iid in dict.fromkeys(c.instance_id for c in m.used):
        inst = by_id.get(iid)
        im = inst.measures.get(m.key) if inst is not None else None
        if im is None:
            continue
        entry = f"  ◦ _{escape(insts.get(iid, str(iid)))}_: {escape(im.sentence)}"
        if im.sub_scores:
            entry += "".join(f"\n      – {escape(ss.sentence)}" for ss in im.sub_scores)
        elif im.inputs:
            entry += f"\n      {_inputs(im.inputs)}"
        shown.append(entry)
    lines += summarize(shown, 4, "more instances")
    used = [
        f"{escape(subs.get(c.subscription_id, c.subscription_id))}"
        f" via {escape(insts.get(c.instance_id, str(c.instance_id)))} ({pct(c.weight)})"
        for c in m.used
    ]
    if used:
        weights = " (equal weights: no ARR)" if m.equal_weights else " (weighted by ARR)"
        lines.append("Used" + weights + ": " + "; ".join(summarize(used, 6)))
    left = [escape(e.reason) for e in m.left_out if e.reason not in common]
    if left:
        lines.append("Also left out: " + "; ".join(summarize(left, 6)))
    if m.reason and m.score is None:
        lines.append(f"No score: {no_data_note or escape(m.reason)}")
    return lines


def _not_shared_lines(report: AccountReport) -> list[str]:
    """Why use-case measures are empty when instances share Subscription Data only (instead of "No data")."""
    flags = [f for f in report.flags if f.kind == NOT_SHARED]
    if not flags:
        return []
    insts = _inst_names(report)
    whys = [
        f"• *{escape(insts.get(f.instance_id or 0, str(f.instance_id)))}*: {escape(', '.join(f.details))}"
        for f in flags
    ]
    return [
        ":information_source: *Why some measures have no data*",
        *summarize(whys, 6, "more instances"),
        f"The customer shares {escape(SUBSCRIPTION_DATA_ONLY)} for these instances. {escape(EXEMPTION)}",
        f"*What you can do*: {escape(NOT_SHARED_ACTION)}",
    ]


def render_health(report: AccountReport, opts: ViewOptions = ViewOptions()) -> Answer:
    overall = report.overall
    # What every measure left out (not Production, Opt-Out…) is said once, here, not under each measure.
    reasons = [{e.reason for e in report.measures[k].left_out} for k in MEASURE_KEYS]
    common = set.intersection(*reasons) if reasons else set()
    head = f"*Product health*: {_health_text(report)}\n{escape(overall.sentence)}\nRules: `{escape(report.rules_name)}`"
    if common:
        head += "\nLeft out of every measure: " + "; ".join(summarize([escape(r) for r in sorted(common)], 8))
    body: list[Block] = [section(head), divider()]
    not_shared = _not_shared_lines(report)
    if not_shared:
        body += [*(section(t) for t in pack_lines(not_shared)), divider()]
    subs, insts = _sub_names(report), _inst_names(report)
    by_id = {i.instance.id: i for i in report.instances}
    for key in MEASURE_KEYS:
        m = report.measures[key]
        note = f"the customer shares {SUBSCRIPTION_DATA_ONLY} for some Production instances (see above)"
        lines = _measure_block(m, subs, insts, by_id, common, escape(note) if not_shared else "")
        body += [section(t) for t in pack_lines(lines)]
    return _finish(report, "health", body, opts, f"product health {overall.color}")


def _instance_line(i: InstanceMonth, report: AccountReport) -> str:
    inst = i.instance
    where = inst.display_name
    version = version_text(report, inst.id, i.version)
    tag = " · *primary*" if i.primary else ""
    return (
        f"• *{escape(where)}* · {escape(inst.label)} · {escape(inst.deployment_type)} · {escape(version)}"
        f" · last ping {day(i.last_ping)} · {number(i.billable_users)} billable{tag}"
    )


def _newest_note(report: AccountReport) -> str:
    return f"Newest version reported by any instance in {ym(report.month)}: *{escape(report.newest_version)}*"


def _relabel_buttons(i: InstanceMonth, report: AccountReport, opts: ViewOptions) -> Block:
    value = ids.encode_value(
        i=i.instance.id,
        f=i.instance.label,
        n=opts.label_versions.get(i.instance.id),
        a=report.account.id,
        o="usage",
    )
    return actions(
        [button(label, ids.relabel_action(label), value) for label in ids.relabel_targets(i.instance.deployment_type)],
        block_id=f"relabel:{i.instance.id}",
    )


def render_instances(report: AccountReport, opts: ViewOptions = ViewOptions()) -> Answer:
    known = [i for i in report.instances if i.instance.label != "Unknown"]
    unknown = [i for i in report.instances if i.instance.label == "Unknown"]
    body: list[Block] = []
    if report.newest_version:
        body.append(context(_newest_note(report)))
    if not report.instances:
        body.append(section("_No instance or namespace has reported in the last 12 months._"))
    lines = [_instance_line(i, report) for i in known]
    if lines:
        body += [section(t) for t in pack_lines([f"*Instances and namespaces* ({len(known)})", *lines])]
    if unknown:
        intro = f"*Unknown* ({len(unknown)}): what are they?"
        if opts.may_relabel and opts.interactive:
            body.append(section(intro))
            for i in unknown[:MAX_RELABEL_ROWS]:
                body.append(section(_instance_line(i, report)))
                body.append(_relabel_buttons(i, report, opts))
            if len(unknown) > MAX_RELABEL_ROWS:
                rest = len(unknown) - MAX_RELABEL_ROWS
                body.append(context(f"_…and {rest} more Unknown: relabel these first, or use your monthly digest_"))
        else:
            note = "" if not opts.interactive else "_Only the account's TAM or CS Operations can relabel these._"
            body += [section(t) for t in pack_lines([intro, *[_instance_line(i, report) for i in unknown]])]
            if note:
                body.append(context(note))
    return _finish(report, "instances", body, opts, f"{len(report.instances)} instances")


def render_versions(report: AccountReport, opts: ViewOptions = ViewOptions()) -> Answer:
    sm = [i for i in report.instances if i.instance.delivery_type == "Self-Managed" or i.instance.hostname]
    # Oldest first, compared as versions (17.2.1 before 17.2.3 before 17.10.0), then by name.
    sm.sort(key=lambda i: (version_key(i.version), i.instance.display_name.casefold()))
    lines = [_instance_line(i, report) for i in sm] or ["_No self-managed instance has reported._"]
    body = [section(t) for t in pack_lines([f"*Self-managed instances, oldest version first* ({len(sm):,})", *lines])]
    if report.newest_version:
        body.insert(0, context(_newest_note(report)))
    return _finish(report, "versions", body, opts, f"versions of {plural(len(sm), 'instance')}")


def render_trends(
    report: AccountReport, opts: ViewOptions = ViewOptions(), chart: Callable[[], bytes] | None = None
) -> Answer:
    t = report.trends
    rows: list[tuple[str, str, str, str]] = []
    for r in report.sparklines:
        if r.key in ("license_utilization", "user_engagement"):
            continue  # the summary's four use cases, seats in use and product health
        if r.key == "seats":
            now = seats_pct(r.values[-1] if r.values else None)
        else:
            now = color_text(r.last.color) if r.last is not None else "n/a"
        rows.append((r.label, r.line, r.scale, now))
    width = max(len(r[0]) for r in rows)
    scale_w = max(len(r[2]) for r in rows)
    table = "\n".join(f"{name:<{width}}  {spark}  {scale:<{scale_w}}  now {now}" for name, spark, scale, now in rows)
    span = f"{ym(t.months[0])} to {ym(t.months[-1])}" if t.months else "no months"
    body: list[Block] = [
        section(f"*Last 12 months* ({span}), oldest first, on a fixed scale; `·` = no data\n```{table}```")
    ]
    if chart is not None:
        where = "below" if opts.shared_by else "in your DM with me (Direct messages → usagebot)"
        body.append(context(f":bar_chart: The PNG chart of these lines is {where}."))
    else:
        body.append(
            context(":bar_chart: The PNG chart of these lines is sent to your DM with me when you ask in Slack.")
        )
    answer = _finish(report, "trends", body, opts, f"trends {span}")
    return Answer(answer.text, answer.blocks, chart=chart)


def _intent_blocks(report: AccountReport) -> list[Block]:
    return [
        section(f":moneybag: *Purchase intent*: {escape(f.message)}") for f in report.flags if f.kind == PURCHASE_INTENT
    ]


def _adoption_line(report: AccountReport) -> str:
    """The summary's one line of user adoption: each ratio of the month shown."""
    a = report.adoption_now
    if a is None or not a.ratios:
        return ""
    parts = [f"{escape(r.label)} {_ratio_now(r)}" for r in a.ratios.values()]
    return "*User adoption* (share of monthly active users): " + " · ".join(parts)


def _ratio_now(r: AdoptionRatio) -> str:
    if r.not_in_export:
        return "not in the export"
    return pct(r.value) if r.value is not None else "n/a"


def _feature_line(f: FeatureUse, definitions: Mapping[str, str]) -> str:
    icon = {"in_use": ":white_check_mark:", "not_used": ":x:"}.get(f.state, ":grey_question:")
    value = f" ({number(f.value)})" if f.value is not None else ""
    tier = f" · {escape(f.tier)}" if f.tier else ""
    line = f"{icon} *{escape(f.label)}*: {f.state_words}{value} · `{escape(f.metric)}`{tier}"
    definition = definitions.get(f.key_path or "")
    if definition:
        line += f"\n      _{escape(clip(definition, 200))}_"
    return line


def render_adoption(
    report: AccountReport, opts: ViewOptions = ViewOptions(), chart: Callable[[], bytes] | None = None
) -> Answer:
    """User adoption ratios with 12-month sparklines, then each use case's features in use or not."""
    a = report.adoption
    body: list[Block] = _intent_blocks(report)
    if a is None:
        body.append(section("_No adoption rules are loaded._"))
        return _finish(report, "adoption", body, opts, "user adoption")
    rows = []
    for r in a.ratios.values():
        spark = sparkline([p.value for p in r.series], 1.0) if r.series else ""  # a share: 0–100%
        who = f"{number(r.users)} of {number(r.active_users)}" if r.value is not None else (r.reason or "")
        rows.append((r.label, spark, _ratio_now(r) if not r.not_in_export else "-", who))
    width = max(len(x[0]) for x in rows)
    table = "\n".join(f"{lab:<{width}}  {sp}  {now:>4}  {who}" for lab, sp, now, who in rows)
    span = f"{ym(a.months[0])} to {ym(a.months[-1])}" if a.months else ym(a.month)
    n = len(a.instance_ids)
    column = next(iter(a.ratios.values())).denominator
    intro = (
        f"*User adoption*: share of monthly active users (`{escape(column)}`) who did each, pooled over "
        f"{n} reporting primary instance{'s' if n != 1 else ''} or namespace{'s' if n != 1 else ''} "
        f"({span}, oldest first; `·` = no data)"
    )
    body.append(section(clip(f"{intro}\n```{escape(table)}```", 3000)))
    if chart is not None:
        where = "below" if opts.shared_by else "in your DM with me"
        body.append(context(f":bar_chart: The chart is {where}."))
    body.append(divider())
    for uc in a.use_cases.values():
        used = uc.having("in_use")
        head = f"*{escape(uc.label)}*: {len(used)} of {len(uc.features)} features in use in {ym(a.month)}"
        body += [section(t) for t in pack_lines([head, *(_feature_line(f, report.definitions) for f in uc.features)])]
    answer = _finish(report, "adoption", body, opts, f"user adoption and features in use, {ym(a.month)}")
    return Answer(answer.text, answer.blocks, chart=chart)


RENDERERS = {
    "summary": render_summary,
    "utilization": render_utilization,
    "health": render_health,
    "adoption": render_adoption,
    "instances": render_instances,
    "versions": render_versions,
    "trends": render_trends,
}
# Account views: the subcommands of `/usage <account> <view>` (summary is the default), from the renderers
# themselves, so a new view is one renderer here and its word in command.py's ALIASES.
VIEWS: tuple[str, ...] = tuple(RENDERERS)


# ---------------------------------------------------------------------------------------------- other answers


def message(text: str, *, ok: bool = False, extra: Sequence[Block] = ()) -> Answer:
    """A short answer: refusals, 'not found'."""
    return Answer(text=clip(text, 3000), blocks=fit_to_limits([section(text), *extra]), ok=ok)


HELP_TEXT = (
    "*Look up a customer's product usage* (only you see the answer unless you share it):\n"
    "• `/usage acme`: summary card (health, utilization, instances, flags)\n"
    "• `/usage acme utilization`: seats, billable users and utilization per subscription\n"
    "• `/usage acme health`: every colour explained: inputs, formula, band, next threshold, weights\n"
    "• `/usage acme adoption`: share of active users per use case, features in use, purchase intent\n"
    "• `/usage acme instances`: every instance and namespace; label the Unknown ones\n"
    "• `/usage acme versions`: self-managed instances, oldest version first\n"
    "• `/usage acme trends`: 12-month sparklines and a chart\n"
    "• `/usage acme report`: report a data issue\n"
    "• `/usage metric pipelines last month` (or a key path): what a metric measures, its time frames and tiers\n"
    "• `/usage request-metric`: ask for a metric the data doesn't have yet\n"
    "• `/usage digest`: your Unknown-instance digest, now\n"
    "• `/usage mine`: your accounts, worst first; filters: `red`, `ci:red`, `security:nodata`, `tier:ultimate`, "
    "`segment:large`, `flag:stale` (`/usage mine help` lists them all)\n"
    "• `/usage team`: the same for your team (managers) or every account (CS Operations admins)\n"
    "Find an account by its CRM id, its name (any case), the start of its name, or something close."
)


def render_help(note: str | None = None) -> Answer:
    text = (f"{note}\n\n" if note else "") + HELP_TEXT
    return Answer(text="How to use /usage", blocks=fit_to_limits([section(text)]), ok=False)


def render_pick(query: str, candidates: Sequence[tuple[str, str]], view: str) -> Answer:
    """Several close matches: one button per account; a click runs the same view for it."""
    btns = [
        button(clip(name, 75), ids.pick_action(n), ids.encode_value(a=acc_id, v=view))
        for n, (acc_id, name) in enumerate(candidates)
    ]
    lines = [f"• *{escape(name)}* (`{escape(acc_id)}`)" for acc_id, name in candidates]
    text = f"Several accounts match “{escape(clip(query, 80))}”. Which one?\n" + "\n".join(lines)
    return Answer(
        text="Several accounts match; pick one",
        blocks=fit_to_limits([section(text), actions(btns, block_id="usage_pick")]),
        ok=False,
    )


def render_not_found(
    query: str,
    nearest: Sequence[str],
    view: str = "summary",
    accounts: Sequence[tuple[str, str]] = (),
    *,
    any_accounts: bool = True,
) -> Answer:
    """No match: say so, name the close accounts (only close ones), and offer them as buttons (a click
    runs `view`)."""
    text = f"I couldn't find an account matching “{escape(clip(query, 80))}”."
    if nearest:
        text += " Did you mean " + ", ".join(f"*{escape(n)}*" for n in nearest) + "?"
    elif not any_accounts:
        text += " There are no accounts loaded yet (CS Operations runs `usagebot sync`)."
    else:
        text += " No account name is close to it."
    text += "\nTry the CRM account id or the start of the name, e.g. `/usage acme`."
    extra: list[Block] = []
    if accounts:
        extra.append(
            actions(
                [
                    button(clip(name, 75), ids.pick_action(n), ids.encode_value(a=acc_id, v=view))
                    for n, (acc_id, name) in enumerate(accounts)
                ],
                block_id="usage_pick",
            )
        )
    return message(text, extra=extra)

