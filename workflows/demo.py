"""`usagebot demo`: a deterministic, realistic warehouse export, synced into the database.

`generate_export(out_dir, …)` only writes the three CSV files (streamed: 20,000 accounts × 24
months is ~1.5 M usage rows and stays in a few MB of memory); benchmarks call it directly.
`run_demo(…)` writes, migrates, syncs and imports the bundled Metrics Dictionary sample.

The numbers are drawn so that every health measure lands in each of Red, Yellow and Green for
some accounts (docs/scoring.md bands), and the data has the untidy parts real exports have: Unknown
instances, Opt-Out rows, months without a ping, empty metrics, ended and mid-period
subscriptions, subscriptions without ARR, and a license that maps to no subscription.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from db.models.usage import SCORED_METRIC_COLUMNS
from workflows.sync.run import Progress, SyncResult

ACCOUNT_HEADER = (
    "dim_crm_account_id",
    "crm_account_name",
    "customer_since_date",
    "technical_account_manager",
    "technical_account_manager_email",
    "parent_crm_account_sales_segment",
)
SUBSCRIPTION_HEADER = (
    "dim_subscription_id_original",
    "subscription_name",
    "dim_crm_account_id",
    "product_tier_name",
    "product_delivery_type",
    "subscription_start_date",
    "subscription_end_date",
    "licensed_seats",
    "arr",
)
USAGE_BASE_HEADER = (
    "snapshot_month",
    "dim_crm_account_id",
    "dim_subscription_id_original",
    "dim_subscription_id",
    "delivery_type",
    "deployment_type",
    "dim_installation_id",
    "uuid",
    "hostname",
    "installation_creation_date",
    "dim_namespace_id",
    "namespace_name",
    "namespace_creation_date",
    "ping_created_at",
    "cleaned_version",
    "license_md5",
    "is_usage_ping_license_mapped_to_subscription",
    "instance_type",
    "included_in_health_measures_str",
    "license_user_count",
    "license_user_count_source",
    "billable_user_count",
    "active_user_count",
    "max_historical_user_count",
)
# Non-scored metrics, named as in the warehouse mart, each as a typical share of billable users.
EXTRA_METRICS: tuple[tuple[str, float], ...] = (
    ("issues_created_28_days_user", 0.30),
    ("merge_requests_28_days_user", 0.45),
    ("epics_28_days_user", 0.05),
    ("analytics_28_days_user", 0.10),
    ("packages_28_days_user", 0.04),
    ("snippets_28_days_event", 0.08),
    ("wiki_pages_create_28_days_event", 0.06),
    ("projects_created_28_days_user", 0.07),
    ("protected_branches_28_days_user", 0.02),
    ("code_review_user_approve_mr_28_days_user", 0.35),
    ("merge_requests_with_required_codeowners_28_days_user", 0.03),
    ("issues_edit_28_days_user", 0.25),
    ("ci_pipeline_config_repository_28_days_user", 0.20),
    ("ci_pipeline_schedules_28_days_user", 0.03),
    ("commit_comment_all_time_event", 9.0),
    ("source_code_pushes_all_time_event", 240.0),
    ("projects_with_repositories_enabled_all_time_user", 0.9),
    ("template_repositories_all_time_event", 0.2),
    ("groups_all_time_event", 0.4),
    ("ci_runners_all_time_event", 0.08),
    ("incident_management_alerts_total_unique_counts_28_days_user", 0.01),
    ("remote_mirrors_all_time_event", 0.02),
)
# User-adoption metrics (scoring/rules/adoption/): monthly active users and the use-case columns the
# adoption rules read that are not above. `service_desk_issues_28_days_user` is left out on purpose, so
# the demo shows a feature "not in the export".
ACTIVE_USERS = "umau_28_days_user"
ADOPTION_METRICS: tuple[tuple[str, float], ...] = (
    ("issues_28_days_user", 0.28),
    ("releases_28_days_user", 0.02),
)
USAGE_HEADER = (
    *USAGE_BASE_HEADER,
    *SCORED_METRIC_COLUMNS,
    *(m for m, _ in EXTRA_METRICS),
    ACTIVE_USERS,
    *(m for m, _ in ADOPTION_METRICS),
)
# Columns counting users, which monthly active users are never below.
_USER_COUNTS = tuple(c for c in (*SCORED_METRIC_COLUMNS, *(m for m, _ in EXTRA_METRICS)) if c.endswith("_28_days_user"))

_WORDS_A = (
    "Blue", "North", "Silver", "Bright", "Cobalt", "Granite", "Harbor", "Iron", "Juniper", "Keystone", "Lumen",
    "Maple", "Nimbus", "Orbit", "Pioneer", "Quartz", "River", "Summit", "Tidal", "Umbra", "Vertex", "Willow",
    "Zenith", "Atlas", "Beacon", "Cedar", "Delta", "Ember", "Falcon", "Glacier", "Helix", "Indigo", "Jade",
)  # fmt: skip
_WORDS_B = (
    "Systems", "Logistics", "Health", "Bank", "Software", "Networks", "Energy", "Retail", "Labs", "Insurance",
    "Foods", "Motors", "Media", "Pharma", "Robotics", "Telecom", "Analytics", "Aerospace", "Capital", "Games",
)  # fmt: skip
_SUFFIX = ("Inc", "Corp", "GmbH", "Ltd", "SA", "AG", "LLC", "BV", "Group", "plc")
_FIRST = (
    "Alex", "Priya", "Jordan", "Mei", "Samuel", "Fatima", "Lukas", "Ana", "Kenji", "Olivia", "Diego", "Chloe",
    "Noah", "Aisha", "Mateo", "Ingrid", "Ravi", "Sofia", "Tom", "Yara",
)  # fmt: skip
_LAST = (
    "Rivera", "Patel", "Kim", "Nguyen", "Okafor", "Schmidt", "Costa", "Tanaka", "Brown", "Haddad", "Novak",
    "Larsen", "Moreau", "Silva", "Cohen", "Ito", "Keller", "Rossi", "Singh", "Walsh",
)  # fmt: skip
_VERSIONS = ("16.3", "16.7", "16.11", "17.0", "17.1", "17.2", "17.3", "17.4", "17.5", "17.6")

# Level of one measure for one instance: index 0 bad, 1 middling, 2 good. Ranges sit inside the
# docs/scoring.md bands (Red / Yellow / Green) so the spread of colours is by construction.
_UTIL = ((0.20, 0.55), (0.60, 0.74), (0.80, 1.05))
_ENGAGE = ((0.20, 0.47), (0.52, 0.78), (0.82, 0.97))
_SCM = ((0.02, 0.09), (0.12, 0.32), (0.36, 0.70))
_CI = ((0.2, 1.9), (3.0, 38.0), (45.0, 160.0))
_DEPLOY_USERS = ((0.0, 0.045), (0.055, 0.115), (0.13, 0.30))
_DEPLOY_PER_USER = ((0.0, 1.9), (2.1, 6.9), (7.5, 18.0))
_DEPLOY_SUCCESS = ((0.05, 0.24), (0.30, 0.78), (0.85, 0.98))
_SCANNER_USERS = ((0.0, 0.045), (0.06, 0.18), (0.21, 0.50))
_SCANS_PER_PIPELINE = ((0.0, 0.09), (0.12, 0.48), (0.6, 2.0))
_SCAN_KINDS = (
    "sast_scans_28_days_event",
    "secret_detection_scans_28_days_event",
    "dependency_scanning_scans_28_days_event",
    "container_scanning_scans_28_days_event",
    "dast_scans_28_days_event",
    "api_fuzzing_scans_28_days_event",
    "coverage_fuzzing_scans_28_days_event",
)


@dataclass
class DemoSummary:
    out_dir: Path
    months: list[date]
    accounts: int = 0
    subscriptions: int = 0
    instances: int = 0
    usage_rows: int = 0
    tams: int = 0
    unknown_instances: int = 0
    instance_types: dict[str, int] = field(default_factory=dict)


def last_full_month(today: date) -> date:
    """First day of the last complete month before `today`."""
    first = today.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def _add_months(d: date, n: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return date(y, m + 1, 1)


@dataclass
class _Sub:
    id: str
    name: str
    delivery: str  # Self-Managed | SaaS
    tier: str
    start: date
    end: date | None
    seats: int
    arr: float | None
    version_id: str

    def active(self, month: date) -> bool:
        month_end = _add_months(month, 1) - timedelta(days=1)
        return self.start <= month_end and (self.end is None or self.end >= month)


@dataclass
class _Instance:
    delivery: str
    deployment: str
    type: str
    installation_id: str
    uuid: str
    hostname: str
    namespace_id: str
    namespace_name: str
    created: date
    first: int  # month index of the first row
    last: int  # month index of the last row
    subs: list[_Sub]
    seats: int
    levels: list[int]  # util, engage, scm, ci, cd, security
    opt_out: bool
    mapped: bool
    license_md5: str
    version: int  # index into _VERSIONS at the first month
    silent: set[int]  # month indexes without a ping
    no_cd: bool
    no_security: bool
    # Shares Subscription Data only (Cloud Licensing without Operational Metrics): license and version, no usage.
    license_only: bool = False
    # Seeds the adoption metrics' own generator, so adding them left the other columns' draws unchanged.
    adoption_seed: str = ""


def _hex(rng: random.Random, bits: int) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def _account_names(rng: random.Random, n: int) -> list[str]:
    names = ["Acme Corp", "Acme Analytics GmbH"]
    seen = set(names)
    while len(names) < n:
        name = f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)} {rng.choice(_SUFFIX)}"
        if name in seen:
            name = f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)} {len(names)}"
        seen.add(name)
        names.append(name)
    return names[:n]


def generate_export(
    out_dir: str | Path,
    accounts: int = 40,
    months: int = 13,
    seed: int = 7,
    today: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Write accounts.csv, subscriptions.csv and usage_monthly.csv into `out_dir`.

    Same arguments, same files: everything is drawn from one `random.Random(seed)`. `months`
    months end with the last full month before `today`. `progress` is called with the number of
    accounts done.
    """
    if accounts < 2:
        raise ValueError("accounts must be at least 2 (Acme Corp and Acme Analytics GmbH)")
    if months < 1:
        raise ValueError("months must be at least 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    end = last_full_month(today or date.today())
    month_list = [_add_months(end, i - months + 1) for i in range(months)]
    summary = DemoSummary(out_dir=out, months=month_list)

    n_tams = max(6, round(accounts / 100))
    tams = []
    for i in range(n_tams):
        first, last = _FIRST[i % len(_FIRST)], _LAST[(i * 7 + i // len(_FIRST)) % len(_LAST)]
        suffix = "" if i < len(_FIRST) else str(i // len(_FIRST))
        tams.append((f"{first} {last}", f"{first.lower()}.{last.lower()}{suffix}@example.com"))
    summary.tams = n_tams
    names = _account_names(rng, accounts)

    with (
        (out / "accounts.csv").open("w", newline="", encoding="utf-8") as fa,
        (out / "subscriptions.csv").open("w", newline="", encoding="utf-8") as fs,
        (out / "usage_monthly.csv").open("w", newline="", encoding="utf-8") as fu,
    ):
        wa, ws, wu = csv.writer(fa), csv.writer(fs), csv.writer(fu)
        wa.writerow(ACCOUNT_HEADER)
        ws.writerow(SUBSCRIPTION_HEADER)
        wu.writerow(USAGE_HEADER)
        sub_counter = 0
        ns_counter = 9_000_000
        opted_out = False
        for a in range(accounts):
            account_id = f"0016100{a:011d}"
            name = names[a]
            slug = "".join(ch for ch in name.lower().split()[0] if ch.isalnum()) + (str(a) if a > 1 else "")
            segment = rng.choices(("Large", "Mid-Market", "SMB"), (2, 4, 4))[0]
            # Acme accounts are fixed shapes so the demo's first commands show something rich.
            if a == 0:
                segment, delivery_mix = "Large", "both"
            elif a == 1:
                segment, delivery_mix = "Mid-Market", "sm"
            else:
                delivery_mix = rng.choices(("sm", "saas", "both"), (6, 3, 2))[0]
            seat_range = {"Large": (500, 4000), "Mid-Market": (100, 700), "SMB": (10, 150)}[segment]
            # A few young customers (under 3 months: no license score yet), most established.
            age_months = rng.choice((1, 2, 4, 5, 8, 9)) if rng.random() < 0.12 else rng.randint(10, 96)
            since = _add_months(end, -age_months).replace(day=rng.randint(1, 28))
            tam = tams[a % n_tams] if (a < 2 or rng.random() > 0.05) else ("", "")
            wa.writerow((account_id, name, since.isoformat(), tam[0], tam[1], segment))
            summary.accounts += 1

            # Subscriptions per delivery type: a main one, sometimes an ended one and one that
            # starts mid-period; some without ARR.
            subs: dict[str, list[_Sub]] = {}
            ws_rows: list[_Sub] = []  # written once their end dates are final (a renewal ends its predecessor)
            for delivery in ("Self-Managed", "SaaS"):
                if (delivery == "Self-Managed" and delivery_mix == "saas") or (
                    delivery == "SaaS" and delivery_mix == "sm"
                ):
                    continue
                tier_name = "Ultimate" if (a == 0 or rng.random() < 0.45) else "Premium"
                price = 1188.0 if tier_name == "Ultimate" else 348.0
                group: list[_Sub] = []
                kinds = ["main"]
                if a == 0 or rng.random() < 0.35:
                    kinds.append("ended")
                if a == 0 or rng.random() < 0.3:
                    kinds.append("new")
                main_sub: _Sub | None = None
                for kind in kinds:
                    sub_counter += 1
                    seats = rng.randint(*seat_range) if kind == "main" else max(5, rng.randint(*seat_range) // 4)
                    if kind == "main":
                        start = max(since, _add_months(month_list[0], -rng.randint(1, 30)))
                        stop = None if rng.random() < 0.7 else _add_months(end, rng.randint(2, 14)) - timedelta(1)
                    elif kind == "ended":
                        start = max(since, _add_months(month_list[0], -rng.randint(6, 24)))
                        stop = _add_months(month_list[0], rng.randint(1, max(1, months - 2))) - timedelta(1)
                    else:
                        # A renewal, as the warehouse shows one: it starts while the main subscription
                        # still runs, the main one ends a month later, and the same instances (same
                        # license size, same ping) report under both during that month.
                        start = _add_months(month_list[0], rng.randint(1, max(1, months - 1))) + timedelta(
                            rng.randint(0, 20)
                        )
                        stop = None
                        if main_sub is not None:
                            seats = main_sub.seats
                            main_sub.end = _add_months(start.replace(day=1), 1) - timedelta(1)
                    no_arr = a > 1 and rng.random() < 0.1
                    arr = None if no_arr else round(seats * price * rng.uniform(0.7, 1.0), 2)
                    sub = _Sub(
                        id=_hex(rng, 128),
                        name=f"A-S{sub_counter:08d}",
                        delivery=delivery,
                        tier=f"{delivery} - {tier_name}",
                        start=start,
                        end=stop,
                        seats=seats,
                        arr=arr,
                        version_id=_hex(rng, 128),
                    )
                    group.append(sub)
                    if kind == "main":
                        main_sub = sub
                    ws_rows.append(sub)
                    summary.subscriptions += 1
                subs[delivery] = group
            for sub in ws_rows:
                ws.writerow(
                    (
                        sub.id,
                        sub.name,
                        account_id,
                        sub.tier,
                        sub.delivery,
                        sub.start.isoformat(),
                        sub.end.isoformat() if sub.end else "",
                        sub.seats,
                        "" if sub.arr is None else f"{sub.arr:.2f}",
                    )
                )
            ws_rows.clear()

            # Instances.
            bias = rng.choice((0, 1, 1, 2, 2))  # the account's general health
            instances: list[_Instance] = []
            sm = _chain(subs.get("Self-Managed", []))
            if sm:
                main = sm[0]
                extra = rng.choice((1, 2, 2, 3, 3, 4, 5)) if a > 1 else 3
                types = ["Production"] + [
                    rng.choices(
                        ("Unknown", "Non-Production", "Obsolete", "Geo Secondary Node"),
                        (6, 2, 1, 1 if segment == "Large" else 0),
                    )[0]
                    for _ in range(extra)
                ]
                if a == 0:
                    types = ["Production", "Geo Secondary Node", "Non-Production", "Unknown", "Obsolete"]
                elif a == 1:
                    types = ["Production", "Unknown", "Unknown", "Non-Production"]
                elif rng.random() < 0.2:
                    types[0] = "Unknown"  # the production server nobody has labelled yet
                for k, typ in enumerate(types):
                    production = k == 0
                    host = {
                        "Production": f"gitlab.{slug}.com",
                        "Geo Secondary Node": f"geo-{k}.gitlab.{slug}.com",
                        "Non-Production": f"gitlab-staging{k}.{slug}.com",
                        "Obsolete": f"old-gitlab{k}.{slug}.local",
                        "Unknown": f"gitlab{k}.{slug}.internal",
                    }[typ if not production else "Production"]
                    first_month = 0 if production or rng.random() < 0.8 else rng.randint(1, max(1, months - 2))
                    last_month = months - 1
                    if typ == "Obsolete":
                        last_month = rng.randint(first_month, max(first_month, months - 4))
                    silent = {i for i in range(months) if rng.random() < 0.05}
                    if rng.random() < 0.08:
                        silent |= {months - 1, months - 2}  # stopped reporting recently
                    inst = _Instance(
                        delivery="Self-Managed",
                        deployment="Self-Managed",
                        type=typ,
                        installation_id="" if (a > 1 and rng.random() < 0.03) else _hex(rng, 64),
                        uuid=f"{_hex(rng, 32)}-{_hex(rng, 16)}",
                        hostname=host,
                        namespace_id="",
                        namespace_name="",
                        created=_add_months(month_list[0], first_month - rng.randint(1, 40)).replace(
                            day=rng.randint(1, 28)
                        ),
                        first=first_month,
                        last=last_month,
                        subs=sm,
                        seats=main.seats if production or typ == "Geo Secondary Node" else rng.randint(5, 60),
                        levels=[min(2, max(0, bias + rng.choice((-1, 0, 0, 1)))) for _ in range(6)],
                        # Some Production servers are Opt-Out; the first one after the Acme accounts always is.
                        opt_out=production and a > 1 and (rng.random() < 0.04 or (a > 4 and not opted_out)),
                        mapped=not ((a == 1 and k == 2) or (a > 1 and rng.random() < 0.004)),
                        license_md5=_hex(rng, 128),
                        version=rng.randint(0, len(_VERSIONS) - 4),
                        silent=silent,
                        no_cd=rng.random() < 0.06,
                        no_security=rng.random() < 0.08,
                    )
                    instances.append(inst)
            saas = _chain(subs.get("SaaS", []))
            if saas:
                ns_counter += rng.randint(1, 900)
                ded = a > 1 and rng.random() < 0.05
                inst = _Instance(
                    delivery="SaaS",
                    deployment="Dedicated" if ded else "GitLab.com",
                    type=rng.choices(("Production", "Unknown"), (3, 1))[0] if a > 1 else "Production",
                    installation_id="",
                    uuid="",
                    hostname="",
                    namespace_id=str(ns_counter),
                    namespace_name=slug + "-group",
                    created=_add_months(month_list[0], -rng.randint(1, 40)).replace(day=rng.randint(1, 28)),
                    first=0,
                    last=months - 1,
                    subs=saas,
                    seats=saas[0].seats,
                    levels=[min(2, max(0, bias + rng.choice((-1, 0, 1)))) for _ in range(6)],
                    opt_out=False,
                    mapped=True,
                    license_md5="",
                    version=len(_VERSIONS) - 1,
                    silent={i for i in range(months) if rng.random() < 0.03},
                    no_cd=rng.random() < 0.06,
                    no_security=rng.random() < 0.08,
                )
                instances.append(inst)

            opted_out = opted_out or any(i.opt_out for i in instances)
            for k, inst in enumerate(instances):
                inst.adoption_seed = f"{seed}:{account_id}:{k}"
                # The third account's Production instance, and a few others, share Subscription Data only.
                chance = random.Random(inst.adoption_seed).random()
                inst.license_only = inst.type == "Production" and a > 1 and (a == 2 or chance < 0.03)
                written = _write_instance_rows(wu, rng, inst, account_id, month_list)
                if not written:
                    continue  # e.g. a new server whose only subscription had already ended
                summary.usage_rows += written
                summary.instances += 1
                summary.instance_types[inst.type] = summary.instance_types.get(inst.type, 0) + 1
                summary.unknown_instances += inst.type == "Unknown"
            if progress is not None and (a + 1) % 200 == 0:
                progress(a + 1)
    if progress is not None:
        progress(accounts)
    return summary


def _write_instance_rows(
    w: Any,  # a csv writer
    rng: random.Random,
    inst: _Instance,
    account_id: str,
    months: list[date],
) -> int:
    rand = rng.random
    lv = inst.levels
    sm = inst.delivery == "Self-Managed"
    util = _pick(rand, _UTIL[lv[0]])
    engage, scm, ci = _pick(rand, _ENGAGE[lv[1]]), _pick(rand, _SCM[lv[2]]), _pick(rand, _CI[lv[3]])
    d_users, d_per_user = _pick(rand, _DEPLOY_USERS[lv[4]]), _pick(rand, _DEPLOY_PER_USER[lv[4]])
    d_success = _pick(rand, _DEPLOY_SUCCESS[lv[4]])
    s_users, s_per_pipe = _pick(rand, _SCANNER_USERS[lv[5]]), _pick(rand, _SCANS_PER_PIPELINE[lv[5]])
    kinds = _SCAN_KINDS[: (0, 1, 2, 3, 4, 6)[int(rand() * 2) + 2 * lv[5]]]
    old_ci = rand() < 0.15  # pre-16.9 instances report only ci_builds_28_days_event
    health = "Opt-Out" if inst.opt_out else "Included in Health Score"
    itype = "" if (inst.type == "Unknown" and rand() < 0.5) else inst.type  # empty also means Unknown
    arng = random.Random(inst.adoption_seed)
    active_share = arng.uniform(0.55, 0.95)
    n_metrics = len(SCORED_METRIC_COLUMNS) + len(EXTRA_METRICS) + 1 + len(ADOPTION_METRICS)
    rows = 0
    for mi in range(inst.first, inst.last + 1):
        month = months[mi]
        active = [sub for sub in inst.subs if sub.active(month)]
        if not active:
            continue
        # One Service Ping per instance and month: the same figures under every subscription it reports for
        # (a renewal overlapping the subscription it renews), as the warehouse shows them.
        rows += len(active)
        y, m = month.year, month.month
        pinged = mi not in inst.silent
        seats = inst.seats
        billable = max(1, round(seats * util * (0.94 + 0.08 * mi / max(1, len(months)) + 0.04 * rand())))
        ver = _VERSIONS[min(len(_VERSIONS) - 1, inst.version + mi // 4)]
        base: list[Any] = [
            month.isoformat(),
            account_id,
            "",  # the subscription's ids, filled in per subscription below
            "",
            inst.delivery,
            inst.deployment,
            inst.installation_id,
            inst.uuid,
            inst.hostname,
            inst.created.isoformat() if sm else "",
            inst.namespace_id,
            inst.namespace_name,
            "" if sm else inst.created.isoformat(),
            f"{y:04d}-{m:02d}-{20 + int(rand() * 8):02d} {int(rand() * 24):02d}:{int(rand() * 60):02d}:00"
            if pinged
            else "",
            f"{ver}.{int(rand() * 4)}" if pinged and sm else "",
            inst.license_md5,
            ("true" if inst.mapped else "false") if sm else "",
            itype,
            health,
            seats,
            "Zuora" if sm else "gitlabdotcom",
            billable if pinged or not sm else "",
            round(billable * 0.9) if pinged else "",
            round(billable * 1.15),
        ]
        line = base + [""] * n_metrics
        if pinged:
            j = 0.9 + 0.2 * rand()  # the month's wobble, shared by its metrics
            builds = round(billable * ci * j)
            pipelines = max(1, round(builds / 6))
            deploys = round(billable * d_per_user * j)
            ok = round(deploys * d_success)
            scans = round(pipelines * s_per_pipe * j)
            per_kind = {k: round(scans / len(kinds)) for k in kinds} if kinds else {}
            metric = {
                "last_activity_28_days_user": round(billable * engage * j) if sm else "",
                "action_monthly_active_users_project_repo_28_days_user": round(billable * scm * j),
                "ci_builds_28_days_event_post_16_9": "" if old_ci else builds,
                "ci_builds_28_days_event": builds,
                "ci_pipelines_28_days_user": round(billable * min(1.0, ci / 60) * j),
                "ci_internal_pipelines_28_days_event": pipelines,
                "deployments_28_days_user": "" if inst.no_cd else round(billable * d_users * j),
                "deployments_28_days_event": "" if inst.no_cd else deploys,
                "successful_deployments_28_days_event": "" if inst.no_cd else ok,
                "failed_deployments_28_days_event": "" if inst.no_cd else deploys - ok,
                "user_unique_users_all_secure_scanners_28_days_user": ""
                if inst.no_security
                else round(billable * s_users * j),
            }
            for k in _SCAN_KINDS:
                metric[k] = "" if inst.no_security else per_kind.get(k, 0)
            extras: list[int | str] = [round(billable * share * (0.8 + 0.4 * rand())) for _, share in EXTRA_METRICS]
            if rand() < 0.1:
                extras[int(rand() * len(extras))] = ""  # a metric not reported this month
            row = base + [metric[c] for c in SCORED_METRIC_COLUMNS] + extras
            if not inst.license_only:
                reported = dict(zip(USAGE_HEADER[: len(row)], row, strict=True))
                line = row + _adoption_metrics(arng, billable, active_share, reported)
        for sub in active:
            line[2], line[3] = sub.id, sub.version_id
            w.writerow(line)
    return rows


def _chain(group: list[_Sub]) -> list[_Sub]:
    """The subscriptions a delivery type's instances report under: the main one and its renewal (an
    ended subscription belonged to servers that are gone)."""
    if not group:
        return []
    main = group[0]
    return [main] + [s for s in group[1:] if main.end is not None and s.start <= main.end and s.seats == main.seats]


def _adoption_metrics(arng: random.Random, billable: int, active_share: float, reported: dict[str, Any]) -> list[Any]:
    """Monthly active users (never fewer than any user count reported) and the adoption-only columns."""
    users = [v for v in (reported.get(c) for c in _USER_COUNTS) if isinstance(v, int)]
    active = max([round(billable * active_share * arng.uniform(0.95, 1.05)), *users])
    return [active, *(round(active * share * arng.uniform(0.6, 1.4)) for _, share in ADOPTION_METRICS)]


def _pick(rand: Callable[[], float], span: tuple[float, float]) -> float:
    lo, hi = span
    return lo + (hi - lo) * rand()


@dataclass
class DemoResult:
    export: DemoSummary
    sync: SyncResult
    metrics: str  # one line on the Metrics Dictionary sample import


def import_bundled_metrics_sample(database_url: str) -> str:
    """Hook: load the Metrics Dictionary sample shipped with `workflows.metrics_import`.

    Metrics import is its own module (another area); the demo only calls it when it is present,
    so the demo works with or without it. Returns a one-line summary for the demo's output.
    """
    try:
        from workflows import metrics_import
    except ImportError as exc:
        return f"Metrics Dictionary sample: skipped (metrics import not available: {exc})"
    sample = getattr(metrics_import, "SAMPLE_PATH", None)
    importer = getattr(metrics_import, "import_definitions", None)
    if sample is None or importer is None or not Path(sample).exists():
        return "Metrics Dictionary sample: skipped (no bundled sample found)"
    from db.session import session_scope

    try:
        with session_scope(database_url) as session:
            result = importer(session, sample)
    except Exception as exc:  # another area's code: report it, don't let it sink the demo
        return f"Metrics Dictionary sample: import failed ({exc.__class__.__name__}: {exc})"
    stored = getattr(result, "stored", None)
    return f"Metrics Dictionary sample: {stored if stored is not None else 'imported'} definitions from {sample}"


def run_demo(
    database_url: str,
    out_dir: str | Path,
    accounts: int = 40,
    months: int = 13,
    seed: int = 7,
    today: date | None = None,
    progress: Progress | None = None,
) -> DemoResult:
    """Write the export, migrate the database, sync the export, import the metrics sample."""
    from db.migrate import upgrade
    from workflows.sync import CsvExport, sync_export

    summary = generate_export(out_dir, accounts=accounts, months=months, seed=seed, today=today)
    upgrade(database_url)
    result = sync_export(CsvExport(out_dir), database_url, progress=progress)
    metrics = import_bundled_metrics_sample(database_url) if result.ok else "Metrics Dictionary sample: skipped"
    return DemoResult(export=summary, sync=result, metrics=metrics)
