"""Differential fuzzing at the rules' corners: random exports built from band edges, empties, zeros,
ties, Opt-Outs, labels, ARR gaps and mid-month subscription dates, scored by the engine (after a real
sync) and by the independent oracle. Every account and month must agree exactly."""

from __future__ import annotations

import csv
import random
from datetime import date
from pathlib import Path

import pytest
from support.scoring_oracle import SCANNERS, Oracle, disagreements

from db.session import session_scope
from workflows.report import build_account_report, report_to_json
from workflows.sync.run import sync_export
from workflows.sync.sources import CsvExport

MONTHS = [date(2026, m, 1) for m in (7, 8, 9, 10)]
B_CHOICES = [None, 0, 100, 100, 100, 1000]
# Metric values as multiples of B at every band edge (and around them), plus empties and zeros.
EDGE_RATIOS = [None, 0, 0.05, 0.10, 0.12, 0.20, 0.25, 0.33, 0.5, 0.8, 0.11, 0.34, 0.79, 1.0, 2, 7, 40, 41, 1.5]
USAGE_FIELDS = [
    "snapshot_month",
    "dim_crm_account_id",
    "dim_subscription_id_original",
    "delivery_type",
    "deployment_type",
    "dim_installation_id",
    "hostname",
    "dim_namespace_id",
    "ping_created_at",
    "instance_type",
    "included_in_health_measures_str",
    "license_user_count",
    "billable_user_count",
    "last_activity_28_days_user",
    "action_monthly_active_users_project_repo_28_days_user",
    "ci_builds_28_days_event_post_16_9",
    "ci_builds_28_days_event",
    "deployments_28_days_user",
    "deployments_28_days_event",
    "successful_deployments_28_days_event",
    "failed_deployments_28_days_event",
    "user_unique_users_all_secure_scanners_28_days_user",
    "ci_internal_pipelines_28_days_event",
    *[f"{s}_scans_28_days_event" for s in SCANNERS],
]


