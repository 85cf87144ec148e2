"""Importing Metrics Dictionary definitions: whole dictionary, re-import, lists, single files, bad files."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest
from sqlalchemy import func, select

from db.models.metrics import MetricDefinition, MetricImport
from db.queries.metrics import counts_by_status, get_definition
from db.session import session_scope
from workflows.metrics_import import SAMPLE_PATH, MetricsImportError, import_definitions


def definition(key_path: str, **fields: object) -> str:
    """A valid definition as YAML text, with fields overridden."""
    base: dict[str, object] = {
        "key_path": key_path,
        "description": f"Count of {key_path.rsplit('.', 1)[-1].replace('_', ' ')}",
        "product_group": "source_code",
        "product_categories": ["source_code_management"],
        "value_type": "number",
        "status": "active",
        "milestone": "16.1",
        "introduced_by_url": "https://gitlab.com/gitlab-org/gitlab/-/merge_requests/1",
        "time_frame": "28d",
        "data_source": "database",
        "data_category": "optional",
        "tiers": ["free", "premium", "ultimate"],
    }
    base.update(fields)
    import yaml

    return "---\n" + yaml.safe_dump(base, sort_keys=False)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def stored(db_url: str) -> int:
    with session_scope(db_url) as session:
        return session.scalar(select(func.count()).select_from(MetricDefinition)) or 0


def test_whole_shared_dictionary_then_idempotent_reimport(db_url: str, shared_dir: Path) -> None:
    folder = shared_dir / "data" / "metrics_dictionary"
    with session_scope(db_url) as session:
        first = import_definitions(session, folder)
    print(f"\nimport of the shared dictionary: {first.definitions} definitions in {first.seconds:.2f} s")

    assert first.files == 3681 and first.definitions == 3681
    assert first.by_status == {"active": 3184, "removed": 490, "broken": 7}
    assert first.health_metrics == 162
    assert first.problems == []
    assert len(first.broken) == 7
    assert all(b.path.endswith(".yml") and b.reason for b in first.broken)
    assert {b.reason for b in first.broken} >= {"usage_activity_by_stage.manage.events"}
    # counts.slack_app_installations is defined twice (both active): the later milestone wins.
    assert [d.key_path for d in first.duplicates] == ["counts.slack_app_installations"]
    assert first.duplicates[0].kept.endswith("counts_all/slack_app_installations.yml")
    assert first.inserted == 3680 and first.stored == 3680
    assert stored(db_url) == 3680

    with session_scope(db_url) as session:
        again = import_definitions(session, folder)
        runs = session.scalars(select(MetricImport).order_by(MetricImport.id)).all()
        by_status = counts_by_status(session)
        slack = get_definition(session, "counts.slack_app_installations")
        health = session.scalar(select(func.count()).where(MetricDefinition.is_health_metric.is_(True)))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3680)
    assert again.by_status == first.by_status
    assert stored(db_url) == 3680
    assert by_status == {"active": 3183, "broken": 7, "removed": 490}  # one active key path is a duplicate
    assert health == 162
    assert len(runs) == 2 and runs[0].dictionary_hash == runs[1].dictionary_hash
    assert slack is not None and slack.milestone == "17.6" and slack.time_frames == ["28d", "7d"]


def test_fields_kept(db_url: str, tmp_path: Path) -> None:
    write(
        tmp_path / "ee/config/metrics/counts_28d/x.yml",
        dedent(
            """\
            ---
            key_path: counts.count_total_push_widgets
            description: Count of widgets pushed
            product_group: package_registry
            product_categories: [package_registry]
            value_type: number
            status: removed
            milestone: 17.10
            milestone_removed: '18.2'
            introduced_by_url: https://gitlab.com/x
            removed_by_url: https://gitlab.com/y
            time_frame: [28d, 7d, all]
            data_source: internal_events
            data_category: optional
            tiers: [premium, ultimate]
            performance_indicator_type: [customer_health_score, gmau]
            events:
              - name: push_widget
                unique: user.id
              - name: pull_widget
            """
        ),
    )
    with session_scope(db_url) as session:
        result = import_definitions(session, tmp_path)
        row = get_definition(session, "counts.count_total_push_widgets")
        assert result.problems == [] and row is not None
        assert row.description == "Count of widgets pushed"
        assert row.product_group == "package_registry" and row.product_categories == ["package_registry"]
        assert row.time_frames == ["28d", "7d", "all"] and row.time_frame == "28d, 7d, all"
        assert row.status == "removed" and row.milestone_removed == "18.2"
        assert row.tiers == ["premium", "ultimate"]
        assert row.performance_indicator_types == ["customer_health_score", "gmau"] and row.is_health_metric
        assert row.events == ["push_widget", "pull_widget"]
        assert row.value_type == "number" and row.data_source == "internal_events"
        assert row.data_category == "optional"
        assert row.source_path == "ee/config/metrics/counts_28d/x.yml"
        # An unquoted milestone is a YAML float (17.1); it is kept as text.
        assert row.milestone == "17.1"


def test_yaml_list_file(db_url: str, tmp_path: Path) -> None:
    items = [definition("counts.alpha"), definition("counts.beta", time_frame="all"), "---\ndescription: no key\n"]
    # A YAML list of definitions: indent each mapping as a list item.
    text = "".join("- " + item.removeprefix("---\n").replace("\n", "\n  ").rstrip() + "\n" for item in items)
    file = write(tmp_path / "list.yaml", text)
    with session_scope(db_url) as session:
        result = import_definitions(session, file)
    assert result.files == 1 and result.definitions == 2 and result.inserted == 2
    assert [(p.path, p.reason) for p in result.problems] == [("list.yaml[2]", "missing key_path")]
    with session_scope(db_url) as session:
        beta = get_definition(session, "counts.beta")
    assert beta is not None and beta.time_frames == ["all"] and beta.source_path == "list.yaml[1]"


def test_single_file(db_url: str, tmp_path: Path) -> None:
    write(tmp_path / "other.yml", definition("counts.other"))
    file = write(tmp_path / "one.yml", definition("counts.one", status="broken"))
    with session_scope(db_url) as session:
        result = import_definitions(session, file)
    assert result.files == 1 and result.by_status == {"active": 0, "removed": 0, "broken": 1}
    assert [(b.path, b.reason) for b in result.broken] == [("one.yml", "counts.one")]
    assert stored(db_url) == 1


def test_bad_files_are_skipped_with_their_reason(db_url: str, tmp_path: Path) -> None:
    write(tmp_path / "good.yml", definition("counts.good"))
    write(tmp_path / "a/yaml_error.yml", "key_path: [unclosed\n")
    write(tmp_path / "a/scalar.yml", "just a sentence\n")
    write(tmp_path / "a/empty.yml", "---\n")
    write(tmp_path / "a/no_key.yml", definition("counts.x").replace("key_path: counts.x\n", ""))
    write(tmp_path / "a/bad_status.yml", definition("counts.y", status="deprecated"))
    write(tmp_path / "a/bad_time.yml", definition("counts.z", time_frame="90d"))
    write(tmp_path / "a/no_status.yml", definition("counts.w").replace("status: active\n", ""))
    (tmp_path / "a/binary.yml").write_bytes(b"\xff\xfe\x00\x81garbage")
    write(tmp_path / "a/notes.txt", "not a yml file, not read\n")
    with session_scope(db_url) as session:
        result = import_definitions(session, tmp_path)
    reasons = {p.path: p.reason for p in result.problems}
    assert result.files == 9 and result.definitions == 1 and result.inserted == 1
    assert reasons["a/yaml_error.yml"].startswith("not valid YAML at line")
    assert reasons["a/scalar.yml"] == "not a metric definition (a YAML string, expected a mapping)"
    assert reasons["a/empty.yml"] == "empty file"
    assert reasons["a/no_key.yml"] == "missing key_path"
    assert reasons["a/bad_status.yml"].startswith("unknown status 'deprecated'")
    assert reasons["a/bad_time.yml"].startswith("unknown time_frame '90d'")
    assert reasons["a/no_status.yml"] == "missing status"
    assert reasons["a/binary.yml"]  # unreadable bytes: reported, not a crash
    assert len(reasons) == 8


def test_duplicates_keep_the_active_one_and_reimport_updates(db_url: str, tmp_path: Path) -> None:
    write(tmp_path / "a.yml", definition("counts.dup", status="removed", milestone="17.0", description="Old"))
    write(tmp_path / "b.yml", definition("counts.dup", status="active", milestone="15.0", description="Kept"))
    with session_scope(db_url) as session:
        result = import_definitions(session, tmp_path)
    assert [(d.kept, d.dropped, d.reason) for d in result.duplicates] == [("b.yml", "a.yml", "the active one")]
    with session_scope(db_url) as session:
        assert get_definition(session, "counts.dup").description == "Kept"  # type: ignore[union-attr]

    write(tmp_path / "b.yml", definition("counts.dup", status="active", milestone="15.0", description="Changed"))
    write(tmp_path / "c.yml", definition("counts.new"))
    with session_scope(db_url) as session:
        again = import_definitions(session, tmp_path)
        assert (again.inserted, again.updated, again.unchanged) == (1, 1, 0)
        assert get_definition(session, "counts.dup").description == "Changed"  # type: ignore[union-attr]


def test_missing_path_is_a_clear_error(db_url: str, tmp_path: Path) -> None:
    with session_scope(db_url) as session, pytest.raises(MetricsImportError, match="no such file or folder"):
        import_definitions(session, tmp_path / "nope")


def test_bundled_sample_imports_cleanly(db_url: str) -> None:
    with session_scope(db_url) as session:
        result = import_definitions(session, SAMPLE_PATH)
    assert result.problems == [] and result.duplicates == []
    assert 140 <= result.definitions <= 200
    assert result.by_status["active"] > 100 and result.by_status["removed"] >= 1 and result.by_status["broken"] >= 1
    assert result.health_metrics > 50
