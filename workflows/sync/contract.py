"""The export's columns (docs/data-contract.md) and how one raw value becomes a typed one.

Converters accept what a CSV gives (text) and what a database driver gives (date, Decimal, bool…),
return None for "empty", and raise ValueError with a short reason for anything else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from db.models.usage import LABELS, SCORED_METRIC_COLUMNS

TABLES: tuple[str, ...] = ("accounts", "subscriptions", "usage_monthly")

Converter = Callable[[Any], Any]

# What kind of value each converter accepts ("text" with its maximum length, "choice" with its
# spellings, "date", …), so the set-based PostgreSQL load (workflows/sync/bulk.py) checks the same
# columns by the same rules without a second copy of the contract.
KINDS: dict[Converter, tuple[str, Any]] = {}


def _text(max_len: int) -> Converter:
    def conv(v: Any) -> str | None:
        if v is None:
            return None
        s = v.strip() if isinstance(v, str) else str(v)
        if not s:
            return None
        if len(s) > max_len:
            raise ValueError(f"longer than {max_len} characters")
        return s

    KINDS[conv] = ("text", max_len)
    return conv


# Dates repeat a lot (snapshot months, start dates): parse each distinct text once.
_DATE_CACHE: dict[str, date] = {}


def to_date(v: Any) -> date | None:
    if v.__class__ is str:
        hit = _DATE_CACHE.get(v)  # the common case: a month or date seen before, as text
        if hit is not None:
            return hit
    elif v is None:
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    s = str(v).strip()
    if not s:
        return None
    hit = _DATE_CACHE.get(s)
    if hit is not None:
        return hit
    try:
        d = date.fromisoformat(s[:10]) if len(s) >= 10 else date.fromisoformat(s)
        rest = s[10:].strip()
        # Warehouses sometimes render a DATE as a midnight timestamp; accept that, nothing else.
        if rest and datetime.fromisoformat(s).time() != datetime.min.time():
            raise ValueError
    except ValueError:
        raise ValueError(f"bad date {s!r} (expected YYYY-MM-DD)") from None
    if len(_DATE_CACHE) < 100_000:
        _DATE_CACHE[s] = d
    return d


def to_timestamp(v: Any) -> datetime | None:
    """Aware UTC datetime; a timestamp without zone is taken as UTC (the warehouse's clock)."""
    if v is None:
        return None
    if isinstance(v, datetime):
        ts = v
    elif isinstance(v, date):
        ts = datetime(v.year, v.month, v.day)
    else:
        s = str(v).strip()
        if not s:
            return None
        try:
            ts = datetime.fromisoformat(s)
        except ValueError:
            raise ValueError(f"bad timestamp {s!r} (expected ISO 8601, e.g. 2026-10-28 04:12:00)") from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _number(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool):
        raise ValueError(f"bad number {v!r}")
    if isinstance(v, int | float | Decimal):
        f = float(v)
    else:
        s = v.strip() if isinstance(v, str) else str(v)
        if not s:
            return None
        try:
            f = float(s)
        except ValueError:
            raise ValueError(f"bad number {s!r}") from None
    if not math.isfinite(f):
        raise ValueError(f"bad number {v!r}")
    return f


def to_decimal(v: Any) -> float | None:
    try:
        return _number(v)
    except ValueError:
        raise ValueError(f"bad decimal {str(v).strip()!r}") from None


def to_count(v: Any) -> int | None:
    """A non-negative integer; '12.0' is accepted (warehouses often render integers as floats)."""
    if v.__class__ is str and v.isdigit() and v.isascii() and len(v) < 10:
        return int(v)  # fast path: plain digits
    try:
        f = _number(v)
    except ValueError:
        raise ValueError(f"bad integer {str(v).strip()!r}") from None
    if f is None:
        return None
    if not f.is_integer() or abs(f) > 2**31 - 1:
        raise ValueError(f"bad integer {str(v).strip()!r}")
    if f < 0:
        raise ValueError(f"negative count {int(f)}")
    return int(f)


def to_metric(v: Any) -> float | None:
    f = _number(v)
    if f is not None and f < 0:
        raise ValueError(f"negative count {v!s}".strip())
    return f


_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


def to_bool(v: Any) -> bool | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if not s:
        return None
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(f"bad boolean {str(v).strip()!r} (expected true or false)")


def _choice(*allowed: str) -> Converter:
    """Case-insensitive pick from a fixed list; returns the canonical spelling."""
    canon = {a.lower(): a for a in allowed}
    listed = ", ".join(allowed)

    def conv(v: Any) -> str | None:
        if v is None:
            return None
        s = str(v).strip()
        if not s:
            return None
        hit = canon.get(s.lower())
        if hit is None:
            raise ValueError(f"unexpected value {s!r} (expected one of {listed})")
        return hit

    KINDS[conv] = ("choice", tuple(allowed))
    return conv


KINDS.update(
    {
        to_date: ("date", None),
        to_timestamp: ("timestamp", None),
        to_decimal: ("decimal", None),
        to_count: ("count", None),
        to_metric: ("metric", None),
        to_bool: ("bool", (tuple(sorted(_TRUE)), tuple(sorted(_FALSE)))),
    }
)


@dataclass(frozen=True)
class Col:
    name: str  # the warehouse's column name (lower case)
    dest: str  # the staging column it fills
    conv: Converter
    required: bool = False


DELIVERY = _choice("Self-Managed", "SaaS")

ACCOUNT_COLS: tuple[Col, ...] = (
    Col("dim_crm_account_id", "id", _text(64), True),
    Col("crm_account_name", "name", _text(255), True),
    Col("customer_since_date", "customer_since_date", to_date),
    Col("technical_account_manager", "tam_name", _text(255)),
    Col("technical_account_manager_email", "tam_email", _text(255)),
    Col("parent_crm_account_sales_segment", "sales_segment", _text(64)),
)

SUBSCRIPTION_COLS: tuple[Col, ...] = (
    Col("dim_subscription_id_original", "id", _text(64), True),
    Col("subscription_name", "name", _text(255), True),
    Col("dim_crm_account_id", "account_id", _text(64), True),
    Col("product_tier_name", "product_tier_name", _text(128), True),
    Col("product_delivery_type", "delivery_type", DELIVERY, True),
    Col("subscription_start_date", "start_date", to_date, True),
    Col("subscription_end_date", "end_date", to_date),
    Col("licensed_seats", "licensed_seats", to_count, True),
    Col("arr", "arr", to_decimal),
)

# Usage columns other than metrics. `creation_date` is filled from whichever of the two creation
# dates matches the row's delivery type.
USAGE_COLS: tuple[Col, ...] = (
    Col("snapshot_month", "snapshot_month", to_date, True),
    Col("dim_crm_account_id", "account_id", _text(64), True),
    Col("dim_subscription_id_original", "subscription_id", _text(64), True),
    Col("dim_subscription_id", "subscription_version_id", _text(64)),
    Col("delivery_type", "delivery_type", DELIVERY, True),
    Col("deployment_type", "deployment_type", _choice("Self-Managed", "GitLab.com", "Dedicated"), True),
    Col("dim_installation_id", "installation_id", _text(128)),
    Col("uuid", "uuid", _text(128)),
    Col("hostname", "hostname", _text(255)),
    Col("installation_creation_date", "installation_creation_date", to_date),
    Col("dim_namespace_id", "namespace_id", _text(128)),
    Col("namespace_name", "namespace_name", _text(255)),
    Col("namespace_creation_date", "namespace_creation_date", to_date),
    Col("ping_created_at", "ping_created_at", to_timestamp),
    Col("cleaned_version", "cleaned_version", _text(32)),
    Col("license_md5", "license_md5", _text(64)),
    Col("is_usage_ping_license_mapped_to_subscription", "license_mapped", to_bool),
    Col("instance_type", "instance_type", _choice(*LABELS)),
    Col("included_in_health_measures_str", "included_in_health", _text(64)),
    Col("license_user_count", "license_user_count", to_count),
    Col("license_user_count_source", "license_user_count_source", _text(32)),
    Col("billable_user_count", "billable_user_count", to_count),
    Col("active_user_count", "active_user_count", to_count),
    Col("max_historical_user_count", "max_historical_user_count", to_count),
)

SCORED_COLS: tuple[Col, ...] = tuple(Col(m, m, to_metric) for m in SCORED_METRIC_COLUMNS)

# Service Ping metric names carry their time frame; such columns are metrics by name, so a
# non-numeric value in one is an error rather than a text column to skip.
METRIC_NAME = re.compile(r"_(\d+_days|all_time|monthly|weekly)_(user|event)s?(_|$)")

_USAGE_NAMES = frozenset(c.name for c in USAGE_COLS + SCORED_COLS)


def extra_metric_columns(columns: Sequence[str]) -> list[str]:
    """The usage file's extra columns (every column the contract does not name), sorted: a row stores their
    values in this order, and its metric layout (db.models.usage.MetricLayout) holds the names."""
    return sorted({n for n in columns if n and n not in _USAGE_NAMES})


CONTRACT_COLUMNS: dict[str, tuple[Col, ...]] = {
    "accounts": ACCOUNT_COLS,
    "subscriptions": SUBSCRIPTION_COLS,
    "usage_monthly": USAGE_COLS + SCORED_COLS,
}
