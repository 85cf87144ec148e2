"""Data-quality triage: a person reports a wrong-looking value; the facts go to #cs-product-analytics,
and when it looks wrong upstream a confidential issue goes to the Data project (DATA_QUALITY_PROJECT).

Plain Python in and out (no Slack types): the Slack edge (`bot/features/data_quality/views.py`) posts the
thread and the confirmation with what this module returns. GitLab filing goes through the generic
outbox (`workflows.outbox`): the filing is stored under the report's idempotency key before GitLab is
called, written into the issue as a marker, retried while GitLab fails, and when it is filed the
follow-up registered here posts the link in the triage thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import SCORED_METRIC_COLUMNS, Account, DataIssue, Instance, UsageMonthly
from db.models.quality import SCOPES
from db.queries.health import data_as_of
from db.queries.metric_layouts import row_extra_metrics
from workflows import outbox
from workflows.escaping import gitlab_templates
from workflows.ports import SlackEdge
from workflows.settings import Settings

log = logging.getLogger("usagebot.data_quality")

KIND = "data_quality"
FOLLOW_UP = "data_quality.link_in_thread"
LABELS = ("data quality",)
WHAT_MIN, WHAT_MAX = 10, 2500
METRIC_MAX = 200
SCOPE_LABELS = {
    "upstream": "Also wrong upstream (e.g. in the license app)",
    "this_view": "Looks specific to this bot's view",
    "unsure": "Not compared yet",
}
_TEMPLATES = gitlab_templates()  # people's text can't run quick actions, mention or forge markers
# Fields of a usage row a person may name as "the metric", besides the metric columns.
_ROW_FIELDS = {"billable_user_count": "billable_user_count", "license_user_count": "license_user_count"}


class ReportError(ValueError):
    """The report cannot be made (unknown account); the message says why, in plain words."""


@dataclass(frozen=True)
class IssueContext:
    """What the bot holds about the account / instance / metric a report is about."""

    account_id: str
    account_name: str
    instance_id: int | None
    instance_name: str | None
    instance_ref: str | None  # warehouse keys (installation id, namespace id): no hostnames
    delivery: str | None
    metric: str | None
    as_of: date | None
    facts: dict[str, Any] = field(default_factory=dict)


def _ym(d: date | None) -> str | None:
    return d.strftime("%Y-%m") if d else None


def _utc_text(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    ts = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def instance_ref(inst: Instance) -> str:
    """How the data team finds the instance in the warehouse, without the customer's hostname."""
    if inst.namespace_id:
        return f"namespace id `{inst.namespace_id}` ({inst.deployment_type})"
    if inst.installation_id:
        return f"installation id `{inst.installation_id}`"
    if inst.uuid:
        return f"instance uuid `{inst.uuid}`"
    return f"usagebot instance {inst.id}"


def account_instances(session: Session, account_id: str, limit: int = 100) -> list[tuple[int, str, str]]:
    """(id, name, label) of the account's instances, most recently seen first (for the modal's picker)."""
    rows = session.execute(
        select(
            Instance.id,
            Instance.hostname,
            Instance.namespace_name,
            Instance.namespace_id,
            Instance.identity,
            Instance.label,
        )
        .where(Instance.account_id == account_id)
        .order_by(Instance.last_seen_month.desc().nulls_last(), Instance.id)
        .limit(limit)
    ).all()
    return [(r[0], r[1] or r[2] or r[3] or r[4], r[5]) for r in rows]


def _metric_value(session: Session, row: UsageMonthly, metric: str | None) -> tuple[bool, float | None]:
    """(known, value) of `metric` on the row; unknown names are (False, None)."""
    if not metric:
        return False, None
    if metric in _ROW_FIELDS:
        v = getattr(row, _ROW_FIELDS[metric])
        return True, None if v is None else float(v)
    if metric in SCORED_METRIC_COLUMNS:
        v = getattr(row, metric)
        return True, None if v is None else float(v)
    extra = row_extra_metrics(session, row)
    if metric in extra:
        v = extra[metric]
        return True, None if v is None else float(v)
    return False, None


