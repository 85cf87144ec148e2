"""Data-quality and attention flags of an account-month, each telling the TAM what to do."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Protocol

from scoring.model import AccountMonth, Flag, InstanceInfo, UsageRow
from scoring.rollup import describe_instance, month_end, pinged_in
from scoring.rules import Rules
from scoring.trends import add_months

_VERSION = re.compile(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?")
GEO_SECONDARY = "Geo Secondary Node"  # a read-only replica: it never sends Service Ping itself

LICENSE_UNMAPPED_ADVICE = "ask Support to generate a new license with the right subscription id"


class LicenseRow(Protocol):
    """What the unmapped-license rule reads of a usage row (a `UsageRow`, or a database row with these columns)."""

    @property
    def instance_id(self) -> int: ...

    @property
    def snapshot_month(self) -> date: ...

    @property
    def license_mapped(self) -> bool | None: ...


def unmapped_license_instances(rows: Iterable[LicenseRow], month: date) -> list[int]:
    """Instances whose usage row of `month` (the month shown) carries a license not linked to a subscription.

    Only that month's row counts: an older unmapped row never flags an instance (the license may have been
    replaced since, or the instance retired), and an empty value is "not reported", not "unmapped". The
    account report and the monthly digest both apply this rule to the data's latest month.
    """
    return sorted({r.instance_id for r in rows if r.snapshot_month == month and r.license_mapped is False})


@lru_cache(maxsize=4096)
def parse_version(version: str | None) -> tuple[int, int, int] | None:
    """(major, minor, patch) of '17.3.2' / '17.3.2-ee' / '17.3'; None when it is not a version."""
    # Cached: a book has a few hundred distinct versions, parsed for every instance of every account-month.
    m = _VERSION.match(version or "")
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)) if m else None


def version_key(version: str | None) -> tuple[int, int, int]:
    """Sort key, oldest first; what is not a version sorts last."""
    return parse_version(version) or (10**9, 0, 0)


def newest_version(versions: Iterable[str | None]) -> str | None:
    """The newest of `versions`, compared as (major, minor, patch); ties keep the plainest spelling."""
    best: tuple[tuple[int, int, int], str] | None = None
    for v in versions:
        parsed = parse_version(v)
        if parsed is None or v is None:
            continue
        if best is None or parsed > best[0] or (parsed == best[0] and v < best[1]):
            best = (parsed, v)
    return best[1] if best else None


def minors_behind(version: str | None, newest: str | None, rules: Rules) -> int | None:
    """Minor versions between `version` and `newest`, counting a major as `minor_versions_per_major`."""
    a, b = parse_version(version), parse_version(newest)
    if a is None or b is None:
        return None
    per_major = rules.flags.minor_versions_per_major
    return max(0, (b[0] - a[0]) * per_major + (b[1] - a[1]))


def is_newest(version: str | None, newest: str | None) -> bool:
    a, b = parse_version(version), parse_version(newest)
    return a is not None and b is not None and a >= b


def end_of_month_instant(month: date) -> datetime:
    """The first instant after the month: "the end of the month shown"."""
    return datetime.combine(month_end(month) + timedelta(days=1), time.min, tzinfo=UTC)


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def latest_pings(
    rows: Sequence[UsageRow], instances: Mapping[int, InstanceInfo], month: date
) -> dict[int, datetime | None]:
    """Each instance's latest ping up to the end of `month` (later pings are not known then)."""
    end = end_of_month_instant(month)
    out: dict[int, datetime | None] = {}
    for inst_id, inst in instances.items():
        last = inst.last_ping_at
        out[inst_id] = _aware(last) if last is not None and _aware(last) < end else None
    for r in rows:
        if r.ping_created_at is None or r.snapshot_month > month:
            continue
        ts = _aware(r.ping_created_at)
        if ts < end:
            cur = out.get(r.instance_id)
            if cur is None or ts > cur:
                out[r.instance_id] = ts
    return out


def latest_versions(rows: Sequence[UsageRow], month: date) -> dict[int, str | None]:
    """Each instance's version on its latest row (with a version) up to `month`."""
    best: dict[int, tuple[date, str]] = {}
    for r in rows:
        if r.version and r.snapshot_month <= month:
            cur = best.get(r.instance_id)
            if cur is None or r.snapshot_month > cur[0]:
                best[r.instance_id] = (r.snapshot_month, r.version)
    return {k: v for k, (_, v) in best.items()}