def _num(v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() else repr(v)


def _write_export(folder: Path, rng: random.Random, n_accounts: int) -> None:
    folder.mkdir(parents=True)
    accounts, subs, usage = [], [], []
    for a in range(n_accounts):
        acc = f"ACC{a:04d}"
        # Ages 2, 3, 6, 7, 9, 10 months (and none) at the last month, to hit every age band edge.
        age = rng.choice([2, 3, 6, 7, 9, 10, 24, None])
        since = ""
        if age is not None:
            idx = 2026 * 12 + 9 - age  # October 2026 minus `age` months, as year * 12 + (month - 1)
            since = f"{idx // 12:04d}-{idx % 12 + 1:02d}-{rng.choice([1, 15, 28]):02d}"
        accounts.append(
            {
                "dim_crm_account_id": acc,
                "crm_account_name": f"Corner {a}",
                "customer_since_date": since,
                "technical_account_manager": "Tam",
                "technical_account_manager_email": "tam@example.com",
            }
        )
        instances = []
        for s in range(rng.choice([1, 2, 3])):
            sid = f"{acc}-S{s}"
            saas = rng.random() < 0.3
            start = rng.choice(["2024-01-01", "2026-08-15", "2026-09-30", "2026-10-31", "2026-11-01", "2025-06-01"])
            end = rng.choice(["", "", "", "2026-08-31", "2026-09-01", "2026-07-31", "2027-01-01"])
            tier = ("SaaS - " if saas else "Self-Managed - ") + rng.choice(["Premium", "Ultimate"])
            subs.append(
                {
                    "dim_subscription_id_original": sid,
                    "subscription_name": f"A-S{a:04d}{s}",
                    "dim_crm_account_id": acc,
                    "product_tier_name": tier,
                    "product_delivery_type": "SaaS" if saas else "Self-Managed",
                    "subscription_start_date": start,
                    "subscription_end_date": end,
                    "licensed_seats": rng.choice([0, 100, 250]),
                    "arr": rng.choice(["", "", "0", "1200.5", "50000", "50000"]),
                }
            )
            for i in range(rng.choice([1, 1, 2, 3])):
                if saas:
                    inst = {
                        "delivery_type": "SaaS",
                        "deployment_type": rng.choice(["GitLab.com", "Dedicated"]),
                        "dim_namespace_id": f"{a}{s}{i}9",
                        "dim_installation_id": "",
                        "hostname": "",
                    }
                else:
                    inst = {
                        "delivery_type": "Self-Managed",
                        "deployment_type": "Self-Managed",
                        "dim_installation_id": f"inst-{a}-{s}-{i}",
                        "hostname": f"gl{i}.c{a}.example",
                        "dim_namespace_id": "",
                    }
                inst["sid"] = sid
                inst["label"] = rng.choice(["Production", "Production", "Production", "Unknown", "Non-Production", ""])
                instances.append(inst)
        for month in MONTHS:
            for inst in instances:
                if rng.random() < 0.1:
                    continue  # no row this month
                b = rng.choice(B_CHOICES)
                base = 100 if b in (None, 0) else b

                def metric(base: float = base) -> str:
                    r = rng.choice(EDGE_RATIOS)
                    return _num(None if r is None else r * base)

                ping_day = rng.choice([None, 1, 15, 15, 28])
                ping = "" if ping_day is None else f"{month:%Y-%m}-{ping_day:02d}T0{rng.choice([1, 1, 2])}:00:00Z"
                if ping and rng.random() < 0.05:
                    ping = "2026-01-10T00:00:00Z"  # an old ping carried into the month: stale, not reporting
                succ, fail = rng.choice([(None, None), (1, 3), (4, 1), (0, 0), (5, None), (3, 7), (9, 1)])
                row = {
                    "snapshot_month": month.isoformat(),
                    "dim_crm_account_id": acc,
                    "dim_subscription_id_original": inst["sid"],
                    "delivery_type": inst["delivery_type"],
                    "deployment_type": inst["deployment_type"],
                    "dim_installation_id": inst["dim_installation_id"],
                    "hostname": inst["hostname"],
                    "dim_namespace_id": inst["dim_namespace_id"],
                    "ping_created_at": ping,
                    "instance_type": inst["label"],
                    "included_in_health_measures_str": rng.choice(["Included in Health Score", "", "", "Opt-Out"]),
                    "license_user_count": rng.choice(["", "0", "100", "100", "200"]),
                    "billable_user_count": _num(b),
                    "last_activity_28_days_user": metric(),
                    "action_monthly_active_users_project_repo_28_days_user": metric(),
                    "ci_builds_28_days_event_post_16_9": rng.choice(["", metric()]),
                    "ci_builds_28_days_event": metric(),
                    "deployments_28_days_user": metric(),
                    "deployments_28_days_event": metric(),
                    "successful_deployments_28_days_event": _num(succ),
                    "failed_deployments_28_days_event": _num(fail),
                    "user_unique_users_all_secure_scanners_28_days_user": metric(),
                    "ci_internal_pipelines_28_days_event": rng.choice(["", "0", "100", "10"]),
                }
                for s in SCANNERS:
                    row[f"{s}_scans_28_days_event"] = rng.choice(["", "", "0", "10", "50", "5"])
                usage.append(row)
    for name, rows in (("accounts", accounts), ("subscriptions", subs), ("usage_monthly", usage)):
        fields = USAGE_FIELDS if name == "usage_monthly" else list(rows[0])
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_engine_agrees_with_oracle_at_the_corners(db_url: str, tmp_path: Path, seed: int) -> None:
    folder = tmp_path / "export"
    _write_export(folder, random.Random(seed), n_accounts=30)
    result = sync_export(CsvExport(folder), db_url)
    assert result.ok, result.problems[:10]
    oracle = Oracle(folder)
    bad: list[str] = []
    with session_scope(db_url) as session:
        for month in MONTHS:
            for account_id in sorted(oracle.accounts):
                got = report_to_json(build_account_report(session, account_id, month=month, rules="gitlab-current"))
                want = oracle.account(account_id, month)
                bad += disagreements(got, want, f"{account_id} {month:%Y-%m}")
    assert not bad, f"{len(bad)} disagreements:\n" + "\n".join(bad[:40])
