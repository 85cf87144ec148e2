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


def _inp(row: UsageRow, name: str) -> InputValue:
    return InputValue(name=name, label=name, value=row.value(name))


def _ratio(spec: RatioValue, row: UsageRow) -> Computed:
    num_col = spec.numerator
    num = row.value(num_col)
    inputs = [_inp(row, spec.numerator)]
    for alt in spec.fallback:
        if num is not None:
            break
        # The preferred metric is empty or absent: the rules name a stand-in.
        inputs.append(_inp(row, alt))
        num, num_col = row.value(alt), alt
    den = row.value(spec.denominator)
    inputs.append(_inp(row, spec.denominator))
    formula = f"{num_col} / {spec.denominator}"
    if num_col != spec.numerator:
        formula += f" (used because {spec.numerator} is not reported)"
    reason = None
    if num is None:
        names = " and ".join([spec.numerator, *spec.fallback])
        reason = f"{names} not reported"
    elif den is None:
        reason = f"{spec.denominator} not reported"
    elif den == 0:
        reason = f"{spec.denominator} is 0"
    value = None if reason else num / den  # type: ignore[operator]
    return Computed(value, num, den, tuple(inputs), formula, reason)


def _share(spec: ShareValue, row: UsageRow) -> Computed:
    num, rest = row.value(spec.numerator), row.value(spec.rest)
    inputs = (_inp(row, spec.numerator), _inp(row, spec.rest))
    formula = f"{spec.numerator} / ({spec.numerator} + {spec.rest})"
    den = None if num is None or rest is None else num + rest
    reason = None
    if num is None or rest is None:
        missing = [n for n, v in ((spec.numerator, num), (spec.rest, rest)) if v is None]
        reason = " and ".join(missing) + " not reported"
    elif den == 0:
        reason = "no finished deployments (both counts are 0)"
    value = None if reason else num / den  # type: ignore[operator]
    return Computed(value, num, den, inputs, formula, reason)


def _sum_ratio(spec: SumRatioValue, row: UsageRow) -> Computed:
    inputs = (*tuple(_inp(row, c) for c in spec.columns), _inp(row, spec.denominator))
    reported = [i.value for i in inputs[:-1] if i.value is not None]
    den = inputs[-1].value
    num = sum(reported) if reported else None
    formula = f"({' + '.join(spec.columns)}, the reported ones) / {spec.denominator}"
    reason = None
    if num is None:
        reason = f"none of the {len(spec.columns)} scan counts is reported"
    elif den is None:
        reason = f"{spec.denominator} not reported"
    elif den == 0:
        reason = f"{spec.denominator} is 0 (no pipelines)"
    value = None if reason else num / den  # type: ignore[operator]
    return Computed(value, num, den, inputs, formula, reason)


def _count_positive(spec: CountPositiveValue, row: UsageRow) -> Computed:
    inputs = tuple(_inp(row, c) for c in spec.columns)
    reported = [i.value for i in inputs if i.value is not None]
    formula = f"how many of {', '.join(spec.columns)} are > 0"
    if not reported:
        reason = f"none of the {len(spec.columns)} scan counts is reported"
        return Computed(None, None, float(len(spec.columns)), inputs, formula, reason)
    count = float(sum(1 for v in reported if v > 0))
    return Computed(count, count, float(len(spec.columns)), inputs, formula, None)


def compute(spec: ValueSpec, row: UsageRow) -> Computed:
    if isinstance(spec, RatioValue):
        return _ratio(spec, row)
    if isinstance(spec, ShareValue):
        return _share(spec, row)
    if isinstance(spec, SumRatioValue):
        return _sum_ratio(spec, row)
    return _count_positive(spec, row)
