"""Sync of CSV exports: load, idempotency, updates by key, people's labels, provenance."""

from __future__ import annotations

import csv
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select, update
from support.sync_helpers import FIXTURE, copy_fixture, count, dump, read_csv, write_csv

from db.models import Account, Instance, MetricLayout, SyncRun, UsageMonthly
from db.queries.metric_layouts import row_extra_metrics
from db.session import session_scope
from workflows.demo import generate_export
from workflows.sync import CsvExport, sync_export


def _aware(ts: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without a zone (stored as UTC)."""
    return ts.replace(tzinfo=UTC) if ts is not None and ts.tzinfo is None else ts


def test_generated_export_loads_and_second_load_changes_nothing(db_url: str, tmp_path: Path) -> None:
    demo = generate_export(tmp_path / "export", accounts=12, months=4, seed=3, today=date(2026, 11, 27))
    first = sync_export(CsvExport(tmp_path / "export"), db_url)
    assert first.ok, first.problems
    assert (first.accounts, first.subscriptions, first.usage_rows) == (12, demo.subscriptions, demo.usage_rows)
    assert first.instances == demo.instances
    assert first.as_of_month == date(2026, 10, 1)
    assert count(db_url, "usage_monthly") == demo.usage_rows
    assert count(db_url, "instances") == demo.instances
    assert first.rows_changed == 12 + demo.subscriptions + demo.instances + demo.usage_rows
    before = dump(db_url)

    second = sync_export(CsvExport(tmp_path / "export"), db_url)
    assert second.ok
    assert second.rows_changed == 0
    assert dump(db_url) == before

    with session_scope(db_url) as s:
        runs = s.scalars(select(SyncRun).order_by(SyncRun.id)).all()
        assert [(r.status, r.rows_changed, r.usage_rows) for r in runs] == [
            ("succeeded", first.rows_changed, demo.usage_rows),
            ("succeeded", 0, demo.usage_rows),
        ]
        assert runs[0].as_of_month == date(2026, 10, 1)
        assert runs[0].instances == demo.instances
        assert runs[0].source == str((tmp_path / "export").resolve())


def test_fixture_values_land_where_the_contract_says(db_url: str) -> None:
    result = sync_export(CsvExport(FIXTURE), db_url)
    assert result.ok, result.problems
    assert (result.accounts, result.subscriptions, result.instances, result.usage_rows) == (3, 4, 5, 10)
    with session_scope(db_url) as s:
        globex = s.get(Account, "0016100001GlobX")
        assert globex is not None
        assert (globex.name, globex.name_key, globex.tam_email, globex.customer_since_date) == (
            "Globex, Ltd.",
            "globex ltd",
            None,
            None,
        )
        inst = {i.identity: i for i in s.scalars(select(Instance))}
        assert set(inst) == {
            "sm:inst-acme-prod",
            "sm:uuid-acme-2|gitlab-test.acme.internal",
            "saas:5001",
            "sm:inst-acmeb",
            "saas:7001",
        }
        prod = inst["sm:inst-acme-prod"]
        assert (prod.label, prod.export_label, prod.label_source) == ("Production", "Production", "export")
        assert (prod.first_seen_month, prod.last_seen_month) == (date(2026, 8, 1), date(2026, 10, 1))
        assert (prod.last_version, prod.last_billable_users) == ("17.3.2", 430)
        assert _aware(prod.last_ping_at) == datetime(2026, 10, 28, 4, 12, tzinfo=UTC)
        assert (prod.hostname, prod.uuid, prod.creation_date) == ("gitlab.acme.com", "uuid-acme-1", date(2019, 5, 2))
        # Empty instance_type means Unknown.
        assert inst["sm:uuid-acme-2|gitlab-test.acme.internal"].label == "Unknown"
        # Acme Analytics stopped pinging in October: version and users come from September's ping.
        acmeb = inst["sm:inst-acmeb"]
        assert (acmeb.last_seen_month, acmeb.last_version, acmeb.last_billable_users) == (
            date(2026, 10, 1),
            "17.1.0",
            44,
        )
        assert (inst["saas:5001"].namespace_name, inst["saas:5001"].creation_date) == ("acme-group", date(2022, 2, 2))
        assert inst["saas:7001"].label == "Unknown"

        rows = {(r.instance_id, r.snapshot_month): r for r in s.scalars(select(UsageMonthly))}
        sept = rows[(prod.id, date(2026, 9, 1))]
        assert _aware(sept.ping_created_at) == datetime(2026, 9, 27, 3, 0, tzinfo=UTC)
        assert sept.sast_scans_28_days_event is None  # empty is "not reported", never 0
        assert sept.ci_builds_28_days_event_post_16_9 == 5100.0
        # Extra numeric columns are metrics; the text column "edition" is not; empty is absent.
        assert row_extra_metrics(s, sept) == {"issues_created_28_days_user": 125, "merge_requests_28_days_user": 210}
        octo = rows[(prod.id, date(2026, 10, 1))]
        assert row_extra_metrics(s, octo) == {}
        assert (octo.instance_type, octo.license_mapped) == ("Production", True)
        assert octo.metrics()["action_monthly_active_users_project_repo_28_days_user"] == 97.0
        b_oct = rows[(acmeb.id, date(2026, 10, 1))]
        assert (b_oct.ping_created_at, b_oct.billable_user_count, b_oct.license_mapped) == (None, None, False)
        assert b_oct.included_in_health == "Opt-Out"
        b_sep = rows[(acmeb.id, date(2026, 9, 1))]
        assert b_sep.deployments_28_days_user == 0.0  # a reported 0 stays 0


def _rewrite(path: Path, old: str, new: str) -> None:
    content = path.read_text()
    assert old in content, old
    path.write_text(content.replace(old, new))


def test_newer_export_updates_by_key_and_keeps_history(db_url: str, tmp_path: Path) -> None:
    export = copy_fixture(tmp_path / "export")
    assert sync_export(CsvExport(export), db_url).ok
    before = dump(db_url)

    _rewrite(export / "accounts.csv", "Acme Corp,0016100001AcmeA", "Acme Corporation,0016100001AcmeA")
    # October's row of the production server gets corrected numbers; November arrives.
    usage = export / "usage_monthly.csv"
    october = "17.3.2,md5acme,TRUE,production,Included in Health Score,500,Zuora,"
    _rewrite(usage, october + "430", october + "435")
    with usage.open("a") as f:
        f.write(
            "0016100001AcmeA,2026-11-01,sub-acme-sm,sub-acme-sm-v4,Self-Managed,Self-Managed,inst-acme-prod,"
            "uuid-acme-1,gitlab.acme.com,2019-05-02,,,,2026-11-27 05:00:00,17.5.0,md5acme,true,Production,"
            "Included in Health Score,500,Zuora,440,410,480,330,99,5300,5300,43,16,130,EE,220\n"
        )
    # The newer export no longer carries the SaaS rows: stored history stays.
    result = sync_export(CsvExport(export), db_url)
    assert result.ok, result.problems
    assert (result.changes.accounts, result.changes.subscriptions) == (1, 0)
    assert result.changes.usage_rows == 2  # one updated, one inserted
    assert result.changes.instances == 1  # the production server's summary moved on
    assert result.as_of_month == date(2026, 11, 1)
    after = dump(db_url)
    assert len(after["usage_monthly"]) == len(before["usage_monthly"]) + 1
    assert after["subscriptions"] == before["subscriptions"]
    with session_scope(db_url) as s:
        assert s.get(Account, "0016100001AcmeA").name_key == "acme corporation"  # type: ignore[union-attr]
        prod = s.scalars(select(Instance).where(Instance.identity == "sm:inst-acme-prod")).one()
        assert (prod.last_seen_month, prod.last_version, prod.last_billable_users) == (date(2026, 11, 1), "17.5.0", 440)
        assert prod.first_seen_month == date(2026, 8, 1)
        octo = s.scalars(
            select(UsageMonthly).where(
                UsageMonthly.instance_id == prod.id, UsageMonthly.snapshot_month == date(2026, 10, 1)
            )
        ).one()
        assert octo.billable_user_count == 435
    # And loading that newer export again changes nothing.
    assert sync_export(CsvExport(export), db_url).rows_changed == 0
    assert dump(db_url) == after


def test_label_set_by_a_person_survives_resync_while_export_labels_follow(db_url: str, tmp_path: Path) -> None:
    export = copy_fixture(tmp_path / "export")
    assert sync_export(CsvExport(export), db_url).ok
    with session_scope(db_url) as s:
        s.execute(
            update(Instance)
            .where(Instance.identity == "sm:inst-acmeb")
            .values(
                label="Production",
                label_source="person",
                label_set_by="U123TAM",
                label_set_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
                label_version=1,
            )
        )
    usage = export / "usage_monthly.csv"
    content = usage.read_text()
    # The export now calls Acme Analytics' server Non-Production and Acme's test server Obsolete.
    content = content.replace("false,Unknown,Opt-Out", "false,Non-Production,Opt-Out")
    content = content.replace(
        "16.11.0,md5acme,true,,Included in Health Score", "16.11.0,md5acme,true,Obsolete,Included in Health Score"
    )
    usage.write_text(content)

    result = sync_export(CsvExport(export), db_url)
    assert result.ok, result.problems
    with session_scope(db_url) as s:
        person = s.scalars(select(Instance).where(Instance.identity == "sm:inst-acmeb")).one()
        assert (person.label, person.label_source, person.label_set_by, person.label_version) == (
            "Production",
            "person",
            "U123TAM",
            1,
        )
        assert person.export_label == "Non-Production"  # what the warehouse says, kept for comparison
        follows = s.scalars(
            select(Instance).where(Instance.identity == "sm:uuid-acme-2|gitlab-test.acme.internal")
        ).one()
        assert (follows.label, follows.export_label, follows.label_source) == ("Obsolete", "Obsolete", "export")
        assert follows.label_version == 1  # a label change by the sync is still a change
    assert result.changes.instances == 2
    assert sync_export(CsvExport(export), db_url).rows_changed == 0


def test_extra_metrics_are_values_in_the_order_of_one_stored_layout(db_url: str, tmp_path: Path) -> None:
    """Rows list values, the names are stored once; the order does not depend on the file's column order
    (re-syncs compare the text), so the same export with its columns shuffled changes nothing."""
    assert sync_export(CsvExport(FIXTURE), db_url).ok
    with session_scope(db_url) as s:
        rows = list(s.scalars(select(UsageMonthly)))
        layouts = s.scalars(select(MetricLayout)).all()
        assert len(layouts) == 1 and {r.metric_layout_id for r in rows} == {layouts[0].id}
        names = layouts[0].names
        assert names == sorted(names) and "issues_created_28_days_user" in names
        assert all(isinstance(r.extra_metrics, list) and len(r.extra_metrics) == len(names) for r in rows)
        assert any(v is not None for r in rows for v in r.extra_metrics)
    shuffled = tmp_path / "shuffled"
    shutil.copytree(FIXTURE, shuffled)
    table = read_csv(FIXTURE / "usage_monthly.csv")
    write_csv(shuffled / "usage_monthly.csv", [list(reversed(r)) for r in table])
    again = sync_export(CsvExport(shuffled), db_url)
    assert again.ok, again.problems
    assert again.rows_changed == 0


def test_extra_metric_values_are_normalized_numbers(db_url: str, tmp_path: Path) -> None:
    export = copy_fixture(tmp_path / "export")
    _rewrite(export / "usage_monthly.csv", "41,,125,EE,210", "41,,007,EE,2.50")
    _rewrite(export / "usage_monthly.csv", "10,,45,,60", "10,,1e3,,0")
    result = sync_export(CsvExport(export), db_url)
    assert result.ok, result.problems
    with session_scope(db_url) as s:
        extras = {
            (r.account_id, r.snapshot_month, r.subscription_id): row_extra_metrics(s, r)
            for r in s.scalars(select(UsageMonthly))
        }
    assert extras[("0016100001AcmeA", date(2026, 9, 1), "sub-acme-sm")] == {
        "issues_created_28_days_user": 7,
        "merge_requests_28_days_user": 2.5,
    }
    assert extras[("0016100001AcmeA", date(2026, 9, 1), "sub-acme-saas")] == {
        "issues_created_28_days_user": 1000,
        "merge_requests_28_days_user": 0,
    }
    assert sync_export(CsvExport(export), db_url).rows_changed == 0


def test_partial_older_export_does_not_roll_instance_summaries_back(db_url: str, tmp_path: Path) -> None:
    export = copy_fixture(tmp_path / "export")
    assert sync_export(CsvExport(export), db_url).ok
    before = dump(db_url)
    # Only August's rows, with a different instance_type: old news for every instance.
    usage = export / "usage_monthly.csv"
    header, *rows = usage.read_text().splitlines()
    august = [r.replace(",Production,", ",Non-Production,") for r in rows if ",2026-08-01," in r]
    assert len(august) == 1
    usage.write_text("\n".join([header, *august]) + "\n")

    result = sync_export(CsvExport(export), db_url)
    assert result.ok, result.problems
    assert result.as_of_month == date(2026, 8, 1)
    after = dump(db_url)
    assert after["instances"] == before["instances"]  # latest data still wins
    assert result.changes.usage_rows == 1  # the August row itself is what the export says now
    assert len(after["usage_monthly"]) == len(before["usage_monthly"])


def _add_column(folder: Path, name: str, values: list[str]) -> None:
    path = folder / "usage_monthly.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    rows[0].append(name)
    for i, row in enumerate(rows[1:]):
        row.append(values[i % len(values)])
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def test_extra_columns_may_hold_anything_unless_named_like_metrics(db_url: str, tmp_path: Path) -> None:
    """An unknown extra column is allowed whatever it holds, in any row order; a metric-named one is checked."""
    folder = copy_fixture(tmp_path / "export")
    _add_column(folder, "crm_opportunity_id", ["12345", "0066100001XyZ", "", "-3"])
    assert sync_export(CsvExport(folder), db_url).ok
    bad = copy_fixture(tmp_path / "bad")
    _add_column(bad, "new_feature_28_days_user", ["12", "lots"])
    result = sync_export(CsvExport(bad), db_url)
    assert not result.ok
    assert any(p.startswith("usage_monthly.csv:3: new_feature_28_days_user: ") for p in result.problems)


def test_an_instance_that_never_pinged_has_no_version_or_users(db_url: str, tmp_path: Path) -> None:
    """Version and users come from a row with a ping only, whichever path loads the file: an instance whose
    rows carry a version and users but no ping has neither (nor a last ping)."""
    export = copy_fixture(tmp_path / "export")
    table = read_csv(export / "usage_monthly.csv")
    header = table[0]
    install, ping = header.index("dim_installation_id"), header.index("ping_created_at")
    version, billable = header.index("cleaned_version"), header.index("billable_user_count")
    rows = [r for r in table[1:] if r[install] == "inst-acme-prod"]
    assert rows and all(r[version] and r[billable] for r in rows)
    for r in rows:
        r[ping] = ""
    write_csv(export / "usage_monthly.csv", table)

    assert sync_export(CsvExport(export), db_url).ok
    with session_scope(db_url) as s:
        prod = s.scalars(select(Instance).where(Instance.identity == "sm:inst-acme-prod")).one()
        assert (prod.last_ping_at, prod.last_version, prod.last_billable_users) == (None, None, None)
        assert prod.last_seen_month == date(2026, 10, 1)
