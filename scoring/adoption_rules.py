"""The adoption rules file: user-adoption ratios, the features of each use case, and purchase intent, as data.

Like the health rules (`scoring/rules.py`), it is YAML validated with pydantic, so CS Operations can add
a ratio (epics, Duo users…) or a feature without code, and a mistake is reported with the file and the
place. Bundled sets live in `scoring/rules/adoption/`; `ADOPTION_RULES` names one, or is a path.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scoring.rules import RULES_DIR, load_file, resolve_in, validate_yaml

ADOPTION_DIR = RULES_DIR / "adoption"
DEFAULT_ADOPTION_RULES = "gitlab"
WHAT = "Adoption rules"
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_COLUMN = re.compile(r"^[a-z][a-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_key(kind: str, key: str) -> None:
    if not _KEY.match(key):
        raise ValueError(f"{kind} key {key!r}: use lower case letters, digits and _ (e.g. code_review)")


def _check_column(column: str) -> str:
    if not _COLUMN.match(column):
        raise ValueError(f"{column!r} is not a warehouse column name (lower case letters, digits and _)")
    return column


class Ratio(_Strict):
    """Users who did something / monthly active users, pooled over the account's reporting primaries."""

    label: str = Field(min_length=1)
    numerator: str
    # What the numerator's users did, to finish "… of N monthly active users …".
    phrase: str = Field(min_length=1)
    # The Metrics Dictionary key path of the numerator, for its definition.
    key_path: str | None = None

    @model_validator(mode="after")
    def _columns(self) -> Ratio:
        _check_column(self.numerator)
        return self


class Feature(_Strict):
    """One feature of a use case: in use this month when its metric, summed over the primaries, is above 0."""

    label: str = Field(min_length=1)
    metric: str
    key_path: str | None = None
    # The tier the feature is sold with (e.g. Ultimate); defaults to the use case's.
    tier: str | None = None

    @model_validator(mode="after")
    def _columns(self) -> Feature:
        _check_column(self.metric)
        return self


class UseCase(_Strict):
    label: str = Field(min_length=1)
    tier: str | None = None
    features: dict[str, Feature] = Field(min_length=1)

    @model_validator(mode="after")
    def _keys(self) -> UseCase:
        for key in self.features:
            _check_key("feature", key)
        return self

    def tier_of(self, feature: Feature) -> str | None:
        return feature.tier or self.tier


class PurchaseIntent(_Strict):
    """Flag an account that pays for `tier` while its `measure` is one of `colors`."""

    tier: str = Field(min_length=1)  # text a subscription's product tier contains
    measure: str = "security"  # a health measure key
    colors: tuple[str, ...] = ("Red", "No data")

    @model_validator(mode="after")
    def _colors(self) -> PurchaseIntent:
        allowed = {"Red", "Yellow", "Green", "No data"}
        bad = [c for c in self.colors if c not in allowed]
        if bad or not self.colors:
            raise ValueError(f"colors must be some of Red, Yellow, Green, No data (got {list(self.colors)})")
        return self


class AdoptionRules(_Strict):
    name: str
    description: str = ""
    # The denominator of every ratio: users active in the last 28 days.
    active_users: str = "umau_28_days_user"
    active_users_key_path: str | None = None
    ratios: dict[str, Ratio] = Field(min_length=1)
    use_cases: dict[str, UseCase] = Field(default_factory=dict)
    purchase_intent: PurchaseIntent | None = None

    @model_validator(mode="after")
    def _complete(self) -> AdoptionRules:
        _check_column(self.active_users)
        for key in self.ratios:
            _check_key("ratio", key)
        for key in self.use_cases:
            _check_key("use case", key)
        if self.purchase_intent is not None:
            from scoring.model import MEASURE_KEYS

            if self.purchase_intent.measure not in MEASURE_KEYS:
                raise ValueError(
                    f"purchase_intent.measure {self.purchase_intent.measure!r} is not a health measure "
                    f"(one of {', '.join(MEASURE_KEYS)})"
                )
        return self

    def columns(self) -> set[str]:
        """Every metric column these rules read."""
        out = {self.active_users, *(r.numerator for r in self.ratios.values())}
        for uc in self.use_cases.values():
            out.update(f.metric for f in uc.features.values())
        return out

    def key_paths(self) -> set[str]:
        """Every Metrics Dictionary key path named, for the definitions shown next to the features."""
        paths = {self.active_users_key_path, *(r.key_path for r in self.ratios.values())}
        for uc in self.use_cases.values():
            paths.update(f.key_path for f in uc.features.values())
        return {p for p in paths if p}


def parse_adoption_rules(text: str, source: str) -> AdoptionRules:
    return validate_yaml(text, source, AdoptionRules, WHAT)


def resolve_adoption_path(name_or_path: str | None) -> Path:
    """A bundled adoption rule set name, or a path to a YAML file."""
    return resolve_in(ADOPTION_DIR, name_or_path, DEFAULT_ADOPTION_RULES, "adoption")


def load_adoption_rules(name_or_path: str | None = None) -> AdoptionRules:
    """The adoption rules named by `ADOPTION_RULES` (a name or a path), loaded once and cached."""
    return load_file(resolve_adoption_path(name_or_path), AdoptionRules, WHAT)
