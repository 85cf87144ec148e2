"""Metric search: synonyms, status and time-frame preferences, odd input, index refresh after imports."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from db.session import session_scope
from workflows.metric_search import MetricHit, load_synonyms, parse_query, search, stem
from workflows.metrics_import import SAMPLE_PATH, import_definitions


def write_definitions(folder: Path, definitions: list[dict[str, object]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    base = {
        "product_group": "source_code",
        "value_type": "number",
        "status": "active",
        "milestone": "16.1",
        "introduced_by_url": "https://gitlab.com/x",
        "time_frame": "all",
        "data_source": "database",
        "data_category": "optional",
        "tiers": ["free", "premium", "ultimate"],
    }
    for number, fields in enumerate(definitions):
        (folder / f"{number:03}.yml").write_text(yaml.safe_dump({**base, **fields}), encoding="utf-8")
    return folder


@pytest.fixture
def sample_db(db_url: str) -> str:
    with session_scope(db_url) as session:
        import_definitions(session, SAMPLE_PATH)
    return db_url


def top(db_url: str, text: str, limit: int = 5) -> list[str]:
    with session_scope(db_url) as session:
        return [hit.key_path for hit in search(session, text, limit=limit)]


def test_stemming_is_light_and_consistent() -> None:
    assert stem("created") == stem("creating") == stem("create") == stem("creates")
    assert stem("scanning") == stem("scans") == "scan"
    assert stem("policies") == "policy" and stem("mrs") == "mr" and stem("added") == stem("add")


def test_synonyms_expand_the_question() -> None:
    query = parse_query("number of MRs", load_synonyms())
    assert {"merg", "request"} <= query.terms
    query = parse_query("k8s clusters", load_synonyms())
    assert "kubernet" in query.terms
    assert parse_query("last month", load_synonyms()).time_frame == "28d"
    assert parse_query("weekly", load_synonyms()).time_frame == "7d"
    assert parse_query("ever, in total", load_synonyms()).time_frame == "all"


@pytest.mark.parametrize(
    ("words", "synonym_words"),
    [
        ("MRs created per month by unique users", "merge requests created monthly by people"),
        ("SAST scans run", "static application security testing scans run"),
        ("deploys in the last 28 days", "deployments monthly"),
        ("how many repos have a protected branch", "how many repositories have a protected branch"),
    ],
)
def test_synonyms_find_the_same_metric(sample_db: str, words: str, synonym_words: str) -> None:
    assert top(sample_db, words, 1) == top(sample_db, synonym_words, 1)


def test_abbreviations_find_their_metric(sample_db: str) -> None:
    assert "redis_hll_counters.code_review.i_code_review_user_create_mr_monthly" in top(sample_db, "people opening MRs")
    assert "redis_hll_counters.manage.unique_active_users_monthly" in top(sample_db, "MAU")
    assert any("dast" in key for key in top(sample_db, "dynamic application security testing"))


def test_time_frame_words_steer_the_ranking(sample_db: str) -> None:
    def best(text: str) -> MetricHit:
        with session_scope(sample_db) as session:
            return search(session, text, limit=1)[0]

    weekly = best("users editing files in the web ide weekly")
    monthly = best("users editing files in the web ide last month")
    assert weekly.time_frames == ["7d"] and "ide" in weekly.key_path
    assert monthly.time_frames == ["28d"] and "ide" in monthly.key_path
    # No time words: the 28-day metric first (what health scoring reads), then all-time.
    assert best("SAST scans").key_path == "usage_activity_by_stage_monthly.secure.sast_scans"
    assert best("SAST scans ever").key_path == "usage_activity_by_stage.secure.sast_scans"


def test_active_ranks_above_removed(db_url: str, tmp_path: Path) -> None:
    same = "Count of widget scans run by the widget scanner"
    folder = write_definitions(
        tmp_path / "defs",
        [
            {"key_path": "counts.widget_scans_old", "description": same, "status": "removed"},
            {"key_path": "counts.widget_scans_new", "description": same, "status": "active"},
            {"key_path": "counts.widget_scans_broken", "description": same, "status": "broken"},
        ],
    )
    with session_scope(db_url) as session:
        import_definitions(session, folder)
        hits = search(session, "widget scans", limit=3)
    assert [h.key_path for h in hits] == [
        "counts.widget_scans_new",
        "counts.widget_scans_broken",
        "counts.widget_scans_old",
    ]
    assert hits[0].status == "active" and hits[2].status == "removed"
    assert hits[0].confidence >= hits[1].confidence >= hits[2].confidence


def test_hit_fields_and_confidence(sample_db: str) -> None:
    with session_scope(sample_db) as session:
        hits = search(session, "Count of Projects created", limit=10)
    best = hits[0]
    assert best.key_path == "counts.projects" and best.status == "active" and best.time_frame == "all"
    assert best.tiers == ["free", "premium", "ultimate"] and best.is_health_metric
    assert best.product_group and best.confidence >= 0.75  # the description, word for word: a sure answer
    assert all(0.0 <= h.confidence <= 1.0 for h in hits)
    assert [h.confidence for h in hits] == sorted((h.confidence for h in hits), reverse=True)
    assert set(best.to_json()) >= {"key_path", "description", "status", "time_frame", "confidence"}


def test_unrelated_words_get_low_confidence(sample_db: str) -> None:
    with session_scope(sample_db) as session:
        hits = search(session, "quarterly revenue forecast of bananas", limit=3)
    assert all(h.confidence < 0.5 for h in hits)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "?!?! ... ---",
        "the of and",
        "🙂🚀 ünïcödé 漢字",
        "'; DROP TABLE metric_definitions; --",
        "<script>alert(1)</script> *bold* `code`",
        "pipelines " * 2000,
        "x" * 10_000,
        "\x00\x01\x02 merge requests",
    ],
)
def test_odd_input_gives_a_clean_answer(sample_db: str, text: str) -> None:
    with session_scope(sample_db) as session:
        hits = search(session, text, limit=5)
        assert isinstance(hits, list) and len(hits) <= 5
        # The table is untouched whatever was typed.
        assert search(session, "merge requests", limit=1)


def test_limit_is_bounded(sample_db: str) -> None:
    with session_scope(sample_db) as session:
        assert len(search(session, "users", limit=3)) == 3
        assert len(search(session, "users", limit=0)) == 1
        assert len(search(session, "users", limit=10_000)) <= 100


def test_index_refreshes_after_an_import(sample_db: str, tmp_path: Path) -> None:
    assert "counts.zebra_crossings" not in top(sample_db, "zebra crossings")
    folder = write_definitions(tmp_path / "more", [{"key_path": "counts.zebra_crossings", "description": "Zebras"}])
    with session_scope(sample_db) as session:
        import_definitions(session, folder)
    assert top(sample_db, "zebra crossings", 1) == ["counts.zebra_crossings"]


def test_empty_dictionary_finds_nothing(db_url: str) -> None:
    with session_scope(db_url) as session:
        assert search(session, "merge requests") == []
