"""Putting a value in its band, and saying in words which band it is and what the next colour needs."""

from __future__ import annotations

from dataclasses import dataclass

from scoring.model import Color
from scoring.rules import Band, Display, Rules


def fmt_value(value: float | None, display: Display) -> str:
    """Display rounding only: comparisons always use the unrounded value."""
    if value is None:
        return "empty"
    if display == "percent":
        pct = round(value * 100, 1)
        return f"{pct:g}%"
    if display == "count":
        return f"{value:g}" if value != int(value) else str(int(value))
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) >= 0.01 else f"{value:.3g}"


def fmt_count(value: float | None) -> str:
    if value is None:
        return "empty"
    return f"{int(value):,}" if value == int(value) else f"{value:,.2f}"


@dataclass(frozen=True)
class Placement:
    index: int
    color: Color
    band: str  # e.g. "> 10% to ≤ 33%"
    next_threshold: str | None  # e.g. "Green needs more than 33%"; None for the best band


def classify(value: float, bands: tuple[Band, ...]) -> int:
    """Index of the band the (unrounded) value falls in."""
    for i, band in enumerate(bands):
        if band.contains_below_edge(value):
            return i
    return len(bands) - 1


def _lower_text(prev: Band, display: Display) -> str:
    # The band above an inclusive edge starts just above it, the band above an exclusive edge at it.
    return ("> " if prev.inclusive else "≥ ") + fmt_value(prev.edge, display)


def _upper_text(band: Band, display: Display) -> str:
    return ("≤ " if band.inclusive else "< ") + fmt_value(band.edge, display)


def band_text(bands: tuple[Band, ...], index: int, display: Display) -> str:
    band = bands[index]
    if len(bands) == 1:
        return "any value"
    if index == 0:
        return _upper_text(band, display)
    if index == len(bands) - 1:
        return _lower_text(bands[index - 1], display)
    return f"{_lower_text(bands[index - 1], display)} to {_upper_text(band, display)}"


def next_threshold_text(bands: tuple[Band, ...], index: int, display: Display) -> str | None:
    if index >= len(bands) - 1:
        return None
    band, nxt = bands[index], bands[index + 1]
    need = "more than" if band.inclusive else "at least"
    return f"{nxt.color} needs {need} {fmt_value(band.edge, display)}"


def place(value: float, bands: tuple[Band, ...], display: Display) -> Placement:
    i = classify(value, bands)
    return Placement(i, bands[i].color, band_text(bands, i, display), next_threshold_text(bands, i, display))


def score_of(color: Color, rules: Rules) -> int | None:
    return rules.scores.get(color)  # type: ignore[call-overload]
