"""Putting a value in its band, and saying in words which band it is and what the next colour needs."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scoring.model import Color
from scoring.rules import Band, BandColor, Display, Rules


def fmt_value(value: float | None, display: Display, precise: bool = False) -> str:
    """Display rounding only: comparisons always use the unrounded value.

    Measured percentages read like a person says them (22%, 4.5% below 10%); `precise` keeps one
    decimal for thresholds such as 33.3%.
    """
    if value is None:
        return "empty"
    if not math.isfinite(value):
        return str(value)
    if display == "percent":
        pct = value * 100
        if precise or abs(pct) < 10:
            return f"{round(pct, 1):g}%"
        return f"{round(pct):d}%"
    if display == "count":
        return f"{value:g}" if value != int(value) else str(int(value))
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) >= 0.01 else f"{value:.3g}"


def _rounded(value: float, display: str, extra: int) -> tuple[str, float]:
    """The display text of `value` with `extra` more decimals than usual, and the number it reads as."""
    if extra == 0 and display in ("percent", "number", "count"):
        text = fmt_value(value, display)  # type: ignore[arg-type]
        try:
            return text, float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
        except ValueError:
            return text, value
    if display == "percent":
        pct = value * 100
        digits = (1 if abs(pct) < 10 else 0) + extra
        shown = round(pct, digits)
        return f"{shown:.{digits}f}%", shown / 100
    if display == "score":
        digits = 1 + extra
        shown = round(value, digits)
        return f"{shown:.{digits}f}", shown
    if value == int(value) and abs(value) < 1e15:
        return str(int(value)), value
    digits = 2 + extra
    shown = round(value, digits)
    return f"{shown:.{digits}f}".rstrip("0").rstrip("."), shown


def fmt_banded(value: float | None, display: str, bands: tuple[Band, ...] | None = None) -> str:
    """The value as shown next to its colour: never rounded across a band edge.

    75.3% is Green when Green needs more than 75%, so it must not read "75%": another decimal is shown
    until the displayed number lies on the same side of every edge as the value the colour came from.
    `display="score"` is the one precision of health scores (one decimal) everywhere.
    """
    if value is None:
        return "empty"
    if not math.isfinite(value) or value == 0:  # 0.0 and -0.0 are one key but may read differently
        return fmt_near(value, display, list(_edges(bands)))
    key = (value, display, _edges(bands))
    text = _SHOWN.get(key)
    if text is None:
        text = fmt_near(value, display, list(key[2]))
        if len(_SHOWN) > 100_000:
            _SHOWN.clear()
        _SHOWN[key] = text
    return text


# The shown text is a pure function of (value, display, edges), and scores and common ratios repeat across
# accounts and months: each is worked out once (the cache is bounded; a miss only costs the work).
_SHOWN: dict[tuple[float, str, tuple[float, ...]], str] = {}
_EDGES: dict[int, tuple[tuple[Band, ...], tuple[float, ...]]] = {}


def _edges(bands: tuple[Band, ...] | None) -> tuple[float, ...]:
    """The inner band edges as floats, once per (cached, immutable) band list."""
    if not bands:
        return ()
    hit = _EDGES.get(id(bands))
    if hit is not None and hit[0] is bands:
        return hit[1]
    edges = tuple(float(b.edge) for b in bands[:-1] if b.edge is not None)
    if len(_EDGES) > 1000:
        _EDGES.clear()
    _EDGES[id(bands)] = (bands, edges)  # holding `bands` keeps its id from being reused
    return edges


def fmt_near(value: float | None, display: str, edges: list[float]) -> str:
    """`value` shown with as many decimals as needed to stay on its side of each of `edges`."""
    if value is None:
        return "empty"
    if not math.isfinite(value):
        return str(value)
    text = ""
    for extra in range(0, 7):
        text, shown = _rounded(value, display, extra)
        if all((shown < e) == (value < e) and (shown == e) == (value == e) for e in edges):
            return text
    return text


def fmt_count(value: float | None) -> str:
    if value is None:
        return "empty"
    if not math.isfinite(value):
        return str(value)
    return f"{int(value):,}" if value == int(value) else f"{value:,.2f}"


@dataclass(frozen=True)
class Placement:
    index: int
    color: BandColor
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
    return ("> " if prev.inclusive else "≥ ") + fmt_value(prev.edge, display, precise=True)


def _upper_text(band: Band, display: Display) -> str:
    return ("≤ " if band.inclusive else "< ") + fmt_value(band.edge, display, precise=True)


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
    return f"{nxt.color} needs {need} {fmt_value(band.edge, display, precise=True)}"


# Band texts and edges depend only on the (cached, immutable) rules: build them once per band list.
_Compiled = tuple[tuple[tuple[float, bool], ...], tuple[Placement, ...]]
_COMPILED: dict[tuple[int, str], tuple[tuple[Band, ...], _Compiled]] = {}


def _compiled(bands: tuple[Band, ...], display: Display) -> _Compiled:
    key = (id(bands), display)
    hit = _COMPILED.get(key)
    if hit is not None and hit[0] is bands:
        return hit[1]
    edges = tuple((float(b.edge), b.inclusive) for b in bands[:-1])  # type: ignore[arg-type]
    placements = tuple(
        Placement(i, b.color, band_text(bands, i, display), next_threshold_text(bands, i, display))
        for i, b in enumerate(bands)
    )
    if len(_COMPILED) > 1000:
        _COMPILED.clear()
    _COMPILED[key] = (bands, (edges, placements))  # holding `bands` keeps its id from being reused
    return edges, placements


def place(value: float, bands: tuple[Band, ...], display: Display) -> Placement:
    """The band of the unrounded value: the first whose edge it does not pass (<= inclusive, < exclusive)."""
    edges, placements = _compiled(bands, display)
    for i, (edge, inclusive) in enumerate(edges):
        if value < edge or (inclusive and value == edge):
            return placements[i]
    return placements[-1]


def score_of(color: Color, rules: Rules) -> int | None:
    # Only the three band colours have a score; "No data" and "N/A" have none.
    return rules.scores.get(color) if color in ("Red", "Yellow", "Green") else None
