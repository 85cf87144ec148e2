"""A bad export is rejected whole: every problem with its file, line and column; the database unchanged."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from support.sync_helpers import FIXTURE, copy_fixture, dump

from db.models import SyncRun
from db.session import session_scope
from workflows.sync import CsvExport, sync_export

ACCOUNTS = """\
dim_crm_account_id,crm_account_name,customer_since_date
A1,Acme Corp,2021-03-15
A2,Acme Analytics GmbH,2024-13-01
A1,Acme Again,2021-03-15
A3,,2020-01-01
"""
SUBSCRIPTIONS = """\
dim_subscription_id_original,subscription_name,dim_crm_account_id,product_tier_name,product_delivery_type,subscription_start_date,subscription_end_date,licensed_seats,arr
S1,A-S1,A1,Self-Managed - Ultimate,Self-Managed,2021-03-15,,500,1000.5
S2,A-S2,NOPE,SaaS - Premium,SaaS,2025-06-01,,100,
S3,A-S3,A2,Self-Managed - Premium,Self-Managed,2024-09-01,,-5,
S4,A-S4,A1,SaaS - Premium,Cloud,2024-09-01,,10,ten
S1,A-S1 again,A1,SaaS - Premium,SaaS,2024-09-01,,10,
"""
USAGE_HEADER = (
    "snapshot_month,dim_crm_account_id,dim_subscription_id_original,delivery_type,dim_installation_id,uuid,"
    "hostname,dim_namespace_id,ping_created_at,is_usage_ping_license_mapped_to_subscription,billable_user_count,"
    "ci_builds_28_days_event,issues_created_28_days_user"
)
USAGE_ROWS = [
    "2026-10-01,A1,S1,Self-Managed,inst-1,,,,2026-10-28 04:12:00,true,10,5,3",  # line 2: fine
    "2026-10-15,A1,S1,Self-Managed,inst-2,,,,,,,,",  # 3: not the first of a month
    "2026-10-01,A1,S1,Self-Managed,inst-1,,,,,,,,",  # 4: duplicate of line 2
    "2026-10-01,A1,S1,Self-Managed,,uuid-only,,,,,,,",  # 5: SM without installation id or uuid+hostname
    "2026-10-01,A1,S2,SaaS,,,,,,,,,",  # 6: SaaS without namespace
    "2026-10-01,A1,S1,Self-Managed,inst-3,,,,,,abc,,",  # 7: bad integer
    "2026-10-01,A1,S9,Self-Managed,inst-4,,,,,,,,",  # 8: unknown subscription
    "2026-10-01,ZZ,S1,Self-Managed,inst-5,,,,yesterday,maybe,,,",  # 9: unknown account, bad timestamp, bad boolean
    "2026-10-01,A1,S1,Self-Managed,inst-6,,,,,,-3,-7,-1",  # 10: negative counts
    "2026-10-01,A1,S1,Self-Managed,inst-7,,,,,,,,",  # 11: too few fields
    "not-a-date,A1,S1,Self-Managed,inst-8,,,,,,,,",  # 12: bad date
    "2026-10-01,A1,S1,Self-Managed,inst-9,,,,,,,12x,",  # 13: bad number in a metric
]
EXPECTED = [
    "accounts.csv:3: customer_since_date: bad date '2024-13-01' (expected YYYY-MM-DD)",
    "accounts.csv:4: dim_crm_account_id: duplicate account 'A1' (first on line 2)",
    "accounts.csv:5: crm_account_name: missing value",
    "subscriptions.csv:3: dim_crm_account_id: unknown account 'NOPE'",
    "subscriptions.csv:4: licensed_seats: negative count -5",
    "subscriptions.csv:5: product_delivery_type: unexpected value 'Cloud' (expected one of Self-Managed, SaaS)",
    "subscriptions.csv:5: arr: bad decimal 'ten'",
    "subscriptions.csv:6: dim_subscription_id_original: duplicate subscription 'S1' (first on line 2)",
    "usage_monthly.csv:1: deployment_type: missing required column",
    "usage_monthly.csv:3: snapshot_month: 2026-10-15 is not the first day of a month",
    "usage_monthly.csv:4: dim_subscription_id_original: duplicate row for (2026-10-01, sm:inst-1, S1):"
    " an earlier row has the same key",
    "usage_monthly.csv:5: dim_installation_id: missing value"
    " (a self-managed row needs dim_installation_id, or uuid and hostname)",
    "usage_monthly.csv:6: dim_namespace_id: missing value (a SaaS row needs dim_namespace_id)",
    "usage_monthly.csv:7: billable_user_count: bad integer 'abc'",
    "usage_monthly.csv:8: dim_subscription_id_original: unknown subscription 'S9'",
    "usage_monthly.csv:9: ping_created_at: bad timestamp 'yesterday' (expected ISO 8601, e.g. 2026-10-28 04:12:00)",
    "usage_monthly.csv:9: is_usage_ping_license_mapped_to_subscription: bad boolean 'maybe' (expected true or false)",
    "usage_monthly.csv:9: dim_crm_account_id: unknown account 'ZZ'",
    "usage_monthly.csv:10: billable_user_count: negative count -3",
    "usage_monthly.csv:10: ci_builds_28_days_event: negative count -7",
    "usage_monthly.csv:10: issues_created_28_days_user: negative count -1",
    "usage_monthly.csv:11: -: expected 13 fields, found 12",
    "usage_monthly.csv:12: snapshot_month: bad date 'not-a-date' (expected YYYY-MM-DD)",
    "usage_monthly.csv:13: ci_builds_28_days_event: bad number '12x'",
]


def _write_bad_export(folder: Path) -> Path:
    folder.mkdir()
    (folder / "accounts.csv").write_text(ACCOUNTS)
    (folder / "subscriptions.csv").write_text(SUBSCRIPTIONS)
    rows = list(USAGE_ROWS)
    rows[9] = rows[9].rsplit(",", 1)[0]  # line 11 loses a field
    (folder / "usage_monthly.csv").write_text("\n".join([USAGE_HEADER, *rows]) + "\n")
    return folder


def test_corrupted_export_is_rejected_with_every_problem_and_nothing_changes(db_url: str, tmp_path: Path) -> None:
    assert sync_export(CsvExport(FIXTURE), db_url).ok
    before = dump(db_url)

    result = sync_export(CsvExport(_write_bad_export(tmp_path / "bad")), db_url)

    assert result.status == "rejected"
    assert result.problems == EXPECTED
    assert result.problem_count == len(EXPECTED)
    assert dump(db_url) == before
    with session_scope(db_url) as s:
        runs = s.scalars(select(SyncRun).order_by(SyncRun.id)).all()
        assert [r.status for r in runs] == ["succeeded", "rejected"]
        rejected = runs[-1]
        assert rejected.problems == len(EXPECTED)
        assert rejected.rows_changed == 0
        assert rejected.message and EXPECTED[0] in rejected.message


def test_missing_file_and_header_only_problems(db_url: str, tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path / "export")
    (folder / "subscriptions.csv").unlink()
    (folder / "accounts.csv").write_text("crm_account_name\nAcme\n")
    result = sync_export(CsvExport(folder), db_url)
    assert result.status == "rejected"
    assert result.problems[:2] == [
        "accounts.csv:1: dim_crm_account_id: missing required column",
        f"subscriptions.csv: file not found in {folder}",
    ]
    # Without the accounts and subscriptions, every usage row names what it refers to.
    assert "usage_monthly.csv:2: dim_crm_account_id: unknown account '0016100001AcmeA'" in result.problems
    assert dump(db_url)["accounts"] == []


def test_problem_count_is_complete_beyond_what_is_kept(db_url: str, tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path / "export")
    with (folder / "usage_monthly.csv").open("a") as f:
        for i in range(450):
            f.write(f"0016100001AcmeA,2026-07-{1 + i % 28:02d}" + ",x" * 31 + "\n")
    result = sync_export(CsvExport(folder), db_url)
    assert result.status == "rejected"
    assert result.problem_count >= 450
    assert len(result.problems) == result.problem_count  # every problem is kept and listed
    assert result.problems[0].startswith("usage_monthly.csv:12: ")
    assert any(p.startswith("usage_monthly.csv:461: ") for p in result.problems)


def test_invalid_utf8_deep_in_a_big_file_is_reported_at_its_own_line(db_url: str, tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path / "export")
    path = folder / "accounts.csv"
    lines = path.read_bytes().splitlines(keepends=True)
    header, first = lines[0], lines[1]
    body = b"".join(first.replace(b"0016100001", b"X%05d" % i, 1) for i in range(2000))
    bad = b"0016100001Bad,Caf\xe9 Corp,,,,SMB,\n"
    path.write_bytes(header + b"".join(lines[1:]) + body + bad + body.replace(b"X", b"Y"))
    result = sync_export(CsvExport(folder), db_url)
    assert result.status == "rejected"
    bad_line = len(lines) + 2000 + 1
    assert result.problems == [f"accounts.csv:{bad_line}: -: not valid UTF-8"]


def test_invalid_utf8_is_reported_with_its_line(db_url: str, tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path / "export")
    with (folder / "accounts.csv").open("ab") as f:
        f.write(b"0016100001Bad,Caf\xe9 Corp,,,,SMB,\n")
    result = sync_export(CsvExport(folder), db_url)
    assert result.status == "rejected"
    assert result.problems[0].startswith("accounts.csv:")
    assert "not valid UTF-8" in result.problems[0] or "codec" in result.problems[0]
    assert dump(db_url)["accounts"] == []


def test_a_bad_value_repeated_over_an_instances_rows_is_reported_on_each_line(db_url: str, tmp_path: Path) -> None:
    # An instance's rows share their account, subscription and instance columns: a bad one is
    # reported on every line that has it, and a good row after it is still checked in full.
    folder = copy_fixture(tmp_path / "export")
    path = folder / "usage_monthly.csv"
    header, first, *rest = path.read_text().splitlines()
    cols = header.split(",")
    at = cols.index("instance_type")
    month = cols.index("snapshot_month")

    def variant(line: str, day: str, label: str) -> str:
        values = line.split(",")
        values[month], values[at] = day, label
        return ",".join(values)

    lines = [
        variant(first, "2026-01-01", "Productoin"),
        variant(first, "2026-02-01", "Productoin"),
        variant(first, "2026-03-01", "Production"),
        variant(first, "2026-04-01", "Productoin"),
    ]
    path.write_text("\n".join([header, first, *rest, *lines]) + "\n")
    result = sync_export(CsvExport(folder), db_url)
    assert result.status == "rejected"
    n = len(rest) + 3
    assert [p.split(":")[1] for p in result.problems] == [str(n), str(n + 1), str(n + 3)]
    assert all("instance_type: unexpected value 'Productoin'" in p for p in result.problems)