def load_context(
    session: Session, account_id: str, instance_id: int | None = None, metric: str | None = None
) -> IssueContext:
    """The facts a report carries: the instance's latest row up to the as-of month (metric value,
    billable users, license count, month). Without an instance: the account's largest instance of
    its latest month."""
    acc = session.get(Account, account_id)
    if acc is None:
        raise ReportError("That account is not in usagebot's data any more; nothing was reported.")
    metric = (metric or "").strip()[:METRIC_MAX] or None
    as_of = data_as_of(session)
    inst = session.get(Instance, instance_id) if instance_id is not None else None
    if inst is None or inst.account_id != account_id:
        # Unknown, or another account's instance (a forged or stale id): never show it; use the default.
        inst, instance_id = None, None
    q = select(UsageMonthly).where(UsageMonthly.account_id == account_id)
    if inst is not None:
        q = q.where(UsageMonthly.instance_id == inst.id)
    if as_of is not None:
        q = q.where(UsageMonthly.snapshot_month <= as_of)
    row = session.scalars(
        q.order_by(
            UsageMonthly.snapshot_month.desc(),
            UsageMonthly.billable_user_count.desc().nulls_last(),
            UsageMonthly.id,
        ).limit(1)
    ).first()
    if inst is None and row is not None and instance_id is None:
        inst = session.get(Instance, row.instance_id)
    facts: dict[str, Any] = {}
    if row is not None:
        known, value = _metric_value(session, row, metric)
        facts = {
            "month": _ym(row.snapshot_month),
            "billable_users": row.billable_user_count,
            "license_user_count": row.license_user_count,
            "ping_created_at": _utc_text(row.ping_created_at),
            "version": row.cleaned_version,
            "subscription_id": row.subscription_id,
            "metric_known": known,
            "metric_value": value,
        }
    return IssueContext(
        account_id=acc.id,
        account_name=acc.name,
        instance_id=inst.id if inst else None,
        instance_name=inst.display_name if inst else None,
        instance_ref=instance_ref(inst) if inst else None,
        delivery=f"{inst.delivery_type} / {inst.deployment_type}" if inst else None,
        metric=metric,
        as_of=as_of,
        facts=facts,
    )


def validate(what: str | None, metric: str | None, scope: str | None) -> dict[str, str]:
    """Problems with the modal's input, by field name ("what", "metric", "scope")."""
    errors: dict[str, str] = {}
    text = (what or "").strip()
    if not text:
        errors["what"] = "Please say what looks wrong."
    elif len(text) < WHAT_MIN:
        errors["what"] = f"Please say a little more (at least {WHAT_MIN} characters) so the data team can check it."
    elif len(text) > WHAT_MAX:
        errors["what"] = f"Please keep it under {WHAT_MAX} characters (it is {len(text)})."
    if metric and len(metric.strip()) > METRIC_MAX:
        errors["metric"] = f"A metric name is at most {METRIC_MAX} characters."
    if scope not in SCOPES:
        errors["scope"] = "Please say whether you compared it upstream."
    return errors


def submit_report(
    session: Session,
    *,
    key: str,
    account_id: str,
    instance_id: int | None,
    metric: str | None,
    what: str,
    scope: str,
    reporter_id: str,
    reporter_name: str | None,
) -> tuple[DataIssue, bool]:
    """Store the report under `key` (committed); (report, created). A second submit returns the first."""
    existing = session.scalars(select(DataIssue).where(DataIssue.key == key)).first()
    if existing is not None:
        return existing, False
    problems = validate(what, metric, scope)
    if problems:
        raise ReportError(" ".join(problems.values()))
    ctx = load_context(session, account_id, instance_id, metric)
    issue = DataIssue(
        key=key,
        account_id=ctx.account_id,
        account_name=ctx.account_name,
        instance_id=ctx.instance_id,
        instance_name=ctx.instance_name,
        metric=ctx.metric,
        what=what.strip(),
        scope=scope,
        reporter_id=reporter_id,
        reporter_name=reporter_name,
        facts={**ctx.facts, "instance_ref": ctx.instance_ref, "delivery": ctx.delivery},
        as_of_month=ctx.as_of,
        gitlab_status="pending" if scope == "upstream" else "none",
    )
    try:
        with session.begin_nested():
            session.add(issue)
    except IntegrityError:  # a concurrent double submit stored it first
        found = session.scalars(select(DataIssue).where(DataIssue.key == key)).one()
        return found, False
    session.commit()
    return issue, True


