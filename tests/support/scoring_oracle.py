"""An independent reading of docs/scoring.md, written apart from `scoring/` and reading the raw CSV export.

It shares no code with the engine (no rules file, no dataclasses), so a test comparing the two
catches a misreading in either, and a sync that changes a value on the way in.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

SCANNERS = (
    "sast",
    "dast",
    "dependency_scanning",
    "container_scanning",
    "secret_detection",
    "coverage_fuzzing",
    "api_fuzzing",
)
WEIGHTS = {"license_utilization": 0.30, "user_engagement": 0.10, "scm": 0.15, "ci": 0.15, "cd": 0.15, "security": 0.15}
SCORE = {"Red": 25, "Yellow": 63, "Green": 88}


def _lower(row: dict[str, str]) -> dict[str, str]:
    return {k.strip().lower(): (v or "").strip() for k, v in row.items()}


def _d(s: str) -> date | None:
    return date.fromisoformat(s[:10]) if s else None


def _f(s: str | None) -> float | None:
    return float(s) if s not in (None, "") else None


def ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den == 0:
        return None
    return num / den


def months_between(since: date, month: date) -> int:
    return (month.year * 12 + month.month) - (since.year * 12 + since.month)


def color_license(v: float | None, age: int) -> str | None:
    if v is None or age < 3:
        return None
    if age <= 6:
        return "Red" if v <= 0.10 else "Yellow" if v <= 0.50 else "Green"
    if age <= 9:
        return "Red" if v <= 0.50 else "Yellow" if v <= 0.75 else "Green"
    return "Red" if v <= 0.75 else "Green"


def color_engagement(v: float | None) -> str | None:
    return None if v is None else "Red" if v < 0.50 else "Yellow" if v < 0.80 else "Green"


def color_scm(v: float | None) -> str | None:
    return None if v is None else "Red" if v <= 0.10 else "Yellow" if v <= 0.33 else "Green"


def color_ci(v: float | None) -> str | None:
    return None if v is None else "Red" if v <= 2 else "Yellow" if v <= 40 else "Green"


def color_mean(v: float | None) -> str | None:  # CD, Security, overall
    return None if v is None else "Red" if v <= 50 else "Yellow" if v <= 75 else "Green"


def _mean_sub(colors: list[str | None]) -> float | None:
    scores = [SCORE[c] for c in colors if c is not None]
    return sum(scores) / len(scores) if scores else None


@dataclass
class Row:
    month: date
    instance: str
    sub: str
    delivery: str
    deployment: str
    ping: datetime | None
    b: float | None
    lic: float | None
    opt_out: bool
    label: str
    m: dict[str, str]

    def metric(self, name: str) -> float | None:
        return _f(self.m.get(name))


@dataclass
class Values:
    """Per instance-month values: ratio for the first four, mean sub-score for CD and Security."""

    v: dict[str, float | None] = field(default_factory=dict)


def instance_values(row: Row, ultimate: bool) -> dict[str, float | None]:
    b = row.b
    out: dict[str, float | None] = {}
    out["license_utilization"] = ratio(b, row.lic)
    out["user_engagement"] = (
        ratio(row.metric("last_activity_28_days_user"), b) if row.deployment == "Self-Managed" else None
    )
    out["scm"] = ratio(row.metric("action_monthly_active_users_project_repo_28_days_user"), b)
    builds = row.metric("ci_builds_28_days_event_post_16_9")
    if builds is None:
        builds = row.metric("ci_builds_28_days_event")
    out["ci"] = ratio(builds, b)
    du = ratio(row.metric("deployments_28_days_user"), b)
    dp = ratio(row.metric("deployments_28_days_event"), b)
    ok, bad = row.metric("successful_deployments_28_days_event"), row.metric("failed_deployments_28_days_event")
    sr = ratio(ok, ok + bad) if ok is not None and bad is not None else None
    out["cd"] = _mean_sub(
        [
            None if du is None else "Red" if du < 0.05 else "Yellow" if du <= 0.12 else "Green",
            None if dp is None else "Red" if dp < 2 else "Yellow" if dp <= 7 else "Green",
            None if sr is None else "Red" if sr < 0.25 else "Yellow" if sr <= 0.80 else "Green",
        ]
    )
    if ultimate:
        su = ratio(row.metric("user_unique_users_all_secure_scanners_28_days_user"), b)
        scans = [row.metric(f"{s}_scans_28_days_event") for s in SCANNERS]
        reported = [x for x in scans if x is not None]
        spp = ratio(sum(reported), row.metric("ci_internal_pipelines_28_days_event")) if reported else None
        types = sum(1 for x in reported if x > 0) if reported else None
        out["security"] = _mean_sub(
            [
                None if su is None else "Red" if su <= 0.05 else "Yellow" if su < 0.20 else "Green",
                None if spp is None else "Red" if spp < 0.1 else "Yellow" if spp <= 0.5 else "Green",
                None if types is None else "Red" if types <= 1 else "Yellow" if types == 2 else "Green",
            ]
        )
    else:
        out["security"] = None
    return out


class Oracle:
    def __init__(self, folder: Path) -> None:
        self.accounts: dict[str, dict[str, str]] = {}
        self.subs: dict[str, dict[str, str]] = {}
        self.rows: dict[str, list[Row]] = defaultdict(list)
        with open(folder / "accounts.csv", newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                r = _lower(r)
                self.accounts[r["dim_crm_account_id"]] = r
        with open(folder / "subscriptions.csv", newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                r = _lower(r)
                self.subs[r["dim_subscription_id_original"]] = r
        raw: list[dict[str, str]] = []
        with open(folder / "usage_monthly.csv", newline="", encoding="utf-8") as f:
            raw = [_lower(r) for r in csv.DictReader(f)]
        latest_label: dict[str, tuple[date, str]] = {}
        for r in raw:
            inst = self.identity(r)
            month = _d(r["snapshot_month"])
            assert month is not None
            if inst not in latest_label or month >= latest_label[inst][0]:
                latest_label[inst] = (month, r.get("instance_type") or "Unknown")
        for r in raw:
            inst = self.identity(r)
            ping = r.get("ping_created_at") or ""
            self.rows[r["dim_crm_account_id"]].append(
                Row(
                    month=_d(r["snapshot_month"]),  # type: ignore[arg-type]
                    instance=inst,
                    sub=r["dim_subscription_id_original"],
                    delivery=r["delivery_type"],
                    deployment=r["deployment_type"],
                    ping=datetime.fromisoformat(ping.replace("Z", "+00:00").replace(" ", "T")) if ping else None,
                    b=_f(r.get("billable_user_count")),
                    lic=_f(r.get("license_user_count")),
                    opt_out=(r.get("included_in_health_measures_str") or "") == "Opt-Out",
                    label=latest_label[inst][1],
                    m=r,
                )
            )

    @staticmethod
    def identity(r: dict[str, str]) -> str:
        if r["delivery_type"] == "SaaS":
            return "saas:" + r["dim_namespace_id"]
        if r.get("dim_installation_id"):
            return "sm:" + r["dim_installation_id"]
        return f"sm:{r.get('uuid', '')}|{r.get('hostname', '')}"

    def latest_month(self) -> date:
        return max(r.month for rows in self.rows.values() for r in rows)

    def account(self, account_id: str, month: date, labels: dict[str, str] | None = None) -> dict[str, Any]:
        """Account measures, overall, reporting share and primaries for `month` (first day)."""
        acc = self.accounts[account_id]
        labels = labels or {}
        nxt = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        subs = {
            sid: s
            for sid, s in self.subs.items()
            if s["dim_crm_account_id"] == account_id
            and _d(s["subscription_start_date"]) < nxt  # type: ignore[operator]
            and (not s.get("subscription_end_date") or _d(s["subscription_end_date"]) >= month)  # type: ignore[operator]
        }
        all_subs = [s for s in self.subs.values() if s["dim_crm_account_id"] == account_id]
        ultimate = {sid for sid, s in subs.items() if "Ultimate" in s["product_tier_name"]}

        groups: dict[tuple[str, str], list[Row]] = defaultdict(list)
        for r in self.rows.get(account_id, []):
            label = labels.get(r.instance, r.label)
            if r.month != month or r.sub not in subs or label != "Production" or r.opt_out:
                continue
            if not r.lic:  # 0 or empty: not scored
                continue
            groups[(r.sub, r.delivery)].append(r)

        primaries: dict[tuple[str, str], Row] = {}
        for key, rows in groups.items():
            rows.sort(
                key=lambda r: (
                    r.b is None,
                    -(r.b or 0),
                    r.ping is None,
                    -(r.ping.timestamp() if r.ping else 0),
                )
            )
            primaries[key] = rows[0]

        def pinged(r: Row) -> bool:
            # "has a ping_created_at then": a ping dated in the month; an older one is stale data.
            return r.ping is not None and month <= r.ping.date() < nxt

        def arr(sid: str) -> float:
            return _f(subs[sid].get("arr")) or 0.0

        values: dict[str, float | None] = {}
        for measure in WEIGHTS:
            pairs = []
            for (sid, _dt), r in primaries.items():
                if not pinged(r):
                    continue
                if measure == "security" and sid not in ultimate:
                    continue
                v = instance_values(r, sid in ultimate)[measure]
                if v is not None:
                    pairs.append((v, arr(sid)))
            if not pairs:
                values[measure] = None
                continue
            total = sum(w for _, w in pairs)
            if total == 0:
                values[measure] = sum(v for v, _ in pairs) / len(pairs)
            else:
                values[measure] = sum(v * w for v, w in pairs) / total

        since = _d(acc.get("customer_since_date") or "")
        if since is None:
            starts = [_d(s["subscription_start_date"]) for s in all_subs]
            since = min(starts) if starts else month  # type: ignore[type-var]
        colors = {
            "license_utilization": color_license(values["license_utilization"], months_between(since, month)),
            "user_engagement": color_engagement(values["user_engagement"]),
            "scm": color_scm(values["scm"]),
            "ci": color_ci(values["ci"]),
            "cd": color_mean(values["cd"]),
            "security": color_mean(values["security"]),
        }
        measures = {}
        for k, c in colors.items():
            if k == "security" and not ultimate:
                measures[k] = {"value": None, "score": None, "color": "N/A"}
            else:
                measures[k] = {"value": values[k], "score": SCORE.get(c) if c else None, "color": c or "No data"}
        scored = {k: m["score"] for k, m in measures.items() if m["score"] is not None}
        if scored:
            wsum = sum(WEIGHTS[k] for k in scored)
            overall = sum(WEIGHTS[k] / wsum * s for k, s in scored.items())
            overall_out = {"score": overall, "color": color_mean(overall)}
        else:
            overall_out = {"score": None, "color": "No data"}

        reporting = {sid for (sid, _dt), r in primaries.items() if pinged(r)}
        total_arr = sum(arr(sid) for sid in subs)
        if not subs:
            share = None
        elif total_arr > 0:
            share = sum(arr(sid) for sid in reporting) / total_arr
        else:
            share = len(reporting) / len(subs)
        return {
            "measures": measures,
            "overall": overall_out,
            "reporting_share": share,
            "primaries": {(sid, dt): r.instance for (sid, dt), r in primaries.items()},
        }


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def disagreements(got: dict[str, Any], want: dict[str, Any], where: str) -> list[str]:
    """What `usagebot report --json` (got) says differently from the oracle (want): measures (colour and score
    exactly, value within 1e-9 relative), overall, reporting share and the primary instances."""
    out = []
    for key, w in want["measures"].items():
        g = got["measures"][key]
        if g["color"] != w["color"] or g["score"] != w["score"] or not _close(g["value"], w["value"]):
            out.append(f"{where} {key}: engine {g} vs oracle {w}")
    o_g, o_w = got["overall"], want["overall"]
    if o_g["color"] != o_w["color"] or not _close(o_g["score"], o_w["score"]):
        out.append(f"{where} overall: engine {o_g} vs oracle {o_w}")
    if not _close(got["reporting_share"], want["reporting_share"]):
        out.append(f"{where} share: engine {got['reporting_share']} vs oracle {want['reporting_share']}")
    engine_primaries = {p for s in got["subscriptions"] for p in s["primary_instances"]}
    oracle_primaries = {inst.split(":", 1)[1] for inst in want["primaries"].values()}
    if engine_primaries != oracle_primaries:
        out.append(f"{where} primaries: engine {sorted(engine_primaries)} vs oracle {sorted(oracle_primaries)}")
    return out
