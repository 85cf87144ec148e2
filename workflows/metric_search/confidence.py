"""Calibrated confidence: the probability that a search result answers the question.

The ranker's raw scores are not comparable across questions (a vague question about something the
dictionary never measures can score as high as a precise one). A small logistic model reads what the
ranker saw for each result (how much of the question the definition covers, how much of the metric's
own name the question accounts for, how many of the question's words no definition uses at all, its
place in the list…) and gives a probability. Its weights are data, fitted on the tuning questions of
tests/fixtures/metric_search_eval.yaml by tools/fit_metric_confidence.py; the held-out questions are
never used for fitting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

CALIBRATION_PATH = Path(__file__).parent.parent / "data" / "metric_confidence.yaml"

# What the model reads about one result, each between 0 and 1.
FEATURES = (
    "coverage",  # share of the question's words (weighted by rarity) the definition speaks of
    "leaf",  # share of the metric's own name the question accounts for
    "similarity",  # fuzzy similarity of the question with the definition's words
    "unknown",  # share of the question's words that no definition uses at all ("MTTR", "uptime")
    "missing",  # rarity of the most specific question word this definition does not speak of
    "context",  # the time frame, status and people-vs-things fit (1 = all as asked)
    "margin",  # how far ahead of the next result the ranker put it
    "semantic",  # meaning similarity from the static embedding table (0.5 when there is none)
    "relative",  # its ranking score over the first result's (1 for the first)
    "unmet_measure",  # the question asks for a duration, an average or a share the definition never mentions
)


@dataclass(frozen=True)
class Calibration:
    weights: dict[str, float]
    bias: float

    def probability(self, features: Mapping[str, float]) -> float:
        z = self.bias + sum(w * features.get(name, 0.0) for name, w in self.weights.items())
        if z < -30:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True)
class Confidence:
    """Two models: the first result decides "here it is" or "nothing fits"; the ones below it are judged
    on their own (far fewer of them answer, so they need their own weights to mean the same)."""

    first: Calibration
    lower: Calibration

    def probability(self, features: Mapping[str, float], position: int) -> float:
        return (self.first if position == 0 else self.lower).probability(features)

    def to_yaml(self, header: str = "") -> str:
        return header + yaml.safe_dump({"first": _plain(self.first), "lower": _plain(self.lower)}, sort_keys=False)


def _plain(model: Calibration) -> dict[str, object]:
    return {"bias": round(model.bias, 4), "weights": {k: round(v, 4) for k, v in model.weights.items()}}


@lru_cache(maxsize=4)
def load_calibration(path: Path = CALIBRATION_PATH) -> Confidence:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return Confidence(first=_model(data.get("first") or {}), lower=_model(data.get("lower") or {}))


def _model(data: Mapping[str, object]) -> Calibration:
    raw = data.get("weights")
    weights = {str(k): float(v) for k, v in raw.items() if k in FEATURES} if isinstance(raw, dict) else {}
    bias = data.get("bias", 0.0)
    return Calibration(weights=weights, bias=float(bias) if isinstance(bias, int | float) else 0.0)


def fit(
    rows: Sequence[tuple[Mapping[str, float], int]],
    *,
    l2: float = 0.01,
    steps: int = 50,
    answered: float | None = 0.5,
) -> Calibration:
    """Logistic regression by Newton's method (numpy only): features -> 1 when the result answers.

    `answered` is the share of the total weight given to the examples that do answer (0.5: both
    outcomes count equally, however many examples each has; None: every example counts the same).
    """
    import numpy as np

    x = np.array([[r[0].get(name, 0.0) for name in FEATURES] + [1.0] for r in rows], dtype=float)
    y = np.array([r[1] for r in rows], dtype=float)
    positive = max(y.sum(), 1.0)
    negative = max(len(y) - y.sum(), 1.0)
    if answered is None:
        sample = np.full(len(y), 1.0 / max(len(y), 1))
    else:
        sample = np.where(y == 1, answered / positive, (1.0 - answered) / negative)
    penalty = l2 * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0  # the bias is not shrunk
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (sample * (p - y)) + penalty @ w
        hessian = (x * (sample * p * (1 - p))[:, None]).T @ x + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return Calibration(weights={name: float(v) for name, v in zip(FEATURES, w[:-1], strict=True)}, bias=float(w[-1]))
