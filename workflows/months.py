"""Which months have data, and refusing the ones that do not (report, try, alerts, digest, Slack views).

A month outside the data is refused with the first and last month that have data, so nobody reads
"No data" (or, worse, today's list labelled with a future month) as a fact about the customer.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from db.queries.health import data_months, month_has_data
from scoring.trends import add_months


class MonthOutsideData(ValueError):
    """The month asked for has no usage data; the message names the months that do."""

    def __init__(self, month: date, span: tuple[date, date] | None, what: str = "usage data") -> None:
        self.month = month
        self.span = span
        if span is None:
            text = f"There is no {what} for {month:%Y-%m}: no usage data has been loaded yet (run `usagebot sync`)."
        else:
            first, last = span
            text = (
                f"There is no {what} for {month:%Y-%m}: the data runs from {first:%Y-%m} to {last:%Y-%m} "
                f"(first and last month with data)."
            )
        super().__init__(text)


def check_month(session: Session, month: date) -> date:
    """`month` (first of the month) when usage rows exist for it, else `MonthOutsideData`."""
    month = month.replace(day=1)
    if month_has_data(session, month):
        return month
    raise MonthOutsideData(month, data_months(session))


def check_digest_month(session: Session, month: date, this_month: date) -> date:
    """A digest is for a month from the first month with data up to next month (it lists today's
    Unknown instances, so a month further out or one before the data would label them wrongly)."""
    month = month.replace(day=1)
    upcoming = add_months(this_month.replace(day=1), 1)  # the next digest may be previewed (its day and hour)
    span = data_months(session)
    first = span[0] if span is not None else month  # no usage rows: the instances alone are listed
    if first <= month <= max(span[1] if span is not None else upcoming, upcoming):
        return month
    raise MonthOutsideData(month, span, what="digest")
