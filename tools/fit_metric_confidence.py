"""Fit the confidence model of metric search on the tuning questions (never on the held-out ones).

    python tools/fit_metric_confidence.py [--dictionary ../shared/data/metrics_dictionary]

Ranks every `split: tune` question of tests/fixtures/metric_search_eval.yaml against the full Metrics
Dictionary and labels its top five results (1 when one is among the question's acceptable key
paths; questions about things nothing measures have none), fits the two logistic models of
workflows/metric_search/confidence.py (the first result; the ones below it) and writes their weights to
workflows/data/metric_confidence.yaml.

How much weight the model gives to "it answers" against "nothing fits" is chosen by 5-fold
cross-validation on the same tuning questions: the largest share that still says "nothing fits" for at
least 90% of the unmeasured questions of the left-out folds (the goal is 80%; the margin is for
questions worded unlike ours), which makes "nothing fits" rarest on answerable ones.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workflows.metric_search import confidence, evaluation  # noqa: E402

LOWER = 5  # results 2 to 5 teach the model for results below the first
FOLDS = 5
SHARES = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
UNMEASURED_FLOOR = 0.9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dictionary", type=Path, default=ROOT.parent / "shared" / "data" / "metrics_dictionary")
    parser.add_argument("--out", type=Path, default=confidence.CALIBRATION_PATH)
    parser.add_argument("--l2", type=float, default=0.01)
    args = parser.parse_args()
    index = evaluation.dictionary_index(args.dictionary, f"sqlite:///{tempfile.mkdtemp()}/fit.db")
    questions = [q for q in evaluation.load_questions() if q.split == "tune"]
    ranked = [evaluation.training_rows(index, [q], LOWER) for q in questions]
    per_question = [rows[:1] for rows in ranked]
    share = choose_share(questions, per_question, args.l2)
    rows = [row for rows_ in per_question for row in rows_]
    lower_rows = [row for rows_ in ranked for row in rows_[1:]]
    calibration = confidence.Confidence(
        first=confidence.fit(rows, l2=args.l2, answered=share),
        # Below the first, every example counts the same: few of them answer, and the probability says so.
        lower=confidence.fit(lower_rows, l2=args.l2, answered=None),
    )
    header = (
        "# Confidence models of metric search (logistic weights over the features named in\n"
        "# workflows/metric_search/confidence.py). Written by tools/fit_metric_confidence.py from the\n"
        f"# {len(questions)} tuning questions of tests/fixtures/metric_search_eval.yaml (first results: weight\n"
        f"# share of answering ones {share}, chosen by {FOLDS}-fold cross-validation; lower results unweighted);\n"
        "# do not edit by hand, re-run the script after changing the ranker or the vocabulary.\n"
    )
    args.out.write_text(calibration.to_yaml(header), encoding="utf-8")
    print(f"{len(rows)} first and {len(lower_rows)} lower results from {len(questions)} questions -> {args.out}")
    print(calibration.to_yaml())


def choose_share(
    questions: list[evaluation.Question], per_question: list[list[tuple[dict[str, float], int]]], l2: float
) -> float:
    best = SHARES[0]
    for share in SHARES:
        unmeasured = abstained_unmeasured = answerable = abstained_answerable = 0
        for fold in range(FOLDS):
            train = [row for i, rows in enumerate(per_question) if i % FOLDS != fold for row in rows]
            model = confidence.fit(train, l2=l2, answered=share)
            for i, (question, rows) in enumerate(zip(questions, per_question, strict=True)):
                if i % FOLDS != fold:
                    continue
                fits = bool(rows) and model.probability(rows[0][0]) >= 0.5
                if question.answerable:
                    answerable += 1
                    abstained_answerable += not fits
                else:
                    unmeasured += 1
                    abstained_unmeasured += not fits
        rate = abstained_unmeasured / max(unmeasured, 1)
        print(
            f"share {share}: 'nothing fits' on unmeasured {rate:.0%}, "
            f"on answerable {abstained_answerable / max(answerable, 1):.0%} (cross-validated)"
        )
        if rate >= UNMEASURED_FLOOR:
            best = share
    return best


if __name__ == "__main__":
    main()
