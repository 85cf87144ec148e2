"""Metric search judged on questions phrased the way people ask (tests/fixtures/metric_search_eval.yaml).

The bundled sample dictionary runs everywhere, offline; the full dictionary (../shared) checks the
issue's goals on the held-out split and is skipped cleanly without it. Figures are printed so a
run shows where the search stands; the floors sit a little under what it reaches today.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from db.queries.metrics import all_definitions
from db.session import session_scope
from workflows.metric_search import evaluation, index_for
from workflows.metrics_import import SAMPLE_PATH, import_definitions


def questions() -> list[evaluation.Question]:
    return evaluation.load_questions()


def show(capsys: pytest.CaptureFixture[str], label: str, score: evaluation.Score) -> None:
    with capsys.disabled():
        print(f"\n[metric search eval] {label}: {score.line()}")
        for miss in score.misses:
            print(f"    {miss}")


def test_the_questions_are_sound() -> None:
    items = questions()
    assert len(items) >= 150
    assert sum(not q.answerable for q in items) >= 20
    assert {q.split for q in items} == {"tune", "heldout"}
    for split in ("tune", "heldout"):
        assert sum(not q.answerable for q in items if q.split == split) >= 10
    assert len({q.text.lower() for q in items}) == len(items)  # no question twice
    # Words, not key paths.
    assert not any("_" in q.text for q in items)


def test_every_expected_key_path_exists(db_url: str, shared_dir: Path) -> None:
    with session_scope(db_url) as session:
        import_definitions(session, shared_dir / "data" / "metrics_dictionary")
    with session_scope(db_url) as session:
        known = {d.key_path for d in all_definitions(session)}
    unknown = sorted({key for q in questions() for key in q.expected} - known)
    assert not unknown


def test_on_the_bundled_sample(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with session_scope(db_url) as session:
        import_definitions(session, SAMPLE_PATH)
    with session_scope(db_url) as session:
        present = {d.key_path for d in all_definitions(session)}
        index = index_for(session)
    items = evaluation.present(questions(), present)
    assert sum(q.answerable for q in items) >= 80
    for split in ("tune", "heldout"):
        score = evaluation.evaluate(index, items, split)
        show(capsys, f"bundled sample, {split}", score)
        assert score.rate("top1") >= 0.8 and score.rate("top5") >= 0.9, score.line()
        assert score.rate("abstained_unmeasured") >= 0.8, score.line()
        assert score.rate("abstained_answerable") <= 0.2, score.line()


def test_goals_on_the_full_dictionary(db_url: str, shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with session_scope(db_url) as session:
        import_definitions(session, shared_dir / "data" / "metrics_dictionary")
    with session_scope(db_url) as session:
        index = index_for(session)
    items = questions()
    tune = evaluation.evaluate(index, items, "tune")
    heldout = evaluation.evaluate(index, items, "heldout")
    show(capsys, "full dictionary, tune", tune)
    show(capsys, "full dictionary, held-out", heldout)
    # The goals, on questions never tuned on.
    assert heldout.rate("top1") >= 0.75, heldout.line()
    assert heldout.rate("top5") >= 0.90, heldout.line()
    assert heldout.rate("abstained_unmeasured") >= 0.80, heldout.line()
    assert heldout.rate("abstained_answerable") <= 0.15, heldout.line()
