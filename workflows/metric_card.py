"""A metric's card: what a Metrics Dictionary definition measures and where its numbers come from.

One card for every place that shows a metric (`/usage metric …`, `usagebot metrics show …`, the
candidates of a metric request and its answer), built here from a definition or from what a request
stored about it. `lookup` finds the metric a person means: an exact key path, or the best search
result when its confidence says it fits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session

from db.queries import metrics as queries
from workflows.metric_search import NO_MATCH_BELOW, MetricHit, search

METRICS_PAGE = "https://metrics.gitlab.com/?q="
ALTERNATIVES = 3  # the next closest metrics listed under a card found by search

# Where a definition's numbers are computed, in words (the dictionary's `data_source`).
DATA_SOURCES = {
    "database": "counted in the instance's database",
    "redis": "a Redis counter",
    "redis_hll": "unique counts in Redis (HyperLogLog)",
    "internal_events": "internal events",
    "system": "the instance's configuration",
    "license": "the license",
    "prometheus": "Prometheus",
}


def metrics_url(key_path: str) -> str:
    """The definition's page on metrics.gitlab.com."""
    return METRICS_PAGE + quote(key_path, safe="")


def reported_in(data_source: str | None) -> str:
    """Every dictionary metric reaches GitLab through Service Ping; internal events also go to Snowplow."""
    if data_source == "internal_events":
        return "Service Ping (its events are also sent to Snowplow)"
    return "Service Ping"


@dataclass(frozen=True)
class MetricCard:
    key_path: str
    description: str
    time_frames: list[str]
    tiers: list[str]
    status: str
    product_group: str | None
    data_source: str | None
    is_health_metric: bool
    milestone: str | None = None
    milestone_removed: str | None = None
    confidence: float | None = None  # set when the card was found by search

    @property
    def url(self) -> str:
        return metrics_url(self.key_path)

    @property
    def reported_in(self) -> str:
        return reported_in(self.data_source)

    @property
    def source_words(self) -> str:
        if not self.data_source:
            return "not stated"
        return DATA_SOURCES.get(self.data_source, self.data_source)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "url": self.url, "reported_in": self.reported_in}

    def stored(self) -> dict[str, Any]:
        """What a metric request keeps about a candidate (JSON), enough to show this card again."""
        return {
            "key_path": self.key_path,
            "description": self.description,
            "time_frame": ", ".join(self.time_frames),
            "time_frames": list(self.time_frames),
            "tiers": list(self.tiers),
            "status": self.status,
            "health": self.is_health_metric,
            "product_group": self.product_group,
            "data_source": self.data_source,
            "confidence": self.confidence,
        }


def from_definition(definition: Any, confidence: float | None = None) -> MetricCard:
    return MetricCard(
        key_path=definition.key_path,
        description=definition.description or "",
        time_frames=list(definition.time_frames or []),
        tiers=list(definition.tiers or []),
        status=definition.status,
        product_group=definition.product_group,
        data_source=definition.data_source,
        is_health_metric=bool(definition.is_health_metric),
        milestone=definition.milestone,
        milestone_removed=definition.milestone_removed,
        confidence=confidence,
    )


def from_stored(data: Mapping[str, Any]) -> MetricCard:
    """The card of a candidate a metric request stored (older requests lack some fields)."""
    frames = data.get("time_frames")
    if not isinstance(frames, list):
        frames = [f.strip() for f in str(data.get("time_frame") or "").split(",") if f.strip()]
    return MetricCard(
        key_path=str(data.get("key_path") or ""),
        description=str(data.get("description") or ""),
        time_frames=[str(f) for f in frames],
        tiers=[str(t) for t in data.get("tiers") or []],
        status=str(data.get("status") or ""),
        product_group=data.get("product_group"),
        data_source=data.get("data_source"),
        is_health_metric=bool(data.get("health")),
        confidence=data.get("confidence"),
    )


def cards_for(session: Session, hits: list[MetricHit]) -> list[MetricCard]:
    """Search results as cards (with their confidence), in the same order."""
    cards = []
    for hit in hits:
        definition = queries.get_definition(session, hit.key_path)
        if definition is not None:
            cards.append(from_definition(definition, hit.confidence))
    return cards


@dataclass(frozen=True)
class Lookup:
    """What `/usage metric TEXT` found: the card, how, and the other close metrics."""

    query: str
    card: MetricCard | None
    exact: bool = False  # the text was the key path itself
    others: list[MetricCard] = field(default_factory=list)  # the next closest, when found by search
    empty_dictionary: bool = False


def lookup(session: Session, text: str) -> Lookup:
    """An exact key path (case-insensitive) wins; otherwise the search's best result if it fits."""
    query = " ".join(str(text or "").split())[:500]
    if not query:
        return Lookup(query=query, card=None)
    if not queries.counts_by_status(session):
        return Lookup(query=query, card=None, empty_dictionary=True)
    definition = queries.get_definition(session, query) or _by_key_path_ignoring_case(session, query)
    if definition is not None:
        return Lookup(query=query, card=from_definition(definition), exact=True)
    cards = cards_for(session, search(session, query, limit=ALTERNATIVES + 1))
    if not cards or (cards[0].confidence or 0.0) < NO_MATCH_BELOW:
        # Nothing fits: say so, rather than show unrelated metrics as if they did.
        return Lookup(query=query, card=None)
    return Lookup(query=query, card=cards[0], others=cards[1:])


def _by_key_path_ignoring_case(session: Session, text: str) -> Any:
    if " " in text or ("." not in text and "_" not in text):
        return None
    return queries.get_definition_ignoring_case(session, text)