def account_flags(
    current: AccountMonth,
    rows: Sequence[UsageRow],
    instances: Mapping[int, InstanceInfo],
    newest: str | None,
    rules: Rules,
    pings: Mapping[int, datetime | None] | None = None,
) -> tuple[Flag, ...]:
    """Flags of the month shown. `pings` = `latest_pings(rows, instances, month)` when the caller has it."""
    month = current.month
    ym = month.strftime("%Y-%m")
    flags: list[Flag] = []
    month_rows = [r for r in rows if r.snapshot_month == month]
    window_rows = [r for r in rows if r.snapshot_month <= month]
    in_month = {r.instance_id for r in month_rows}
    production = rules.account.production_label
    # Instances the TAM should hear about: every one with a row this month, and Production ones
    # seen earlier in the window (a Production instance that went silent matters most).
    # The instance summary's last month seen says the same as the rows of the trend window whatever window
    # the caller loaded (Home loads two months, /usage twelve), so every view flags the same instances.
    start = add_months(month, -(rules.trend_months - 1))
    seen = {i for i, inst in instances.items() if inst.last_seen_month and start <= inst.last_seen_month <= month}
    window_ids = {r.instance_id for r in window_rows if r.snapshot_month >= start}
    watched = sorted(in_month | {i for i in window_ids | seen if instances.get(i, None) is not None})
    watched = [i for i in watched if i in in_month or instances[i].label == production]
    if pings is None:
        pings = latest_pings(rows, instances, month)
    end = end_of_month_instant(month)

    for inst_id in unmapped_license_instances(month_rows, month):
        name = describe_instance(instances.get(inst_id), inst_id)
        flags.append(
            Flag(
                "license_unmapped",
                f"{name}'s license has no subscription linked, so its usage may not count for the account: "
                f"{LICENSE_UNMAPPED_ADVICE}.",
                instance_id=inst_id,
            )
        )

    for inst_id in watched:
        inst = instances.get(inst_id)
        if inst is not None and inst.label in ("Obsolete", GEO_SECONDARY):
            # Obsolete: a person said it is gone. Geo secondary: replicas never send Service Ping.
            continue
        name = describe_instance(inst, inst_id)
        last = pings.get(inst_id)
        reported = any(pinged_in(r, month) for r in month_rows if r.instance_id == inst_id)
        stale = last is not None and (end - last) > timedelta(days=rules.flags.stale_after_days)
        # One fact, one flag: an instance silent this month is "not reporting" (with how old its last
        # ping is); "stale" is only for one that reported but whose latest ping is still too old.
        if not reported:
            if last is None:
                since = " (no ping seen)"
            else:
                days = (end - last).days
                ago = f"{days:,} day{'s' if days != 1 else ''}"
                since = f" (last ping {last.date().isoformat()}, {ago} before the end of {ym})"
            flags.append(
                Flag(
                    "not_reporting",
                    f"{name} sent no Service Ping in {ym}{since}: ask the customer to check that Service Ping is "
                    "enabled, or relabel the instance Obsolete if it was retired.",
                    instance_id=inst_id,
                )
            )
        elif stale and last is not None:
            days = (end - last).days
            flags.append(
                Flag(
                    "stale",
                    f"{name}'s latest ping is from {last.date().isoformat()}, {days:,} days before the end of {ym}: "
                    "its numbers are out of date and are not used as this month's.",
                    instance_id=inst_id,
                )
            )

    month_instances = [instances[i] for i in sorted(in_month) if i in instances] or [
        instances[i] for i in sorted({r.instance_id for r in window_rows}) if i in instances
    ]
    if not any(i.label == production for i in month_instances):
        unknown = sum(1 for i in month_instances if i.label == "Unknown")
        if unknown:
            msg = (
                f"No {production} instance in {ym}; {unknown} instance(s) are Unknown: relabel them "
                f"(/usage … instances) so product health can be scored."
            )
        else:
            msg = f"No {production} instance in {ym}: product health cannot be scored until one is labelled."
        flags.append(Flag("no_production", msg))

    for sm in current.subscriptions:
        seats = sm.info.licensed_seats
        lic = sm.license_user_count
        if lic and seats and lic != seats and sm.primary_instance_id is not None:
            name = describe_instance(instances.get(sm.primary_instance_id), sm.primary_instance_id)
            flags.append(
                Flag(
                    "license_mismatch",
                    f"{name}'s license is for {lic:,} users but {sm.info.name} has {seats:,} licensed seats: "
                    "ask the customer to upload the current license (or Support to issue one for "
                    f"{sm.info.name}), so usage is measured against what was bought.",
                    instance_id=sm.primary_instance_id,
                    subscription_id=sm.info.id,
                )
            )
        if sm.billable_users is not None and sm.billable_users > seats:
            flags.append(
                Flag(
                    "over_licensed",
                    f"{sm.info.name} has {sm.billable_users:,} billable users on {seats:,} licensed seats: "
                    "discuss a true-up or more seats with the customer.",
                    instance_id=sm.primary_instance_id,
                    subscription_id=sm.info.id,
                )
            )

    for im in current.instances:
        if im.row is None and im.instance.id not in in_month:
            continue
        if im.instance.label in ("Obsolete", GEO_SECONDARY):
            continue  # a retired instance needs no upgrade; a Geo secondary follows its primary
        behind = minors_behind(im.version, newest, rules)
        if behind is not None and behind > rules.flags.version_behind_minor_versions:
            name = describe_instance(im.instance, im.instance.id)
            flags.append(
                Flag(
                    "version_behind",
                    f"{name} runs GitLab {im.version}, {behind} minor versions behind the newest reported in {ym} "
                    f"({newest}): "
                    "suggest an upgrade.",
                    instance_id=im.instance.id,
                )
            )
    return sort_flags(tuple(flags))


def sort_flags(flags: tuple[Flag, ...]) -> tuple[Flag, ...]:
    """The defined order flags are shown in (never the database's): by kind, then by their words."""
    return tuple(sorted(flags, key=lambda f: (_KIND_ORDER.get(f.kind, 99), f.message)))


# The order flags are shown in: what stops the account being measured first, then advice.
_KIND_ORDER = {
    "no_production": 0,
    "not_reporting": 1,
    "stale": 2,
    "license_unmapped": 3,
    "license_mismatch": 4,
    "over_licensed": 5,
    "version_behind": 6,
}
