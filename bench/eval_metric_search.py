"""How well metric search answers questions phrased the way people ask, and what each part adds.

    .venv/bin/python bench/eval_metric_search.py [--dictionary PATH] [--write-docs] [--misses]

Scores tests/fixtures/metric_search_eval.yaml against the full Metrics Dictionary: top-1 and top-5
(answerable questions) and "nothing fits" (every result's confidence < 0.5) on unmeasured and on
answerable questions, for the tuning and the held-out split. Then the same for variants of the search
with one part taken away (the confidence model refitted on the tuning split for each, so each variant
abstains as well as it can), and for the two single signals ranked alone. With --write-docs the tables
replace the figures block of docs/metric-search.md.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workflows.metric_search import confidence, engine, evaluation  # noqa: E402
from workflows.metric_search.spelling import Speller  # noqa: E402

DOCS = ROOT / "docs" / "metric-search.md"
BEGIN, END = "<!-- eval:begin -->", "<!-- eval:end -->"


@dataclass
class Row:
    name: str
    tune: evaluation.Score
    heldout: evaluation.Score
    p95_ms: float


def score_row(name: str, index: engine.Index, questions: list[evaluation.Question]) -> Row:
    timings = []
    for q in questions:
        started = time.perf_counter()
        engine.search_index(index, q.text, 10)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return Row(
        name,
        evaluation.evaluate(index, questions, "tune"),
        evaluation.evaluate(index, questions, "heldout"),
        timings[int(len(timings) * 0.95) - 1],
    )


@contextmanager
def refitted(index: engine.Index, questions: list[evaluation.Question]) -> Iterator[None]:
    """The confidence models fitted again for this variant, on the tuning split only (as the tool does)."""
    tune = [q for q in questions if q.split == "tune"]
    ranked = [evaluation.training_rows(index, [q], 5) for q in tune]
    first = [rows[0] for rows in ranked if rows]
    lower = [row for rows in ranked for row in rows[1:]]
    share = float(shipped_share())
    model = confidence.Confidence(
        first=confidence.fit(first, answered=share), lower=confidence.fit(lower, answered=None)
    )
    original = engine.load_calibration
    engine.load_calibration = lambda: model  # type: ignore[assignment]
    try:
        yield
    finally:
        engine.load_calibration = original


def shipped_share() -> str:
    """The weight share the shipped model was fitted with (written in its header by the fitting tool)."""
    for line in confidence.CALIBRATION_PATH.read_text(encoding="utf-8").splitlines():
        if "share of answering ones" in line:
            return line.split("share of answering ones", 1)[1].split(",")[0].strip()
    return "0.5"


def single_signal(
    name: str, index: engine.Index, questions: list[evaluation.Question], scores: Callable[[str], dict[int, float]]
) -> tuple[str, evaluation.Score, evaluation.Score]:
    """Rank by one signal alone: top-1 and top-5 only (it has no notion of "nothing fits")."""
    out = []
    for split in ("tune", "heldout"):
        score = evaluation.Score(split)
        for q in questions:
            if q.split != split or not q.answerable:
                continue
            ranked = sorted(scores(q.text).items(), key=lambda item: -item[1])[:5]
            found = [index.docs[n].key_path for n, _ in ranked]
            score.answerable += 1
            score.top1 += bool(found) and found[0] in q.expected
            score.top5 += bool(q.expected & set(found))
        out.append(score)
    return name, out[0], out[1]


def table(rows: list[Row], singles: list[tuple[str, evaluation.Score, evaluation.Score]]) -> str:
    def pct(score: evaluation.Score, name: str) -> str:
        return f"{score.rate(name):.0%}"

    lines = [
        "| variant | split | top-1 | top-5 | 'nothing fits' on unmeasured | 'nothing fits' on answerable | p95 |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        for score in (row.tune, row.heldout):
            lines.append(
                f"| {row.name} | {score.split} ({score.answerable} + {score.unmeasured}) | {pct(score, 'top1')} | "
                f"{pct(score, 'top5')} | {pct(score, 'abstained_unmeasured')} | "
                f"{pct(score, 'abstained_answerable')} | {row.p95_ms:.1f} ms |"
            )
    for name, tune, heldout in singles:
        for score in (tune, heldout):
            lines.append(
                f"| {name} | {score.split} ({score.answerable}) | {pct(score, 'top1')} | {pct(score, 'top5')} "
                "| n/a | n/a | |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dictionary", type=Path, default=ROOT.parent / "shared" / "data" / "metrics_dictionary")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--misses", action="store_true", help="list the held-out misses too")
    args = parser.parse_args()
    questions = evaluation.load_questions()
    index = evaluation.dictionary_index(args.dictionary, f"sqlite:///{tempfile.mkdtemp()}/eval.db")
    rows = [score_row("shipped: BM25 + vocabulary + typos + meaning + calibrated confidence", index, questions)]

    table_, meanings = index.table, index.meanings
    index.table = index.meanings = None
    with refitted(index, questions):
        rows.append(score_row("without meaning (no embedding table)", index, questions))
    index.table, index.meanings = table_, meanings

    speller = index.speller
    index.speller = Speller({})
    with refitted(index, questions):
        rows.append(score_row("without typo correction", index, questions))
    index.speller = speller

    synonyms = engine.load_synonyms()
    bm25 = single_signal(
        "BM25 alone (with the vocabulary)",
        index,
        questions,
        lambda text: engine._bm25(index, engine.parse_query(text, synonyms, index.speller)),
    )

    def meaning(text: str) -> dict[int, float]:
        query = engine.parse_query(text, synonyms, index.speller)
        found = engine._meaning_scores(index, query)
        return {} if found is None else {n: float(v) for n, v in enumerate(found)}

    singles = [bm25, single_signal("static embeddings alone (cosine)", index, questions, meaning)]
    text = table(rows, singles)
    print(text)
    print()
    print(rows[0].tune.line())
    print(rows[0].heldout.line())
    if args.misses:
        for miss in rows[0].heldout.misses:
            print("   ", miss)
    if args.write_docs:
        body = DOCS.read_text(encoding="utf-8")
        block = f"{BEGIN}\n{text}\n{END}"
        body = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, body, flags=re.S)
        DOCS.write_text(body, encoding="utf-8")


if __name__ == "__main__":
    main()
