"""Search quality: plain-language questions a TAM asks, each with the key path(s) that answer it.

Recall@1 and recall@5 are printed and held to floors, on the whole shared dictionary (skipped without
../shared) and on the bundled sample (always). Questions marked "tune" were used while tuning the
ranker; the "check" ones only to check it, and are reported on their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from db.queries.metrics import all_definitions
from db.session import session_scope
from workflows.metric_search import search
from workflows.metrics_import import SAMPLE_PATH, import_definitions

QUESTIONS_FILE = Path(__file__).parent / "fixtures" / "metrics_questions.yaml"


def questions() -> list[dict[str, Any]]:
    return yaml.safe_load(QUESTIONS_FILE.read_text(encoding="utf-8"))["questions"]


def recall(db_url: str, items: list[dict[str, Any]]) -> tuple[float, float, list[str]]:
    at1 = at5 = 0
    misses: list[str] = []
    with session_scope(db_url) as session:
        for item in items:
            found = [hit.key_path for hit in search(session, item["q"], limit=5)]
            expected = set(item["expected"])
            at1 += bool(found) and found[0] in expected
            at5 += bool(expected & set(found))
            if not found or found[0] not in expected:
                misses.append(f"{item['q']!r}: got {found[:1]}, expected {item['expected'][0]}")
    return at1 / len(items), at5 / len(items), misses


def report(
    capsys: pytest.CaptureFixture[str], label: str, items: list[dict[str, Any]], db_url: str
) -> tuple[float, float]:
    r1, r5, misses = recall(db_url, items)
    with capsys.disabled():
        print(f"\n[metric search] {label}: {len(items)} questions, recall@1 {r1:.2f}, recall@5 {r5:.2f}")
        for miss in misses:
            print(f"    top-1 miss: {miss}")
    return r1, r5


def test_fixture_is_sound() -> None:
    items = questions()
    assert len(items) >= 60
    assert {item["split"] for item in items} == {"tune", "check"}
    assert all(item["q"].strip() and item["expected"] for item in items)
    # Plain words, not key paths.
    assert not any("." in item["q"] or "_" in item["q"] for item in items)


def test_quality_on_the_shared_dictionary(db_url: str, shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with session_scope(db_url) as session:
        import_definitions(session, shared_dir / "data" / "metrics_dictionary")
    items = questions()
    r1, r5 = report(capsys, "shared dictionary, all", items, db_url)
    c1, c5 = report(capsys, "shared dictionary, check split", [i for i in items if i["split"] == "check"], db_url)
    assert r1 >= 0.85 and r5 >= 0.95, (r1, r5)
    assert c1 >= 0.80 and c5 >= 0.90, (c1, c5)


def test_quality_on_the_bundled_sample(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with session_scope(db_url) as session:
        import_definitions(session, SAMPLE_PATH)
    with session_scope(db_url) as session:
        present = {d.key_path for d in all_definitions(session)}
    # The sample holds the answers of the first questions of the file (and their nearest neighbours), not all.
    covered = [item for item in questions() if present & set(item["expected"])]
    assert len(covered) >= 60
    r1, r5 = report(capsys, "bundled sample, questions it can answer", covered, db_url)
    assert r1 >= 0.85 and r5 >= 0.95, (r1, r5)


def test_quality_on_held_out_questions(db_url: str, shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with session_scope(db_url) as session:
        import_definitions(session, shared_dir / "data" / "metrics_dictionary")
    path = Path(__file__).parent / "fixtures" / "metrics_questions_heldout.yaml"
    items = yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]
    assert len(items) >= 50
    r1, r5 = report(capsys, "shared dictionary, held-out questions", items, db_url)
    assert r1 >= 0.65 and r5 >= 0.90, (r1, r5)
