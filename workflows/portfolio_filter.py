"""Filters over a portfolio (`/usage mine red ci:red tier:ultimate`, `usagebot portfolio EMAIL …`): pure.

Words, combinable (every word must hold; several values of the same kind are alternatives):
- a colour for the overall product health: `red`, `yellow`, `green`, `nodata`;
- `MEASURE:COLOUR` for one of the six measures: `ci:red`, `security:nodata`, `utilization:yellow`;
- `tier:NAME`: a product tier of the month's subscriptions contains NAME (`tier:ultimate`);
- `segment:NAME`: the account's sales segment (`segment:large`, `segment:mid-market`);
- `flag:NAME`: the account has that flag (`flag:stale`, `flag:not_reporting`, any flag kind there is).
Anything else is a `FilterError` whose message lists the valid words.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import get_args

from scoring.model import GREEN, LICENSE_UTILIZATION, NO_DATA, NOT_APPLICABLE, RED, YELLOW, FlagKind
from workflows.portfolio import Portfolio, PortfolioAccount, Scope, page_bounds

COLOURS: dict[str, str] = {
    "red": RED,
    "yellow": YELLOW,
    "green": GREEN,
    "nodata": NO_DATA,
    "no-data": NO_DATA,
    "no_data": NO_DATA,
    "na": NOT_APPLICABLE,
    "n/a": NOT_APPLICABLE,
}
# Short names people type for the six measures (and the overall health), as the summary card names them.
MEASURE_ALIASES: dict[str, str] = {
    "utilization": "license_utilization",
    "utilisation": "license_utilization",
    "util": "license_utilization",
    "license": "license_utilization",
    "license_utilization": "license_utilization",
    "engagement": "user_engagement",
    "user_engagement": "user_engagement",
    "scm": "scm",
    "ci": "ci",
    "cd": "cd",
    "security": "security",
    "sec": "security",
    "health": "overall",
    "overall": "overall",
}
KINDS = ("tier", "segment", "flag")
SHORT_MEASURES = ("utilization", "engagement", "scm", "ci", "cd", "security")


class FilterError(ValueError):
    """A filter word that means nothing here; the message says which and lists what is valid."""


def _key(text: str) -> str:
    """Case, spaces, dashes and underscores do not matter when comparing names ('Mid-Market' = 'midmarket')."""
    return re.sub(r"[\s_\-]+", "", text.lower())


@dataclass(frozen=True)
class PortfolioFilter:
    overall: frozenset[str] = frozenset()
    measures: tuple[tuple[str, frozenset[str]], ...] = ()  # (measure key, colours); every measure must match
    tiers: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()
    words: tuple[str, ...] = field(default=(), compare=False)  # as typed, normalised, for labels and buttons

    @property
    def empty(self) -> bool:
        return not (self.overall or self.measures or self.tiers or self.segments or self.flags)

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def needs_later_columns(self) -> bool:
        """A tier, flag or License utilization word: the narrow columns it reads are empty on stored rows
        written before they were kept (migration 0018)."""
        return bool(self.tiers or self.flags) or any(k == LICENSE_UTILIZATION for k, _ in self.measures)

    def matches(self, a: PortfolioAccount) -> bool:
        kinds = {f.kind for f in a.flags} if self.flags else ()
        return self.holds(a.health_color, a.measures, a.segment, a.tiers, kinds)

    def holds(
        self,
        health_color: str,
        measures: Mapping[str, str | None],
        segment: str | None,
        tiers: Sequence[str],
        flag_kinds: Collection[str],
    ) -> bool:
        """Every word holds for an account with these figures (the one rule, for full lines and ranked ones)."""
        if self.overall and health_color not in self.overall:
            return False
        for key, colours in self.measures:
            colour = health_color if key == "overall" else measures.get(key)
            if colour not in colours:
                return False
        if self.tiers and not any(t in _key(tier) for tier in tiers for t in self.tiers):
            return False
        if self.segments and _key(segment or "") not in self.segments:
            return False
        return not (self.flags and not any(k in self.flags for k in flag_kinds))

    def apply(self, accounts: Iterable[PortfolioAccount]) -> list[PortfolioAccount]:
        return [a for a in accounts if self.matches(a)]


def known_flags(accounts: Iterable[PortfolioAccount] = ()) -> list[str]:
    """Every flag kind the scoring engine can raise, and any other kind these accounts carry."""
    kinds = set(get_args(FlagKind))
    kinds.update(f.kind for a in accounts for f in a.flags)
    return sorted(kinds)


def help_lines(flags: Sequence[str]) -> list[str]:
    """The valid filter words, for help and for the error message."""
    measures = ", ".join(f"`{m}`" for m in SHORT_MEASURES)
    return [
        "`red`, `yellow`, `green`, `nodata`: overall product health",
        f"`MEASURE:COLOUR` for one measure ({measures}; colours as above, or `na`), e.g. `ci:red`, `security:nodata`",
        "`tier:NAME`, e.g. `tier:ultimate`",
        "`segment:NAME`, e.g. `segment:large`",
        "`flag:NAME`, e.g. `flag:" + (flags[0] if flags else "stale") + "`; flags: " + ", ".join(flags),
    ]


def parse_filters(words: Sequence[str], flags: Sequence[str] = ()) -> PortfolioFilter:
    """Read filter words (any case); FilterError naming the first unknown word and listing the valid ones."""
    flag_names = list(flags) or known_flags()
    flag_keys = {_key(f): f for f in flag_names}
    overall: set[str] = set()
    measures: dict[str, set[str]] = {}
    tiers: set[str] = set()
    segments: set[str] = set()
    chosen: set[str] = set()
    seen: list[str] = []

    def fail(word: str, why: str) -> FilterError:
        return FilterError(f"{why} Filters:\n" + "\n".join("• " + line for line in help_lines(flag_names)))

    for raw in words:
        word = raw.strip().lower()
        if not word:
            continue
        name, sep, value = word.partition(":")
        if not sep:
            if word not in COLOURS:
                raise fail(word, f"I don't know the filter “{raw[:40]}”.")
            overall.add(COLOURS[word])
        elif name in MEASURE_ALIASES:
            if value not in COLOURS:
                raise fail(word, f"“{raw[:40]}”: after `{name}:` comes a colour (red, yellow, green, nodata).")
            measures.setdefault(MEASURE_ALIASES[name], set()).add(COLOURS[value])
        elif name in KINDS:
            if not _key(value):
                raise fail(word, f"“{raw[:40]}”: `{name}:` needs a name after it.")
            if name == "tier":
                tiers.add(_key(value))
            elif name == "segment":
                segments.add(_key(value))
            else:
                if _key(value) not in flag_keys:
                    raise fail(word, f"There is no flag called “{value[:40]}”.")
                chosen.add(flag_keys[_key(value)])
        else:
            raise fail(word, f"I don't know the filter “{raw[:40]}”.")
        seen.append(word)
    return PortfolioFilter(
        overall=frozenset(overall),
        measures=tuple(sorted((k, frozenset(v)) for k, v in measures.items())),
        tiers=frozenset(tiers),
        segments=frozenset(segments),
        flags=frozenset(chosen),
        words=tuple(seen),
    )


@dataclass(frozen=True)
class Listing:
    """A portfolio narrowed by a filter, worst first (overall colour, then score): `/usage mine` and the CLI."""

    portfolio: Portfolio
    filter: PortfolioFilter
    accounts: tuple[PortfolioAccount, ...]

    def page(self, number: int, size: int) -> tuple[int, int, tuple[PortfolioAccount, ...]]:
        """(page shown, page count, accounts of that page); out-of-range pages are clamped."""
        number, pages, (lo, hi) = page_bounds(len(self.accounts), number, size)
        return number, pages, self.accounts[lo:hi]

    def page_view(self, number: int, size: int) -> ListingPage:
        shown, pages, accounts = self.page(number, size)
        p = self.portfolio
        return ListingPage(p.scope, p.as_of, len(p.accounts), len(self.accounts), self.filter, shown, pages, accounts)


@dataclass(frozen=True)
class ListingPage:
    """One page of a listing, as `/usage mine` and `/usage team` show it."""

    scope: Scope
    as_of: date | None
    in_scope: int  # accounts of the scope, before the filter
    matching: int  # accounts the filter keeps
    filter: PortfolioFilter
    number: int  # the page shown (clamped)
    pages: int
    accounts: tuple[PortfolioAccount, ...]


def listing(portfolio: Portfolio, filt: PortfolioFilter) -> Listing:
    chosen = sorted(filt.apply(portfolio.accounts), key=PortfolioAccount.worst_first_key)
    return Listing(portfolio, filt, tuple(chosen))


def listing_json(found: Listing) -> dict[str, object]:
    """The listing as plain data (`usagebot portfolio … --json`)."""
    p = found.portfolio
    return {
        "scope": p.scope,
        "as_of": p.as_of.strftime("%Y-%m") if p.as_of else None,
        "month": p.month.strftime("%Y-%m"),
        "filters": list(found.filter.words),
        "total_in_scope": len(p.accounts),
        "accounts": [
            {
                "id": a.id,
                "name": a.name,
                "tam_name": a.tam_name,
                "tam_email": a.tam_email,
                "segment": a.segment,
                "tiers": list(a.tiers),
                "health": {"color": a.health_color, "score": a.health_score},
                "measures": dict(a.measures),
                "licensed_seats": a.licensed_seats,
                "billable_users": a.billable_users,
                "utilization": a.utilization,
                "flags": [{"kind": f.kind, "message": f.message} for f in a.flags],
                "unknown_instances": a.unknown_instances,
            }
            for a in found.accounts
        ],
    }
