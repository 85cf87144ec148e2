"""Computing one measure value from one usage row, exactly as the rules file says.

Empty is not 0: a ratio with an empty part, or a zero denominator, is empty (None), and says why.
"""

from __future__ import annotations

from dataclasses import dataclass

from scoring.model import InputValue, UsageRow
from scoring.rules import CountPositiveValue, RatioValue, ShareValue, SumRatioValue, ValueSpec


@dataclass(frozen=True)
class Computed:
    value: float | None
    num: float | None  # what the sentence calls {num}
    den: float | None  # what the sentence calls {den}
    inputs: tuple[InputValue, ...]
    formula: str
    reason: str | None  # why the value is empty


def _inputs(row: UsageRow, names: tuple[str, ...], explain: bool) -> tuple[InputValue, ...]:
    # Trends need only values: skipping the explanation objects keeps a 12-month roll-up cheap.
    return tuple(InputValue(n, n, row.value(n)) for n in names) if explain else ()


def _ratio(spec: RatioValue, row: UsageRow, explain: bool) -> Computed:
    num_col = spec.numerator
    num = row.value(num_col)
    used = [spec.numerator]
    for alt in spec.fallback:
        if num is not None:
            break
        # The preferred metric is empty or absent: the rules name a stand-in.
        used.append(alt)
        num, num_col = row.value(alt), alt
    den = row.value(spec.denominator)
    reason = None
    if num is None:
        reason = " and ".join([spec.numerator, *spec.fallback]) + " not reported"
    elif den is None:
        reason = f"{spec.denominator} not reported"
    elif den == 0:
        reason = f"{spec.denominator} is 0"
    value = None if reason else num / den  # type: ignore[operator]
    if not explain:
        return Computed(value, num, den, (), "", reason)
    formula = f"{num_col} / {spec.denominator}"
    if num_col != spec.numerator:
        formula += f" (used because {spec.numerator} is not reported)"
    return Computed(value, num, den, _inputs(row, (*used, spec.denominator), True), formula, reason)


def _share(spec: ShareValue, row: UsageRow, explain: bool) -> Computed:
    num, rest = row.value(spec.numerator), row.value(spec.rest)
    den = None if num is None or rest is None else num + rest
    reason = None
    if num is None or rest is None:
        missing = [n for n, v in ((spec.numerator, num), (spec.rest, rest)) if v is None]
        reason = " and ".join(missing) + " not reported"
    elif den == 0:
        reason = "no finished deployments (both counts are 0)"
    value = None if reason else num / den  # type: ignore[operator]
    formula = f"{spec.numerator} / ({spec.numerator} + {spec.rest})" if explain else ""
    return Computed(value, num, den, _inputs(row, (spec.numerator, spec.rest), explain), formula, reason)


def _sum_ratio(spec: SumRatioValue, row: UsageRow, explain: bool) -> Computed:
    reported = [v for v in (row.value(c) for c in spec.columns) if v is not None]
    den = row.value(spec.denominator)
    num = sum(reported) if reported else None
    reason = None
    if num is None:
        reason = f"none of the {len(spec.columns)} scan counts is reported"
    elif den is None:
        reason = f"{spec.denominator} not reported"
    elif den == 0:
        reason = f"{spec.denominator} is 0 (no pipelines)"
    value = None if reason else num / den  # type: ignore[operator]
    formula = f"({' + '.join(spec.columns)}, the reported ones) / {spec.denominator}" if explain else ""
    return Computed(value, num, den, _inputs(row, (*spec.columns, spec.denominator), explain), formula, reason)


def _count_positive(spec: CountPositiveValue, row: UsageRow, explain: bool) -> Computed:
    reported = [v for v in (row.value(c) for c in spec.columns) if v is not None]
    formula = f"how many of {', '.join(spec.columns)} are > 0" if explain else ""
    inputs = _inputs(row, spec.columns, explain)
    if not reported:
        reason = f"none of the {len(spec.columns)} scan counts is reported"
        return Computed(None, None, float(len(spec.columns)), inputs, formula, reason)
    count = float(sum(1 for v in reported if v > 0))
    return Computed(count, count, float(len(spec.columns)), inputs, formula, None)


def compute(spec: ValueSpec, row: UsageRow, explain: bool = True) -> Computed:
    if isinstance(spec, RatioValue):
        return _ratio(spec, row, explain)
    if isinstance(spec, ShareValue):
        return _share(spec, row, explain)
    if isinstance(spec, SumRatioValue):
        return _sum_ratio(spec, row, explain)
    return _count_positive(spec, row, explain)


def value_only(spec: ValueSpec, row: UsageRow) -> float | None:
    """The same value as `compute(spec, row).value`, without the explanation (the trends' fast path)."""
    if isinstance(spec, RatioValue):
        num = row.value(spec.numerator)
        for alt in spec.fallback:
            if num is not None:
                break
            num = row.value(alt)
        den = row.value(spec.denominator)
        return None if num is None or not den else num / den
    if isinstance(spec, ShareValue):
        num, rest = row.value(spec.numerator), row.value(spec.rest)
        return None if num is None or rest is None or not num + rest else num / (num + rest)
    reported = [v for v in (row.value(c) for c in spec.columns) if v is not None]
    if not reported:
        return None
    if isinstance(spec, SumRatioValue):
        den = row.value(spec.denominator)
        return None if not den else sum(reported) / den
    return float(sum(1 for v in reported if v > 0))
