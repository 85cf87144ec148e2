"""Scoring metric search on labelled questions: top-1, top-5 and "no metric fits", per split.

The questions live in tests/fixtures/metric_search_eval.yaml: how people ask, each with every
acceptable key path, or none when the dictionary measures nothing of the kind. Used by
bench/eval_metric_search.py (the report in docs/metric-search.md), by the tests, and by
tools/fit_metric_confidence.py (tuning split only).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from workflows.metric_search.engine import NO_MATCH_BELOW, Index, rank, search_index

QUESTIONS_PATH = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "metric_search_eval.yaml"


@dataclass(frozen=True)
class Question:
    text: str
    expected: frozenset[str]  # empty: nothing in the dictionary measures it
    split: str

    @property
    def answerable(self) -> bool:
        return bool(self.expected)


@dataclass
class Score:
    split: str
    answerable: int = 0
    unmeasured: int = 0
    top1: int = 0
    top5: int = 0
    abstained_answerable: int = 0  # an answerable question told "no metric fits"
    abstained_unmeasured: int = 0  # an unmeasured question told "no metric fits" (what we want)
    misses: list[str] = field(default_factory=list)

    def rate(self, name: str) -> float:
        total = self.unmeasured if name == "abstained_unmeasured" else self.answerable
        return getattr(self, name) / total if total else 0.0

    def line(self) -> str:
        return (
            f"{self.split}: {self.answerable} answerable, {self.unmeasured} unmeasured | "
            f"top-1 {self.top1}/{self.answerable} ({self.rate('top1'):.0%}), "
            f"top-5 {self.top5}/{self.answerable} ({self.rate('top5'):.0%}), "
            f"'nothing fits' on unmeasured {self.abstained_unmeasured}/{self.unmeasured} "
            f"({self.rate('abstained_unmeasured'):.0%}), on answerable {self.abstained_answerable}/"
            f"{self.answerable} ({self.rate('abstained_answerable'):.0%})"
        )


def load_questions(path: Path = QUESTIONS_PATH) -> list[Question]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [
        Question(str(item["q"]), frozenset(item.get("expected") or ()), str(item.get("split", "tune")))
        for item in data.get("questions") or []
    ]


def present(questions: Iterable[Question], key_paths: set[str]) -> list[Question]:
    """Questions whose answers a (partial) dictionary holds, with unmeasured ones kept as they are."""
    out = []
    for q in questions:
        if not q.answerable:
            out.append(q)
        elif q.expected & key_paths:
            out.append(Question(q.text, q.expected & key_paths, q.split))
    return out


def evaluate(index: Index, questions: Sequence[Question], split: str) -> Score:
    score = Score(split)
    for q in questions:
        if q.split != split and split != "all":
            continue
        hits = search_index(index, q.text, 5)
        found = [h.key_path for h in hits]
        fits = bool(hits) and hits[0].confidence >= NO_MATCH_BELOW
        if not q.answerable:
            score.unmeasured += 1
            score.abstained_unmeasured += not fits
            if fits:
                score.misses.append(f"unmeasured {q.text!r}: {found[0]} at {hits[0].confidence:.2f}")
            continue
        score.answerable += 1
        first = bool(found) and found[0] in q.expected
        score.top1 += first
        score.top5 += bool(q.expected & set(found))
        score.abstained_answerable += not fits
        if not first:
            score.misses.append(f"{q.text!r}: got {found[:1]}, expected {sorted(q.expected)[0]}")
        elif not fits:
            score.misses.append(f"{q.text!r}: right but 'nothing fits' ({hits[0].confidence:.2f})")
    return score


def training_rows(index: Index, questions: Sequence[Question], results: int) -> list[tuple[Mapping[str, float], int]]:
    """(features, 1 when the result is an acceptable answer) for the top results of each question.

    The first result is what decides between "here it is" and "nothing fits", so only it is used
    (`results` > 1 adds the next ones, which mostly teaches the model the ranking it already has).
    """
    rows: list[tuple[Mapping[str, float], int]] = []
    for q in questions:
        for ranked in rank(index, q.text, results):
            rows.append((ranked.features, int(ranked.doc.key_path in q.expected)))
    return rows


def dictionary_index(dictionary: Path, database_url: str) -> Index:
    """Import a dictionary folder into a scratch database and build its search index."""
    from db.migrate import upgrade
    from db.session import session_scope
    from workflows.metric_search.engine import index_for
    from workflows.metrics_import import import_definitions

    upgrade(database_url)
    with session_scope(database_url) as session:
        import_definitions(session, dictionary)
    with session_scope(database_url) as session:
        return index_for(session)
