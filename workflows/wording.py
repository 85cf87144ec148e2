"""How figures are said, in one place for every view (Slack blocks, `usagebot try`, `usagebot report`, DMs).

Pure functions: thousands separators, plurals, the two named utilizations, versions behind.
"""

from __future__ import annotations

import math

from scoring.flags import is_newest
from scoring.model import AccountReport


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 month', '2 months', '1,234 seats' (`many` for irregular plurals)."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def pct(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}%}"


def number(value: float | int | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{int(value):,}"


def seats_pct(utilization: float | None) -> str:
    """Seats in use as a whole percentage, rounded down: 74.99% reads '74%', never '75%'.

    It sits beside the license utilization health measure, whose colour changes at whole percentages
    (75%, 100%…); rounding down keeps the two from reading as if on opposite sides of an edge.
    """
    if utilization is None:
        return "n/a"
    return f"{math.floor(round(utilization * 100, 6))}%"


def seats_in_use(billable: int | None, seats: int, utilization: float | None) -> str:
    """The account's (or a subscription's) seats in use: '84 of 200 seats (42%)'."""
    if seats <= 0:
        return "no licensed seats this month" if billable is None else f"{billable:,} billable users, no licensed seats"
    if billable is None:
        return f"no billable users reported, {plural(seats, 'seat')}"
    return f"{billable:,} of {plural(seats, 'seat')} ({seats_pct(utilization)})"


def customer_for(months: int | None) -> str:
    """'customer for 80 months' (the account's age: what the license band is chosen by)."""
    return "customer since an unknown date" if months is None else f"customer for {plural(months, 'month')}"


def version_note(report: AccountReport, instance_id: int, version: str | None) -> str:
    """' (newest)', ' (3 minor versions behind 17.6.2)', ' (patch behind 17.6.3)': always against
    `report.newest_version`, the newest version any instance reported in the month."""
    newest = report.newest_version
    if not version or not newest:
        return ""
    if is_newest(version, newest):
        return " (newest)"
    behind = report.behind.get(instance_id)
    if behind:
        return f" ({plural(behind, 'minor version')} behind {newest})"
    return f" (patch behind {newest})"


def version_text(report: AccountReport, instance_id: int, version: str | None) -> str:
    """'v17.2.0 (4 minor versions behind 17.6.3)', or 'version n/a' for a namespace or an instance that sent none."""
    return (f"v{version}" if version else "version n/a") + version_note(report, instance_id, version)
