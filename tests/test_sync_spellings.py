"""A row's metrics load the same whichever way the validator types them.

Rows whose metric values are all plain digits are typed at once (validate.py, "all-plain-digits
check"); any other spelling goes value by value. Spelling the same numbers differently must store
exactly the same rows, and loading the plain spelling over the other must change nothing.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import truncate_all
from support.sync_helpers import copy_fixture, dump

from workflows.sync import CsvExport, sync_export
from workflows.sync.contract import METRIC_NAME, SCORED_COLS, USAGE_COLS
from workflows.sync.stage import _sqlite_timestamp, _sqlite_value


def _respell(folder: Path, spell: dict[str, str]) -> int:
    """Rewrite every plain-digit metric value of usage_monthly.csv as spell[kind] % value; how many."""
    path = folder / "usage_monthly.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    contract = {c.name for c in USAGE_COLS}
    scored = {c.name for c in SCORED_COLS}
    changed = 0
    for row in rows[1:]:
        for k, name in enumerate(header):
            if name in contract or not row[k].isdigit():
                continue
            kind = "scored" if name in scored else "extra" if METRIC_NAME.search(name) else "other"
            row[k] = spell[kind] % row[k]
            changed += 1
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    return changed


@pytest.mark.parametrize(
    "spell",
    [
        {"scored": "%s.0", "extra": "0%s", "other": "%s.0"},  # float-printed, a leading zero
        {"scored": " %s ", "extra": "%s.00", "other": " %s"},  # padded
    ],
)
def test_metric_spellings_load_the_same_rows(db_url: str, tmp_path: Path, spell: dict[str, str]) -> None:
    plain = copy_fixture(tmp_path / "plain")
    first = sync_export(CsvExport(plain), db_url)
    assert first.ok, first.problems
    expected = dump(db_url)
    assert expected["usage_monthly"]

    truncate_all(db_url)
    unusual = copy_fixture(tmp_path / "unusual")
    assert _respell(unusual, spell) > 0
    second = sync_export(CsvExport(unusual), db_url)
    assert second.ok, second.problems
    assert dump(db_url) == expected

    again = sync_export(CsvExport(plain), db_url)
    assert again.ok and again.rows_changed == 0


def test_a_bad_metric_among_plain_ones_is_still_reported(db_url: str, tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path / "e")
    path = folder / "usage_monthly.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    extra = next(n for n in header if METRIC_NAME.search(n) and n not in {c.name for c in SCORED_COLS})
    rows[2][header.index(extra)] = "-4"
    rows[3][header.index(SCORED_COLS[0].name)] = "lots"
    rows[4][header.index(SCORED_COLS[1].name)] = "9" * 400  # plain digits, but no finite number
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    result = sync_export(CsvExport(folder), db_url)
    assert result.status == "rejected"
    assert f"usage_monthly.csv:3: {extra}: negative count -4" in result.problems
    assert f"usage_monthly.csv:4: {SCORED_COLS[0].name}: bad number 'lots'" in result.problems
    assert f"usage_monthly.csv:5: {SCORED_COLS[1].name}: bad number '{'9' * 400}'" in result.problems


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 10, 28, 4, 12, tzinfo=UTC),
        datetime(2026, 10, 28, 4, 12, 0, 5, tzinfo=UTC),
        datetime(2026, 10, 28, 4, 12, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 10, 28, 4, 12),
        datetime(999, 1, 2, tzinfo=UTC),  # a 3-digit year: strftime does not pad it
        date(2026, 10, 1),
    ],
)
def test_fast_timestamp_text_is_sqlalchemys(value: datetime | date) -> None:
    assert _sqlite_timestamp(value) == _sqlite_value(value)
