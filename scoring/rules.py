"""The rules file: every threshold, band, weight, score and metric column of product health, as data.

A rules file is YAML (see `scoring/rules/gitlab-current.yaml`), validated here with pydantic so a
mistake made by CS Operations is reported with the file and the place, never half-applied.
`SCORING_RULES` is a bundled rule set name (`gitlab-current`, `gitlab-2024`) or a path.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from scoring.model import MEASURE_KEYS

RULES_DIR = Path(__file__).parent / "rules"
DEFAULT_RULES = "gitlab-current"
BandColor = Literal["Red", "Yellow", "Green"]
_COLOR_ORDER = {"Red": 0, "Yellow": 1, "Green": 2}
_M = TypeVar("_M", bound="BaseModel")


class RulesError(Exception):
    """The rules file is missing or invalid; the message names the file and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Strict):
    """One colour band. A value falls in the first band whose upper edge it does not pass:
    `up_to` includes its edge (value <= up_to), `below` excludes it (value < below). The last band
    (the best colour) has neither."""

    color: BandColor
    up_to: float | None = None
    below: float | None = None

    @model_validator(mode="after")
    def _one_edge(self) -> Band:
        if self.up_to is not None and self.below is not None:
            raise ValueError("a band has either 'up_to' (edge included) or 'below' (edge excluded), not both")
        return self

    @property
    def edge(self) -> float | None:
        return self.up_to if self.up_to is not None else self.below

    @property
    def inclusive(self) -> bool:
        return self.up_to is not None

    def contains_below_edge(self, value: float) -> bool:
        if self.up_to is not None:
            return value <= self.up_to
        if self.below is not None:
            return value < self.below
        return True


def _check_bands(bands: tuple[Band, ...]) -> tuple[Band, ...]:
    if not bands:
        raise ValueError("at least one band is needed")
    for i, band in enumerate(bands):
        last = i == len(bands) - 1
        if last and band.edge is not None:
            raise ValueError(f"the last band ({band.color}) takes everything above: it has no 'up_to'/'below'")
        if not last and band.edge is None:
            raise ValueError(f"band {i + 1} ({band.color}) needs 'up_to' or 'below' (only the last band has none)")
    colors = [_COLOR_ORDER[b.color] for b in bands]
    if colors != sorted(set(colors)):
        raise ValueError("bands go from worst to best colour (Red, Yellow, Green), each colour at most once")
    edges = [b.edge for b in bands[:-1]]
    if any(a >= b for a, b in itertools.pairwise(edges)):  # type: ignore[operator]
        raise ValueError("band edges must increase strictly")
    return bands


class RatioValue(_Strict):
    """numerator / denominator; empty when either is empty or the denominator is 0.
    `fallback` columns stand in, in order, when the numerator is empty or absent."""

    kind: Literal["ratio"]
    numerator: str
    fallback: tuple[str, ...] = ()
    denominator: str


class ShareValue(_Strict):
    """numerator / (numerator + rest): a success rate; empty when either part is empty or the sum is 0."""

    kind: Literal["share"]
    numerator: str
    rest: str


class SumRatioValue(_Strict):
    """sum of the reported `columns` / denominator; empty when none is reported or the denominator is empty or 0."""

    kind: Literal["sum_ratio"]
    columns: tuple[str, ...] = Field(min_length=1)
    denominator: str


class CountPositiveValue(_Strict):
    """how many of `columns` are > 0; empty when none is reported."""

    kind: Literal["count_positive"]
    columns: tuple[str, ...] = Field(min_length=1)


Bands = Annotated[tuple[Band, ...], AfterValidator(_check_bands)]
ValueSpec = Annotated[RatioValue | ShareValue | SumRatioValue | CountPositiveValue, Field(discriminator="kind")]
Display = Literal["percent", "number", "count"]


class SubScoreRule(_Strict):
    label: str
    value: ValueSpec
    display: Display = "percent"
    # Sentence pieces: {num}, {den} and {value} are filled in (formatted) when known.
    phrase: str
    bands: Bands


class AgeBand(_Strict):
    """Bands for accounts aged `from_months` to `to_months` (both included; no `to_months` = and older)."""

    from_months: int = Field(ge=0)
    to_months: int | None = None
    bands: Bands

    @model_validator(mode="after")
    def _range(self) -> AgeBand:
        if self.to_months is not None and self.to_months < self.from_months:
            raise ValueError("to_months must not be below from_months")
        return self

    def covers(self, months: int) -> bool:
        return months >= self.from_months and (self.to_months is None or months <= self.to_months)


class MeasureRule(_Strict):
    label: str
    weight: float = Field(ge=0)
    display: Display = "percent"
    # Either a value (ratio…) or sub-scores whose non-empty scores are averaged (CD, Security).
    value: ValueSpec | None = None
    phrase: str | None = None
    sub_scores: dict[str, SubScoreRule] | None = None
    # Bands on the value; License utilization uses `age_bands` instead.
    bands: Bands | None = None
    age_bands: tuple[AgeBand, ...] | None = None
    # Restrictions: deployment types this measure applies to; tier text a subscription must contain.
    only_deployment_types: tuple[str, ...] | None = None
    only_tiers_containing: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> MeasureRule:
        if (self.value is None) == (self.sub_scores is None):
            raise ValueError("a measure has either 'value' or 'sub_scores'")
        if self.value is not None and not self.phrase:
            raise ValueError("a measure with a 'value' needs a 'phrase'")
        if self.sub_scores is not None and not self.sub_scores:
            raise ValueError("'sub_scores' must not be empty")
        if (self.bands is None) == (self.age_bands is None):
            raise ValueError("a measure has either 'bands' or 'age_bands'")
        if self.age_bands:
            ordered = sorted(self.age_bands, key=lambda a: a.from_months)
            for a, b in itertools.pairwise(ordered):
                if a.to_months is None or a.to_months >= b.from_months:
                    raise ValueError(f"age bands overlap at {b.from_months} months")
        return self

    def bands_for_age(self, months: int | None) -> tuple[Band, ...] | None:
        """The bands that apply; None = no score at this age (or age unknown)."""
        if self.bands is not None:
            return self.bands
        if months is None:
            return None
        for age in self.age_bands or ():
            if age.covers(months):
                return age.bands
        return None


