"""Extra metrics are stored as values beside one stored list of names per export layout, and read by name."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from support.sync_helpers import copy_fixture, read_csv, write_csv

from db.models import MetricLayout, UsageMonthly
from db.models.usage import extra_metric_values
from db.queries.account_data import load_accounts_data
from db.queries.metric_layouts import ExtraMetricsReader, row_extra_metrics
from db.session import session_scope
from workflows.sync import CsvExport, sync_export

ACME = "0016100001AcmeA"
SEP, OCT = date(2026, 9, 1), date(2026, 10, 1)


def _edit(path: Path, keep_month: str | None = None, rename: tuple[str, str] | None = None) -> None:
    table = read_csv(path)
    header = [rename[1] if rename and h == rename[0] else h for h in table[0]]
    month = header.index("snapshot_month")
    write_csv(path, [header, *(r for r in table[1:] if keep_month is None or r[month] == keep_month)])


def _extras(url: str, metric: str) -> dict[tuple[str, date], float | None]:
    with session_scope(url) as s:
        data = load_accounts_data(s, SEP, OCT, metric_columns=[metric])
    return {(r.subscription_id, r.snapshot_month): r.metrics.get(metric) for d in data.values() for r in d.rows}


def test_rows_written_before_a_new_layout_keep_their_names(db_url: str, tmp_path: Path) -> None:
    assert sync_export(CsvExport(copy_fixture(tmp_path / "first")), db_url).ok
    # The next export renames a column and carries October only: September's rows stay as they were stored.
    second = copy_fixture(tmp_path / "second")
    _edit(
        second / "usage_monthly.csv",
        keep_month="2026-10-01",
        rename=("issues_created_28_days_user", "issues_opened_28_days_user"),
    )
    result = sync_export(CsvExport(second), db_url)
    assert result.ok, result.problems

    with session_scope(db_url) as s:
        layouts = {m.id: m.names for m in s.scalars(select(MetricLayout))}
        assert len(layouts) == 2
        rows = list(s.scalars(select(UsageMonthly).where(UsageMonthly.account_id == ACME)))
        by_month = {(r.subscription_id, r.snapshot_month): r for r in rows}
        sept = by_month[("sub-acme-sm", SEP)]
        octo = by_month[("sub-acme-sm", OCT)]
        assert sept.metric_layout_id != octo.metric_layout_id
        assert "issues_created_28_days_user" in layouts[sept.metric_layout_id]
        assert "issues_opened_28_days_user" in layouts[octo.metric_layout_id]
        assert row_extra_metrics(s, sept)["issues_created_28_days_user"] == 125
        assert "issues_opened_28_days_user" not in row_extra_metrics(s, sept)

    # What a custom rules file reads: each row's value under the name its own layout gives.
    created = _extras(db_url, "issues_created_28_days_user")
    opened = _extras(db_url, "issues_opened_28_days_user")
    assert created[("sub-acme-sm", SEP)] == 125 and opened[("sub-acme-sm", SEP)] is None
    october = [key for key in opened if key[1] == OCT]
    assert all(created[key] is None for key in october)
    assert any(opened[key] is not None for key in october)


def test_rows_stored_before_layouts_read_the_same(db_url: str, tmp_path: Path) -> None:
    """A row still holding a JSON object of name: value (stored before layouts) reads as it did."""
    assert sync_export(CsvExport(copy_fixture(tmp_path / "export")), db_url).ok
    before = _extras(db_url, "merge_requests_28_days_user")
    with session_scope(db_url) as s:
        rows = list(s.scalars(select(UsageMonthly)))
        legacy = {r.id: row_extra_metrics(s, r) for r in rows}
        for r in rows:
            s.execute(
                update(UsageMonthly)
                .where(UsageMonthly.id == r.id)
                .values(extra_metrics=legacy[r.id], metric_layout_id=None)
            )
    assert _extras(db_url, "merge_requests_28_days_user") == before
    assert any(v is not None for v in before.values())
    # The next sync writes them in the current form, counted as changed once.
    again = sync_export(CsvExport(copy_fixture(tmp_path / "again")), db_url)
    assert again.ok and again.changes.usage_rows == len(legacy)
    assert _extras(db_url, "merge_requests_28_days_user") == before
    assert sync_export(CsvExport(copy_fixture(tmp_path / "third")), db_url).rows_changed == 0


_VALUE = st.one_of(
    st.none(),
    st.integers(min_value=0, max_value=10**15),
    st.floats(min_value=0, max_value=1e15, allow_nan=False),
)


@settings(max_examples=300, deadline=None)
@given(
    names=st.lists(st.sampled_from([f"m{i}_28_days_user" for i in range(12)]), unique=True, max_size=12),
    wanted=st.lists(st.sampled_from([f"m{i}_28_days_user" for i in range(14)]), unique=True, max_size=14),
    values=st.lists(_VALUE, max_size=14),
    compact=st.booleans(),
    legacy=st.booleans(),
)
def test_extra_metrics_reader_gives_what_the_json_parser_gives(
    names: list[str], wanted: list[str], values: list[float | None], compact: bool, legacy: bool
) -> None:
    """Reading only the values asked for from a row's text equals parsing it whole (`extra_metric_values`), for
    lists written compact (the sync) or spaced (JSON's default), longer or shorter than their layout, and
    for objects (rows stored before layouts)."""
    stored: object = dict(zip(names, values, strict=False)) if legacy else values
    text = json.dumps(stored, separators=(",", ":") if compact else None)
    reader = ExtraMetricsReader({7: names}, wanted)
    want = extra_metric_values(json.loads(text), names)
    got = reader(text, 7)
    assert got == {n: want.get(n) for n in wanted}
    assert all(type(got[n]) is type(want.get(n)) for n in wanted)  # 5 stays an int, 5.0 a float
    # A row without a layout, or with one not stored: nothing but what an object names.
    assert reader(text, None) == reader(text, 8) == {n: extra_metric_values(stored, ()).get(n) for n in wanted}


def test_extra_metrics_reader_takes_text_it_does_not_expect_through_the_json_parser() -> None:
    reader = ExtraMetricsReader({1: ["a", "b", "c"]}, ["a", "c"])
    assert reader("[1,null,2.5]", 1) == {"a": 1, "c": 2.5}
    assert reader("[1e3, null, -0.5]", 1) == {"a": 1000.0, "c": -0.5}
    assert reader("[]", 1) == reader(None, 1) == reader("null", 1) == {"a": None, "c": None}
    assert reader('{"a": 4, "z": 1}', 1) == {"a": 4, "c": None}
    assert reader("[NaN, 1, 2]", 1)["c"] == 2  # not a plain number: parsed as JSON (Python's reads NaN)
