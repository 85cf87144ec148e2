"""Metric search: find Metrics Dictionary definitions from the words people use, or say that none fits.

`engine` ranks (BM25 over the definitions' fields, the synonym file, typo correction, field-aware
re-ranking); `confidence` turns what the ranker saw into a calibrated probability that a result
answers the question; `spelling` and `semantic` are the typo and meaning helpers; `evaluation`
scores the whole on labelled questions.
"""

from workflows.metric_search.engine import (
    NO_MATCH_BELOW,
    Index,
    MetricHit,
    Query,
    Synonyms,
    build_index,
    index_for,
    invalidate,
    load_synonyms,
    parse_query,
    search,
    search_index,
    stem,
    stems,
    words,
)

__all__ = [
    "NO_MATCH_BELOW",
    "Index",
    "MetricHit",
    "Query",
    "Synonyms",
    "build_index",
    "index_for",
    "invalidate",
    "load_synonyms",
    "parse_query",
    "search",
    "search_index",
    "stem",
    "stems",
    "words",
]
