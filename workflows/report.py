"""An account's report: database rows -> scoring inputs -> `AccountReport` -> JSON (INTERFACES.md).

The Slack side calls `resolve_account`, `build_account_report` and `report_to_json`; the CLI too.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from db.queries.account_data import (
    find_accounts_exact,
    latest_account_month,
    load_account_data,
    nearest_account_names,
    newest_version_in_month,
)
from db.queries.health import data_as_of, data_stamp
from scoring.model import MEASURE_KEYS, AccountReport, InstanceInfo, MeasureResult, TrendPoint
from scoring.report import compute_report
from scoring.rules import Rules, load_rules
from scoring.trends import add_months


class AccountNotFound(LookupError):
    """No account has that id or name; `suggestions` holds the nearest names."""

    def __init__(self, text: str, suggestions: list[str]) -> None:
        self.text = text
        self.suggestions = suggestions
        hint = f" Nearest names: {', '.join(suggestions)}." if suggestions else " There are no accounts yet."
        super().__init__(f"No account with the id or name {text!r}.{hint}")


class AccountAmbiguous(AccountNotFound):
    """Several accounts have that exact name; `candidates` holds their (id, name)."""

    def __init__(self, text: str, candidates: list[tuple[str, str]]) -> None:
        self.candidates = candidates
        LookupError.__init__(
            self,
            f"{len(candidates)} accounts are named {text!r}: use the account id, one of "
            + ", ".join(i for i, _ in candidates)
            + ".",
        )
        self.text, self.suggestions = text, [n for _, n in candidates]


def resolve_account(session: Session, text: str) -> tuple[str, str]:
    """(id, name) for an account id or exact name (case, accents and punctuation ignored)."""
    hits = find_accounts_exact(session, text)
    if len(hits) > 1:
        raise AccountAmbiguous((text or "").strip()[:100], hits)
    if not hits:
        raise AccountNotFound((text or "").strip()[:100], nearest_account_names(session, text))
    return hits[0]


def rules_for(rules: Rules | str | None) -> Rules:
    """Rules given, or named by a string, or by SCORING_RULES (settings), else the default set."""
    if isinstance(rules, Rules):
        return rules
    if rules is None:
        try:
            from workflows.settings import get_settings

            rules = get_settings().scoring_rules
        except Exception:  # a settings problem elsewhere must not stop a report; the env var still counts
            rules = os.environ.get("SCORING_RULES")
    return load_rules(rules)


def build_account_report(
    session: Session,
    account_id: str,
    month: date | None = None,
    rules: Rules | str | None = None,
) -> AccountReport:
    """Score the account for `month` (default: the data's as-of month) with explanations, trends and flags."""
    rules = rules_for(rules)
    stamp = data_stamp(session)
    as_of = data_as_of(session, stamp)
    if month is None:
        month = as_of or latest_account_month(session, account_id) or date.today()
    month = month.replace(day=1)
    first = add_months(month, -(rules.trend_months - 1))
    data = load_account_data(session, account_id, first, month, rules.columns(), rules.account.opt_out_value)
    if data is None:
        raise AccountNotFound(account_id, nearest_account_names(session, account_id))
    return compute_report(
        data.account,
        data.subscriptions,
        data.instances,
        data.rows,
        month,
        rules,
        as_of=as_of,
        newest_version=newest_version_in_month(session, month, stamp),
    )


def _ym(d: date | None) -> str | None:
    return d.strftime("%Y-%m") if d else None


def _ts(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def export_instance_id(inst: InstanceInfo) -> str:
    """The instance's id as the warehouse knows it: installation id (self-managed), namespace id (SaaS),
    else "uuid|hostname". People and scripts compare these with the export, never with our row ids."""
    return inst.installation_id or inst.namespace_id or inst.identity.split(":", 1)[-1]


def _measure_json(m: MeasureResult) -> dict[str, Any]:
    return {"value": m.value, "score": m.score, "color": m.color}


def _points(points: tuple[TrendPoint, ...], what: str = "value") -> list[Any]:
    return [getattr(p, what) for p in points]


def series_json(report: AccountReport) -> dict[str, Any]:
    """The 12-month series behind every sparkline, oldest first (None = no data that month)."""
    t = report.trends
    return {
        "months": [_ym(m) for m in t.months],
        "seats": _points(t.licensed_seats),
        "billable_users": [None if v is None else int(v) for v in _points(t.billable_users)],
        "utilization": _points(t.utilization),
        "health_score": _points(t.overall, "score"),
        "health_color": _points(t.overall, "color"),
        "measures": {
            k: {
                "value": _points(t.measures[k]),
                "score": _points(t.measures[k], "score"),
                "color": _points(t.measures[k], "color"),
            }
            for k in MEASURE_KEYS
        },
        "subscription_utilization": {sid: _points(pts) for sid, pts in sorted(t.subscription_utilization.items())},
        "sparklines": {r.key: {"label": r.label, "scale": r.scale, "line": r.line} for r in report.sparklines},
    }


def report_to_json(report: AccountReport, *, with_series: bool = True) -> dict[str, Any]:
    """The `usagebot report --json` shape (extra keys only added, never renamed).

    Instances are named by the warehouse's ids (installation or namespace id), never our row ids, and
    every list has a defined order, so the same data gives the same JSON on SQLite and PostgreSQL.
    """
    acc = report.account
    by_id = {i.instance.id: i.instance for i in report.instances}

    def ext(instance_id: int | None) -> str | None:
        inst = by_id.get(instance_id) if instance_id is not None else None
        return export_instance_id(inst) if inst is not None else None

    totals = report.totals
    out: dict[str, Any] = {
        "account": {"id": acc.id, "name": acc.name, "tam_email": acc.tam_email},
        "as_of": _ym(report.as_of),
        "month": _ym(report.month),
        "rules": report.rules_name,
        "customer_months": report.customer_months,
        "totals": {
            "seats": totals.seats,
            "billable_users": totals.billable_users,
            "utilization": totals.utilization,
        },
        "measures": {k: _measure_json(report.measures[k]) for k in MEASURE_KEYS},
        "overall": {"score": report.overall.score, "color": report.overall.color},
        "reporting_share": report.reporting_share,
        "newest_version": report.newest_version,
        "subscriptions": [
            {
                "id": s.info.id,
                "name": s.info.name,
                "tier": s.info.tier,
                "licensed_seats": s.info.licensed_seats,
                "arr": s.info.arr,
                "reporting": s.reporting,
                "primary_instance": ext(s.primary_instance_id),
                "primary_instances": [ext(i) for i in s.primary_instance_ids],
                "start_date": s.info.start_date.isoformat(),
                "end_date": s.info.end_date.isoformat() if s.info.end_date else None,
                "billable_users": s.billable_users,
                "utilization": s.utilization,
                "license_user_count": s.license_user_count,
                "license_utilization": _measure_json(s.license) if s.license is not None else None,
            }
            for s in report.subscriptions
        ],
        "instances": [
            {
                "id": export_instance_id(i.instance),
                "identity": i.instance.identity,
                "hostname": i.instance.hostname,
                "namespace_id": i.instance.namespace_id,
                "namespace_name": i.instance.namespace_name,
                "deployment_type": i.instance.deployment_type,
                "type": i.instance.label,
                "version": i.version,
                "minor_versions_behind": report.behind.get(i.instance.id),
                "last_ping": _ts(i.last_ping),
                "billable_users": i.billable_users,
                "primary": i.primary,
                "subscriptions": list(i.subscription_ids),
                "measures": {k: _measure_json(i.measures[k]) for k in MEASURE_KEYS},
                "overall": {"score": i.overall.score, "color": i.overall.color},
            }
            for i in report.instances
        ],
        "flags": [
            {
                "kind": f.kind,
                "instance": ext(f.instance_id),
                "subscription": f.subscription_id,
                "message": f.message,
            }
            for f in report.flags
        ],
    }
    if with_series:
        out["series"] = series_json(report)
    return out
