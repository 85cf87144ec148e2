"""An account's report: database rows -> scoring inputs -> `AccountReport` -> JSON (`usagebot report --json`).

The Slack side calls `resolve_account`, `build_account_report` and `report_to_json`; the CLI too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from db.queries.account_data import (
    latest_account_month,
    load_account_data,
    nearest_account_names,
    newest_version_in_month,
)
from db.queries.accounts import resolve_account as find_account
from db.queries.health import data_as_of, data_stamp, export_metric_columns
from db.queries.metrics import descriptions
from db.queries.scores import account_series
from scoring.adoption import Adoption
from scoring.adoption_rules import AdoptionRules, load_adoption_rules
from scoring.model import MEASURE_KEYS, AccountReport, InstanceInfo, MeasureResult, TrendPoint
from scoring.report import compute_report
from scoring.rules import Rules, load_rules
from scoring.stored import rules_fingerprint, trends_of
from scoring.trends import add_months, window
from workflows.months import check_month


class AccountNotFound(LookupError):
    """No account has that id or name; `suggestions` holds the nearest names."""

    def __init__(self, text: str, suggestions: list[str]) -> None:
        self.text = text
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"No account matches {text!r} (by id, name, start of a name or a close name).{hint}")


class AccountAmbiguous(AccountNotFound):
    """Several accounts match; `candidates` holds their (id, name)."""

    def __init__(self, text: str, candidates: list[tuple[str, str]]) -> None:
        self.candidates = candidates
        LookupError.__init__(
            self,
            f"{len(candidates)} accounts match {text!r}: "
            + "; ".join(f"{name} ({acc_id})" for acc_id, name in candidates)
            + ". Give the account id or more of the name.",
        )
        self.text, self.suggestions = text, [n for _, n in candidates]


def resolve_account(session: Session, text: str) -> tuple[str, str]:
    """(id, name) of the one account `text` names, found exactly as `/usage` finds it (one resolver:
    `db.queries.accounts.resolve_account`); several matches raise `AccountAmbiguous`, none `AccountNotFound`."""
    res = find_account(session, text)
    query = (text or "").strip()[:100]
    if res.kind == "many":
        raise AccountAmbiguous(query, [(c.id, c.name) for c in res.candidates])
    if res.kind == "none" or res.account is None:
        raise AccountNotFound(query, list(res.nearest))
    return res.account.id, res.account.name


def _configured(name: str) -> str | None:
    """A setting by its field name; its environment variable when the settings cannot be read."""
    try:
        from workflows.settings import get_settings

        return str(getattr(get_settings(), name))
    except Exception:  # a settings problem elsewhere must not stop a report; the env var still counts
        return os.environ.get(name.upper())


def rules_for(rules: Rules | str | None) -> Rules:
    """Rules given, or named by a string, or by SCORING_RULES (settings), else the default set."""
    if isinstance(rules, Rules):
        return rules
    return load_rules(_configured("scoring_rules") if rules is None else rules)


def adoption_rules_for(rules: AdoptionRules | str | None) -> AdoptionRules:
    """Adoption rules given, or named by a string, or by ADOPTION_RULES (settings), else the default set."""
    if isinstance(rules, AdoptionRules):
        return rules
    return load_adoption_rules(_configured("adoption_rules") if rules is None else rules)


def build_account_report(
    session: Session,
    account_id: str,
    month: date | None = None,
    rules: Rules | str | None = None,
    adoption_rules: AdoptionRules | str | None = None,
) -> AccountReport:
    """Score the account for `month` (default: the data's as-of month) with explanations, trends and flags."""
    rules = rules_for(rules)
    adopt = adoption_rules_for(adoption_rules)
    stamp = data_stamp(session)
    as_of = data_as_of(session, stamp)
    if month is None:
        month = as_of or latest_account_month(session, account_id) or date.today()
    else:
        month = check_month(session, month)  # a month outside the data is refused, never shown as "No data"
    month = month.replace(day=1)
    first = add_months(month, -(rules.trend_months - 1))
    columns = rules.columns() | adopt.columns()
    data = load_account_data(session, account_id, first, month, columns, rules.account.opt_out_value)
    if data is None:
        raise AccountNotFound(account_id, nearest_account_names(session, account_id))
    report = compute_report(
        data.account,
        data.subscriptions,
        data.instances,
        data.rows,
        month,
        rules,
        as_of=as_of,
        newest_version=newest_version_in_month(session, month, stamp),
        adoption_rules=adopt,
        exported=export_metric_columns(session),
        definitions=descriptions(session, adopt.key_paths()),
    )
    return with_stored_trends(session, report, rules, adopt)


def with_stored_trends(session: Session, report: AccountReport, rules: Rules, adopt: AdoptionRules) -> AccountReport:
    """The report with its health trend read from the stored scores when all its months are stored and
    current (the sync wrote them from the same computation); otherwise as computed from raw rows."""
    months = window(report.month, rules.trend_months)
    stored = account_series(session, report.account.id, months, rules_fingerprint(rules, adopt))
    if len(stored) != len(months):
        return report
    rolled_trends = report.trends_builder
    adoption_builder = report.adoption_builder
    return replace(
        report,
        trends_builder=lambda: trends_of(months, stored),
        # User adoption's series needs each month's roll-up, which is not stored: built from raw rows on request.
        adoption_builder=None if adoption_builder is None else (lambda _t: adoption_builder(rolled_trends())),
        _cache={},
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


def _count(v: float | None) -> float | int | None:
    """A summed count as JSON: whole numbers as integers."""
    return int(v) if v is not None and float(v).is_integer() else v


def adoption_to_json(adoption: Adoption | None) -> dict[str, Any]:
    """Ratio key -> {value, numerator, users, active_users, series}."""
    if adoption is None:
        return {}
    return {
        k: {
            "value": r.value,
            "numerator": r.numerator,
            "users": _count(r.users),
            "active_users": _count(r.active_users),
            "series": [{"month": _ym(p.month), "value": p.value} for p in r.series],
        }
        for k, r in adoption.ratios.items()
    }


def features_to_json(adoption: Adoption | None, definitions: Mapping[str, str]) -> dict[str, Any]:
    """Use case -> its features, each in use or not this month, with its Metrics Dictionary definition."""
    if adoption is None:
        return {}
    return {
        k: {
            "label": uc.label,
            "features": [
                {
                    "key": f.key,
                    "label": f.label,
                    "metric": f.metric,
                    "state": f.state,
                    "value": _count(f.value),
                    "tier": f.tier,
                    "key_path": f.key_path,
                    "definition": definitions.get(f.key_path or ""),
                }
                for f in uc.features
            ],
        }
        for k, uc in adoption.use_cases.items()
    }


def report_to_json(report: AccountReport, *, series: bool = True) -> dict[str, Any]:
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
                "details": list(f.details),
            }
            for f in report.flags
        ],
        "adoption": adoption_to_json(report.adoption),
        # Why a ratio has no value (e.g. a column not in the export), for the ratios without one.
        "adoption_notes": {
            k: r.reason for k, r in (report.adoption.ratios.items() if report.adoption else ()) if r.value is None
        },
        "features": features_to_json(report.adoption, report.definitions),
    }
    if series:
        out["series"] = series_json(report)
    return out
