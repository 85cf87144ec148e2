"""Reading usage rows' extra metrics by name: each row lists values, its metric layout holds their names."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from db.models.usage import MetricLayout, UsageMonthly, extra_metric_values


def layout_names(db: Session | Connection) -> dict[int, list[str]]:
    """Every stored layout's names by id (one per distinct set of extra columns an export had: a handful)."""
    return {i: list(names) for i, names in db.execute(select(MetricLayout.id, MetricLayout.names)).tuples()}


def row_extra_metrics(session: Session, row: UsageMonthly) -> dict[str, float | None]:
    """The row's extra metrics by warehouse name, those reported only."""
    layout = session.get(MetricLayout, row.metric_layout_id) if row.metric_layout_id is not None else None
    return extra_metric_values(row.extra_metrics, layout.names if layout is not None else ())


# A JSON number that is not a plain integer (json.loads reads it as a float).
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)([.][0-9]+)?([eE][-+]?[0-9]+)?")


def _decimal(token: str) -> int | float:
    """A JSON number int() did not read (one with a fraction or an exponent) as json.loads gives it; ValueError
    when it is not a JSON number."""
    token = token.strip()
    if _DECIMAL.fullmatch(token) is None:
        raise ValueError(token)
    return float(token) if any(ch in token for ch in ".eE") else int(token)


class ExtraMetricsReader:
    """Some extra metrics of usage rows, by name, from each row's stored text and layout id.

    The same values as `extra_metric_values` (`None` where not reported), but only the ones asked for are
    converted: scoring a whole book reads a million rows and wants a few of their 25 or so extra values.
    A row stored before layouts (a JSON object), or text it does not expect, goes through the JSON parser.
    """

    def __init__(self, layouts: Mapping[int, Sequence[str]], wanted: Sequence[str]) -> None:
        self.wanted = tuple(wanted)
        self._layouts = layouts
        asked = set(self.wanted)
        self._positions = {i: [(n, at) for at, n in enumerate(names) if n in asked] for i, names in layouts.items()}

    def __call__(self, text: str | None, layout_id: int | None) -> dict[str, float | None]:
        out: dict[str, float | None] = dict.fromkeys(self.wanted)
        positions = self._positions.get(layout_id) if layout_id is not None else None
        if text and positions is not None and text[0] == "[" and text[-1] == "]":
            tokens = text[1:-1].split(",") if text.strip("[] ") else []
            try:
                for name, at in positions:
                    if at >= len(tokens):
                        continue
                    token = tokens[at]
                    if token == "null":
                        continue
                    try:
                        # Most values are integers: int() reads them at C speed. It also reads spellings no JSON
                        # writer gives a number ("+5", "5_0"), and the texts read here are JSON.
                        out[name] = int(token)
                    except ValueError:
                        if token.strip() != "null":
                            out[name] = _decimal(token)
                return out
            except ValueError:
                out = dict.fromkeys(self.wanted)
        stored = json.loads(text) if text else None
        names = self._layouts.get(layout_id, ()) if layout_id is not None else ()
        found = extra_metric_values(stored, names)
        return {name: found.get(name) for name in self.wanted}
