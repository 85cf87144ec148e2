"""The parts of metric search on their own: typo correction, the embedding table, the confidence model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from db.session import session_scope
from workflows.metric_search import NO_MATCH_BELOW, confidence, load_synonyms, parse_query, search, semantic
from workflows.metric_search.engine import build_index, search_index
from workflows.metric_search.spelling import build_speller
from workflows.metrics_import import SAMPLE_PATH, import_definitions, read_definitions


def test_typos_become_the_dictionarys_words() -> None:
    speller = build_speller({"pipelines": 40, "deployment": 30, "epics": 9, "scanning": 50, "pipeline": 60})
    assert speller.correct("piplines") == "pipelines"
    assert speller.correct("deplyoment") == "deployment"  # a swap is one edit
    assert speller.correct("epcis") == "epics"
    assert speller.correct("scaning") == "scanning"
    assert speller.correct("pipelines") is None  # known words stay
    assert speller.correct("mttr") is None  # short and unlike anything: an unknown word, not a typo
    assert speller.correct("xipelines") is None  # typos keep the first letter


def test_a_typo_is_searched_as_the_word_meant() -> None:
    speller = build_speller({"pipelines": 40, "epics": 9})
    assert parse_query("piplines last month", load_synonyms(), speller).typed == ["pipelin"]
    # Words the synonym file knows are never "corrected" into dictionary words: "ppl" stays, and means people.
    query = parse_query("how many ppl use epcis", load_synonyms(), speller)
    assert query.typed == ["ppl", "epic"] and query.about_users


def test_the_embedding_table_encodes_offline() -> None:
    table = semantic.load_table()
    assert table is not None, "workflows/data/metric_embeddings.npz is shipped with the code"
    assert table.vectors.dtype == np.float32 and table.vectors.shape[1] <= 128
    assert semantic.TABLE_PATH.stat().st_size < 8_000_000
    a, b, c = (table.encode(t) for t in ("docker image scanning", "container scanning", "merge request approvals"))
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-3
    assert float(a @ b) > float(a @ c)  # closer in meaning
    assert not table.encode("🙂 ☃").any()  # nothing known: a zero vector, no error
    assert table.tokens("x" * 500) == []


def test_search_works_without_the_table(tmp_path: Path) -> None:
    assert semantic.load_table(tmp_path / "missing.npz") is None
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a numpy file")
    assert semantic.load_table(broken) is None
    definitions = [_Definition(**d) for d in read_definitions(SAMPLE_PATH).definitions]
    index = build_index(definitions, "v1")
    index.table = index.meanings = None
    hits = search_index(index, "how many merge requests were created", 3)
    assert hits and ("merge_request" in hits[0].key_path or "create_mr" in hits[0].key_path)


class _Definition:
    def __init__(self, **fields: object) -> None:
        self.__dict__.update(fields)


def test_confidence_model_learns_and_loads() -> None:
    rows = [({"coverage": 1.0, "missing": 0.0}, 1)] * 20 + [({"coverage": 0.2, "missing": 1.0}, 0)] * 20
    model = confidence.fit(rows)
    assert model.probability({"coverage": 1.0, "missing": 0.0}) > 0.9
    assert model.probability({"coverage": 0.2, "missing": 1.0}) < 0.1
    shipped = confidence.load_calibration()
    for part in (shipped.first, shipped.lower):
        assert set(part.weights) == set(confidence.FEATURES)
    assert shipped.first.weights["missing"] < 0 < shipped.first.weights["coverage"]


def test_nothing_fits_for_what_is_not_measured(db_url: str) -> None:
    with session_scope(db_url) as session:
        import_definitions(session, SAMPLE_PATH)
    with session_scope(db_url) as session:
        for text in ("MTTR for incidents", "customer NPS score", "average pipeline duration"):
            hits = search(session, text, limit=5)
            assert all(h.confidence < NO_MATCH_BELOW for h in hits), (text, hits[:1])
        sure = search(session, "how many merge requests were created last month", limit=5)
        assert sure[0].confidence >= NO_MATCH_BELOW