def record_thread(session: Session, issue_id: int, channel: str, ts: str, permalink: str | None) -> None:
    issue = session.get_one(DataIssue, issue_id)
    issue.channel_id, issue.thread_ts, issue.permalink = channel, ts, permalink
    session.commit()


def unconfirmed_reports(session: Session, created_before: datetime) -> list[int]:
    """Reports with Slack work left: reporter not told yet (thread not posted, or the DM failed), or an
    upstream issue filed but not linked in the thread yet. Oldest first."""
    from sqlalchemy import and_, or_

    return list(
        session.scalars(
            select(DataIssue.id)
            .where(
                or_(
                    DataIssue.confirmed.is_(False),
                    and_(DataIssue.gitlab_status == "filed", DataIssue.issue_linked.is_(False)),
                ),
                DataIssue.created_at < created_before,
            )
            .order_by(DataIssue.id)
            .limit(200)
        )
    )


def mark_confirmed(session: Session, issue_id: int) -> None:
    session.get_one(DataIssue, issue_id).confirmed = True
    session.commit()


def filing_key(issue: DataIssue) -> str:
    return f"dq:{issue.key}"


def issue_title(issue: DataIssue) -> str:
    what = " ".join(issue.what.split())
    subject = issue.metric or (issue.facts or {}).get("instance_ref") or "account data"
    return f"Data quality: {subject} looks wrong for account {issue.account_id}: {what[:80]}"


def issue_description(issue: DataIssue, epic: str) -> str:
    """The confidential issue's text: account id (not the name), warehouse keys, values; no emails."""
    facts = issue.facts or {}
    value_line = None
    if issue.metric and facts.get("metric_known"):
        v = facts.get("metric_value")
        value_line = "empty (not reported)" if v is None else f"{v:g}"
    elif issue.metric:
        value_line = "not a column usagebot stores"
    return _TEMPLATES.get_template("data_quality_issue.md.j2").render(
        epic=epic,
        what=issue.what,
        account_id=issue.account_id,
        instance_ref=facts.get("instance_ref"),
        delivery=facts.get("delivery"),
        metric=issue.metric,
        as_of=_ym(issue.as_of_month),
        facts=facts,
        metric_value_line=value_line,
        permalink=issue.permalink,
    )


def enqueue_upstream(session: Session, issue: DataIssue, project: str, epic: str) -> str:
    """Store the confidential filing for an upstream report (idempotent); returns its key. Commits."""
    key = filing_key(issue)
    outbox.enqueue_filing(
        session,
        kind=KIND,
        idempotency_key=key,
        project=project,
        title=issue_title(issue),
        description=issue_description(issue, epic),
        labels=LABELS,
        confidential=True,
        on_filed=(FOLLOW_UP, {"issue_id": issue.id}),
    )
    session.commit()
    return key


def thread_link_text(url: str, iid: int | None) -> str:
    ref = f"#{iid}" if iid is not None else "issue"
    return f":link: Filed upstream as a confidential data-quality issue: <{url}|{ref}>"


@outbox.follow_up(FOLLOW_UP)
def _link_in_thread(ctx: outbox.FollowUpContext) -> None:
    """After GitLab filed the issue (now or on a retry): record it and post the link in the thread."""
    issue = ctx.session.get(DataIssue, int(ctx.payload.get("issue_id", 0)))
    if issue is None:
        return  # the report is gone; nothing to link
    issue.gitlab_status = "filed"
    issue.issue_iid = ctx.filing.issue_iid
    issue.issue_url = ctx.filing.issue_url
    if issue.issue_linked:
        return
    if not issue.thread_ts or not issue.channel_id or ctx.slack is None:
        # No thread yet (Slack refused it) or no Slack here: the retry pass posts the thread, then the link.
        return
    ctx.slack.chat_postMessage(
        channel=issue.channel_id,
        thread_ts=issue.thread_ts,
        text=thread_link_text(issue.issue_url or "", issue.issue_iid),
        unfurl_links=False,
    )
    issue.issue_linked = True


def _retry_threads(
    session_factory: outbox.SessionFactory,
    _gitlab_factory: outbox.GitLabFactory,
    _settings: Settings,
    edge: SlackEdge | None,
) -> list[str]:
    """The outbox's retry pass also posts triage threads that Slack refused earlier (at the edge)."""
    return edge.post_pending_threads(session_factory) if edge is not None else []


outbox.register_retry_step("data_quality.threads", _retry_threads)