class OverallRule(_Strict):
    bands: Bands


class FlagRules(_Strict):
    stale_after_days: int = Field(60, ge=1)
    version_behind_minor_versions: int = Field(6, ge=0)
    # GitLab ships 12 minor versions per major (x.0 … x.11): how minors are counted across a major.
    minor_versions_per_major: int = Field(12, ge=1)


class AccountRules(_Strict):
    # Only instances with this label count; rows marked with `opt_out_value` never count.
    production_label: str = "Production"
    opt_out_value: str = "Opt-Out"
    # Rows whose license count column is empty or 0 are not scored.
    license_count_column: str = "license_user_count"
    billable_column: str = "billable_user_count"


class Rules(_Strict):
    name: str
    description: str = ""
    scores: dict[BandColor, int]
    measures: dict[str, MeasureRule]
    overall: OverallRule
    account: AccountRules = AccountRules()
    flags: FlagRules = FlagRules()
    trend_months: int = Field(12, ge=1, le=60)

    @model_validator(mode="after")
    def _complete(self) -> Rules:
        missing = [c for c in ("Red", "Yellow", "Green") if c not in self.scores]
        if missing:
            raise ValueError(f"scores: missing {', '.join(missing)}")
        if not self.scores["Red"] < self.scores["Yellow"] < self.scores["Green"]:
            raise ValueError("scores must increase from Red to Yellow to Green")
        keys = set(self.measures)
        if keys != set(MEASURE_KEYS):
            extra, lacking = sorted(keys - set(MEASURE_KEYS)), sorted(set(MEASURE_KEYS) - keys)
            raise ValueError(
                f"measures must be exactly {', '.join(MEASURE_KEYS)} (unknown: {extra}, missing: {lacking})"
            )
        if sum(m.weight for m in self.measures.values()) <= 0:
            raise ValueError("measure weights must not all be 0")
        return self

    def score_of(self, color: str) -> int:
        return self.scores[color]  # type: ignore[index]

    def columns(self) -> set[str]:
        """Every metric column the rules read."""
        out: set[str] = set()

        def add(spec: ValueSpec) -> None:
            for attr in ("numerator", "denominator", "rest"):
                if hasattr(spec, attr):
                    out.add(getattr(spec, attr))
            out.update(getattr(spec, "fallback", ()))
            out.update(getattr(spec, "columns", ()))

        for m in self.measures.values():
            if m.value is not None:
                add(m.value)
            for s in (m.sub_scores or {}).values():
                add(s.value)
        return out


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{loc}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(lines)


def resolve_rules_path(name_or_path: str | None) -> Path:
    """A bundled rule set name, or a path to a YAML file."""
    return resolve_in(RULES_DIR, name_or_path, DEFAULT_RULES, "scoring")


def resolve_in(directory: Path, name_or_path: str | None, default: str, kind: str) -> Path:
    """`directory/<name>.yaml` for a bundled rule set name, or the path given; `kind` names the rules in errors."""
    value = (name_or_path or default).strip() or default
    looks_like_path = "/" in value or "\\" in value or value.endswith((".yaml", ".yml"))
    if looks_like_path:
        return Path(value).expanduser()
    path = directory / f"{value}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.yaml")))
        raise RulesError(f"Unknown {kind} rule set {value!r}: expected one of {known}, or a path to a rules file")
    return path


def validate_yaml(text: str, source: str, model: type[_M], what: str = "Scoring rules") -> _M:
    """A YAML mapping validated as `model`; any mistake is a RulesError naming the file and the place."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError(f"{what} file {source}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise RulesError(f"{what} file {source}: expected a mapping at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RulesError(f"{what} file {source}: {_describe(exc)}") from None


def parse_rules(text: str, source: str) -> Rules:
    return validate_yaml(text, source, Rules)


@lru_cache(maxsize=32)
def _load(path: str, mtime_ns: int, model: type[BaseModel], what: str) -> BaseModel:
    # mtime is part of the key so an edited file is re-read; otherwise a file is parsed once.
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{what} file {path}: cannot be read ({exc.strerror})") from None
    return validate_yaml(text, path, model, what)


def load_file(path: Path, model: type[_M], what: str) -> _M:
    """The YAML file at `path` validated as `model`, parsed once per version of the file."""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        raise RulesError(f"{what} file {path}: not found") from None
    return _load(str(path), mtime, model, what)  # type: ignore[return-value]


def load_rules(name_or_path: str | None = None) -> Rules:
    """The rules named by `SCORING_RULES` (a name or a path), loaded once and cached."""
    return load_file(resolve_rules_path(name_or_path), Rules, "Scoring rules")
