"""Find Metrics Dictionary definitions from a TAM's plain words.

Lexical retrieval (BM25 over key path words, description, product group and categories, event names)
with a synonym map for this field's words and light stemming, re-ranked with rapidfuzz and with what
the question implies: active before removed, the time frame its words ask for (28 days by default),
and key paths whose own words the question covers. The index lives in memory per process and per
database, and is rebuilt when the latest import's dictionary hash changes.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rapidfuzz import fuzz
from sqlalchemy.orm import Session

from db.queries import metrics as queries
from workflows.metric_search.confidence import load_calibration
from workflows.metric_search.semantic import EmbeddingTable, load_table
from workflows.metric_search.spelling import Speller, build_speller

SYNONYMS_PATH = Path(__file__).parent.parent / "data" / "metric_synonyms.yaml"

MAX_QUERY_CHARS = 500  # a question is a sentence; anything longer is cut, not rejected
MAX_QUERY_WORDS = 60
MAX_SEARCHED_WORDS = 16  # distinct meaningful words searched for; a question has far fewer
MAX_LIMIT = 100
# A result at or above this confidence answers the question in most cases; when every result is below it,
# no metric fits (the request flow then says so and goes straight to filing).
NO_MATCH_BELOW = 0.5
NO_SEMANTIC = 0.5  # the "semantic" confidence feature when no embedding table is shipped
POOL_FLOOR = 0.3  # BM25 hits below this share of the best one are not considered
POOL_MAX = 150
CANDIDATES = 60  # hits that get the fuzzy comparison (the slowest step)

K1, B = 1.2, 0.6
# Weight of a word by where it appears in a definition.
FIELD_WEIGHTS = {"key": 1.0, "description": 1.0, "group": 0.4, "events": 0.4}
# A synonym counts less than the word the person typed: a listed equivalent ("MR" for "merge request") a
# little less, a broader word ("ci" also looks for "pipeline", "job"…) clearly less.
GROUP_WEIGHT = 0.85
EXPANSION_WEIGHT = 0.6
# Ranking weights: BM25 (relative to the best hit), coverage of the typed words, key-name precision, fuzzy.
W_BM25, W_COVERAGE, W_LEAF, W_FUZZY = 0.35, 0.3, 0.3, 0.1
# Meaning similarity (static embeddings) joins the ranking with this weight, and its best matches join the
# candidates BM25 found, so a question worded unlike any definition still reaches the right one.
W_SEMANTIC = 0.2
SEMANTIC_CANDIDATES = 30
HEALTH_PRIOR = 1.06
# "How many pipelines" wants a count of pipelines, "how many people…" a count of users: a mismatch costs this much.
AUDIENCE_MISMATCH = 0.85
STATUS_FACTOR = {"active": 1.0, "broken": 0.8, "removed": 0.7}
# A definition named for a state nobody asked about (stems): "disabled" counts answer "turned off" questions.
UNASKED_STATES = ("disabl",)
UNASKED_STATE_FACTOR = 0.85

_STOP_TEXT = """a an the of in on at for to from and or by with about into over as is are was were be been being do does
    did done doing they them their theirs we our us you your it its this that these those there here how many much
    what which when where why can could would should will shall may might any some all each every please show tell
    me my i get got give find see know want need number numbers count counts counting amount total totals use used
    uses using usage have has had having than then so if not no yes just also only very really customer customers
    metric metrics s ve re ll d t m don doesn isn aren didn haven hasn wasn weren whats times someone somebody
    anyone anybody everyone everybody something anything thing things"""
STOP_WORDS = frozenset(_STOP_TEXT.split())

# Generic verbs ("how many pipelines ran", "do they use") say little about which metric is meant.
WEAK_WORDS_TYPED = (
    *("run", "use", "perform", "happen", "execute", "make", "do", "go", "take", "get", "look", "gitlab", "often"),
    *("adoption", "adopt", "set", "up", "enable", "on", "turn", "there", "they", "their", "team", "company"),
    *("burn", "burnt", "consume", "consumption", "spent", "actually", "currently"),
)
WEAK_WEIGHT = 0.3
WEAK_COVERAGE = 0.1

# Words that say which time frame the person means; they steer the ranking and are not searched for.
TIME_WORDS = {
    "28d": {"month", "monthly", "28d", "28", "mom", "l28d", "l30d", "30d", "mtd"},
    "7d": {"week", "weekly", "7d", "7", "l7d", "wow"},
    # "how many X do they have" asks for what exists now: the all-time count, not last month's activity.
    "all": {"ever", "alltime", "overall", "cumulative", "have", "total", "exist", "existing"},
}
# Words that hint at a time frame but are also searched for (the dictionary says "MAU" in descriptions).
TIME_HINTS = {"mau": "28d", "wau": "7d"}
TIME_FILLERS = frozenset(
    {"last", "past", "this", "per", "day", "days", "recent", "recently", "current", "year", "quarter", "ytd", "lately"}
)
TIME_BEFORE = frozenset({"all", "this", "that", "same", "any", "first", "last", "at", "one", "of"})
ALL_TIME_PHRASES = ("all time", "so far", "since the start", "to date", "in total")

# Key path segments that only say where a metric is collected, not what it measures.
KEY_NOISE = frozenset(
    {
        "counts",
        "count",
        "total",
        "redis",
        "hll",
        "counter",
        "usage",
        "activity",
        "by",
        "stage",
        "monthly",
        "weekly",
        "distinct",
        "i",
        "g",
        "p",
        "o",
        "from",
        "unique",
        "the",
        "of",
        "in",
        "id",
        "all",
        "28d",
        "7d",
    }
)
KEY_NOISE_STEMS: frozenset[str] = frozenset()  # filled below, once stem() exists

_WORD = re.compile(r"[a-z0-9]+")
# The dictionary counts things; it rarely times or averages them, and never prices them. A question asking
# for a duration, an average, a share or money ("time to merge", "how long", "percentage", "uptime", "cost")
# is answered only by a definition that speaks of it too. ("rate" is not here: a success rate is worked out
# from two counts.)
MEASURE_WORDS = frozenset(
    {"time", "long", "duration", "durations", "average", "avg", "mean", "median", "percentage", "percent", "pct"}
    | {"ratio", "latency", "speed", "fast", "slow", "uptime", "downtime", "sla", "turnaround", "wait", "elapsed"}
    # Money: what a customer pays is in the CRM, not in usage data.
    | {"cost", "costs", "price", "pricing", "revenue", "arr", "money", "dollars", "paying", "spend", "spent"}
)
TIME_VOCABULARY = frozenset(w for group in TIME_WORDS.values() for w in group) | TIME_FILLERS | frozenset(TIME_HINTS)


@dataclass(frozen=True)
class MetricHit:
    key_path: str
    description: str
    status: str
    time_frame: str
    time_frames: list[str]
    tiers: list[str]
    product_group: str | None
    is_health_metric: bool
    confidence: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- words


# Irregular past tenses people type ("how many pipelines ran"); the dictionary says "run", "build"…
IRREGULAR = {"ran": "run", "made": "make", "built": "build", "saw": "see", "seen": "see", "wrote": "write"}
IRREGULAR.update({"written": "write", "did": "do", "done": "do", "went": "go", "got": "get", "taken": "take"})


# "times" counts occurrences ("number of times the widget was expanded"); "time" is a duration ("time to
# merge"). Stemming them together would make every "number of times…" metric answer duration questions.
KEEP_AS_IS = frozenset({"times"})


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light, predictable stemmer: plural, -ing, -ed and final -e, enough to match create/created/creating."""
    w = IRREGULAR.get(word, word)
    if w in KEEP_AS_IS:
        return w
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith("sses"):
        w = w[:-2]
    elif len(w) >= 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if len(w) > 5 and w.endswith("ing"):
        w = _undouble(w[:-3])
    elif len(w) > 4 and w.endswith("ed"):
        w = _undouble(w[:-2])
    if len(w) > 4 and w.endswith("e"):
        w = w[:-1]
    return w


def _undouble(w: str) -> str:
    """scann -> scan, runn -> run; but not add -> ad, install -> instal."""
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "ls":
        return w[:-1]
    return w


KEY_NOISE_STEMS = frozenset(stem(w) for w in KEY_NOISE)
WEAK_WORDS = frozenset(stem(w) for w in WEAK_WORDS_TYPED)


def words(text: str) -> list[str]:
    """Lower-case words of any text: key paths split on '.' and '_', punctuation dropped."""
    return _WORD.findall(text.lower())


def stems(text: str) -> list[str]:
    return [stem(w) for w in words(text)]


# ---------------------------------------------------------------- synonyms


@dataclass
class Synonyms:
    """Stemmed phrase -> stemmed phrases it also looks for, with the weight of each."""

    expansions: dict[tuple[str, ...], dict[tuple[str, ...], float]] = field(default_factory=dict)
    longest: int = 1
    words: set[str] = field(default_factory=set)  # every word of the file as written, for the speller
    stems: set[str] = field(default_factory=set)

    def add(self, phrase: str, others: Iterable[str], weight: float) -> None:
        key = tuple(stems(phrase))
        if not key:
            return
        self.words.update(words(phrase))
        self.stems.update(key)
        targets = self.expansions.setdefault(key, {})
        for other in others:
            target = tuple(stems(other))
            if target and target != key:
                targets[target] = max(targets.get(target, 0.0), weight)
        self.longest = max(self.longest, len(key))


@lru_cache(maxsize=4)
def load_synonyms(path: Path = SYNONYMS_PATH) -> Synonyms:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    synonyms = Synonyms()
    for group in data.get("groups") or []:
        for phrase in group:
            synonyms.add(str(phrase), (str(p) for p in group), GROUP_WEIGHT)
    for phrase, targets in (data.get("expands") or {}).items():
        synonyms.add(str(phrase), (str(t) for t in targets), EXPANSION_WEIGHT)
    return synonyms


# ---------------------------------------------------------------- the query


USER_WORDS = frozenset(
    stem(w) for w in ("user", "people", "person", "who", "author", "creator", "mau", "wau", "visitor")
)


@dataclass
class Query:
    # One group per typed word (the word at 1.0, its synonyms less), plus groups for phrase-only expansions.
    # A definition scores the best term of each group, so a word's many synonyms never outweigh the word.
    groups: list[dict[str, float]]
    typed: list[str]  # stemmed words the person typed (after stop and time words)
    alternatives: dict[str, dict[str, float]]  # typed word -> itself and its synonyms' words, with weights
    time_frame: str | None  # "28d", "7d", "all", or None when the words name none
    about_users: bool  # the question asks about people (unique users), not about things
    text: str  # the typed words joined, for fuzzy comparison
    sentence: str = ""  # the question with typos corrected, for meaning similarity
    measures: frozenset[str] = frozenset()  # stemmed words asking for a duration, an average, a share…

    @property
    def terms(self) -> set[str]:
        return {term for group in self.groups for term in group}

    @cached_property
    def weights(self) -> dict[str, float]:
        """Each searched word's strongest weight (typed 1.0, synonym less)."""
        out: dict[str, float] = {}
        for group in self.groups:
            for term, weight in group.items():
                out[term] = max(out.get(term, 0.0), weight)
        return out


def parse_query(text: str, synonyms: Synonyms, speller: Speller | None = None) -> Query:
    raw = text[:MAX_QUERY_CHARS]
    tokens = words(raw)[:MAX_QUERY_WORDS]
    # "time" is a word to search for ("time to merge"), except in "all time", "this time"…
    tokens = [w for i, w in enumerate(tokens) if not (w == "time" and i and tokens[i - 1] in TIME_BEFORE)]
    if speller is not None:
        # Typos first, so that the synonyms and the time words see what the person meant.
        tokens = [_corrected(token, synonyms, speller) for token in tokens]
    time_frame = _time_frame(tokens, " ".join(tokens))
    stemmed = [stem(t) for t in tokens]
    time_stems = {stem(w) for group in TIME_WORDS.values() for w in group} | {stem(w) for w in TIME_FILLERS}
    typed = list(
        dict.fromkeys(s for s, t in zip(stemmed, tokens, strict=True) if t not in STOP_WORDS and s not in time_stems)
    )[:MAX_SEARCHED_WORDS]

    # Synonyms are matched on the full sentence, so phrases like "turned on" or "to do" are seen.
    alternatives: dict[str, dict[str, float]] = {word: {word: 1.0} for word in typed}
    loose: dict[str, float] = {}  # expansions of phrases made only of stop words ("do they use")
    for size in range(synonyms.longest, 0, -1):
        for start in range(len(stemmed) - size + 1):
            phrase = stemmed[start : start + size]
            targets = synonyms.expansions.get(tuple(phrase))
            if not targets:
                continue
            found = [w for w in phrase if w in alternatives]
            for target, weight in targets.items():
                for word in target:
                    if word in STOP_WORDS or word in time_stems:
                        continue
                    if found:
                        for owner in found:
                            alternatives[owner][word] = max(alternatives[owner].get(word, 0.0), weight)
                    else:
                        loose[word] = 1.0
    # "creating new issues": "new" is a synonym of "creating", one idea typed twice, so it is searched once.
    merged: list[str] = []
    for word in typed:
        if not any(_same(synonyms, word, kept) for kept in merged):
            merged.append(word)
    typed = merged
    groups: list[dict[str, float]] = []
    for word in typed:
        strength = WEAK_WEIGHT if word in WEAK_WORDS else 1.0
        group = {alt: weight * strength for alt, weight in alternatives[word].items()}
        group[word] = strength
        groups.append(group)
    for word, weight in loose.items():
        if word not in alternatives:
            groups.append({word: weight})
            alternatives[word] = {word: 1.0}
            typed.append(word)
    about_users = any(USER_WORDS.intersection(alternatives[w]) for w in typed)
    measures = frozenset(stem(t) for t in tokens if t in MEASURE_WORDS)
    return Query(
        groups=groups,
        typed=typed,
        alternatives=alternatives,
        time_frame=time_frame,
        about_users=about_users,
        text=" ".join(typed),
        sentence=" ".join(t for t in tokens if t not in STOP_WORDS),
        measures=measures,
    )


def _corrected(token: str, synonyms: Synonyms, speller: Speller) -> str:
    """The word as typed when anything understands it (dictionary, synonyms, stop or time words), else its fix."""
    if token in STOP_WORDS or token in TIME_VOCABULARY or token in synonyms.words or speller.known(token):
        return token
    if stem(token) in synonyms.stems or speller.known(stem(token)):
        return token
    return speller.correct(token) or token


def _same(synonyms: Synonyms, one: str, other: str) -> bool:
    """Two words listed as synonyms of each other (both ways; "ci" -> "pipeline" alone is not enough)."""
    return (one,) in synonyms.expansions.get((other,), ()) and (other,) in synonyms.expansions.get((one,), ())


def _time_frame(tokens: list[str], lowered: str) -> str | None:
    if any(phrase in lowered for phrase in ALL_TIME_PHRASES):
        return "all"
    found = [frame for frame, words_ in TIME_WORDS.items() if any(t in words_ for t in tokens)]
    found += [TIME_HINTS[t] for t in tokens if t in TIME_HINTS and TIME_HINTS[t] not in found]
    return found[0] if len(found) == 1 else None


# ---------------------------------------------------------------- the index


@dataclass
class _Doc:
    key_path: str
    description: str
    status: str
    time_frames: list[str]
    tiers: list[str]
    product_group: str | None
    is_health_metric: bool
    length: float
    leaf: frozenset[str]  # meaningful stemmed words of the key path's last segment
    leaf_words: list[str]  # the same in order, for the meaning text
    about_users: bool  # counts people (unique users, authors, MAU) rather than things
    vocabulary: frozenset[str]
    fuzzy_text: str


@dataclass
class Index:
    version: str
    docs: list[_Doc]
    postings: dict[str, list[tuple[int, float]]]  # word -> (definition number, BM25 tf part)
    idf: dict[str, float]
    avg_length: float
    speller: Speller
    table: EmbeddingTable | None = None  # the static embedding table, when shipped
    meanings: Any = None  # numpy [definitions, dims]: unit vector of each definition's words


def build_index(definitions: Iterable[Any], version: str) -> Index:
    docs: list[_Doc] = []
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)  # word -> (definition number, weighted tf)
    vocabulary: Counter[str] = Counter()  # words as written, for typo correction
    for number, d in enumerate(definitions):
        tf: dict[str, float] = defaultdict(float)
        fields = {
            "key": stems(d.key_path),
            "description": stems(d.description or ""),
            "group": stems(" ".join([d.product_group or "", *(d.product_categories or [])])),
            "events": stems(" ".join(d.events or [])),
        }
        for name, field_stems in fields.items():
            for s in field_stems:
                tf[s] += FIELD_WEIGHTS[name]
        vocabulary.update(words(f"{d.key_path} {d.description or ''} {' '.join(d.events or [])}"))
        leaf_words = _leaf_words(d.key_path)
        leaf = frozenset(leaf_words)
        # Counts people when its name says so, or its description opens with it ("Count of unique users who…");
        # "Count of unique projects where a user visited…" counts projects.
        about_users = _counts_people(d.key_path, leaf_words, fields["description"])
        docs.append(
            _Doc(
                key_path=d.key_path,
                description=d.description or "",
                status=d.status,
                time_frames=list(d.time_frames or []),
                tiers=list(d.tiers or []),
                product_group=d.product_group,
                is_health_metric=bool(d.is_health_metric),
                length=sum(tf.values()),
                leaf=leaf,
                leaf_words=leaf_words,
                about_users=about_users,
                vocabulary=frozenset(tf),
                fuzzy_text=" ".join([w for w in fields["description"] if w not in STOP_WORDS] + leaf_words),
            )
        )
        for word, weight in tf.items():
            postings[word].append((number, weight))
    n = max(len(docs), 1)
    idf = {w: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for w, p in postings.items()}
    avg = (sum(d.length for d in docs) / n if docs else 1.0) or 1.0
    # Store each posting's BM25 term-frequency part, so a query only multiplies by idf and weight.
    saturated = {
        word: [(number, tf * (K1 + 1) / (tf + K1 * (1 - B + B * docs[number].length / avg))) for number, tf in plist]
        for word, plist in postings.items()
    }
    speller = build_speller(vocabulary, load_synonyms().words)
    table = load_table()
    meanings = table.encode_many([_meaning_text(doc) for doc in docs]) if table is not None else None
    return Index(
        version=version,
        docs=docs,
        postings=saturated,
        idf=idf,
        avg_length=avg,
        speller=speller,
        table=table,
        meanings=meanings,
    )


def _meaning_text(doc: _Doc) -> str:
    """What a definition is about, in words: its description, then its own name and product group."""
    return " ".join([doc.description, " ".join(doc.leaf_words), (doc.product_group or "").replace("_", " ")])


# Key path fragments that say outright what is counted: people, or things and events.
_PEOPLE_KEYS = ("count_distinct_user_id", "unique_users", "active_users", "_users_", "users_")
_THING_KEYS = ("count_total_", "count_distinct_project_id", "count_distinct_namespace_id", "count_distinct_group_id")


def _counts_people(key_path: str, leaf_words: list[str], description: list[str]) -> bool:
    """Whether a definition counts people (unique users, authors, MAU) rather than things.

    The key path says it best ("count_distinct_user_id_…", "…_unique_users_…" vs "count_total_…": a
    "user created dashboard" is a dashboard); otherwise its own name or the description's first words.
    """
    key = "_" + key_path.rsplit(".", 1)[-1].lower() + "_"
    if any(k in key for k in _THING_KEYS):
        return False
    if any(k in key for k in _PEOPLE_KEYS) or key.endswith("_users_"):
        return True
    return bool(USER_WORDS & (set(leaf_words) | set(description[:5])))


def _leaf_words(key_path: str) -> list[str]:
    """The meaningful words of a metric's own name: the last key path segment that has any.

    "project_imports.total" is named by "project_imports"; Redis HLL event names repeat their category after
    a one-letter scope ("code_review.i_code_review_create_mr_monthly"), so that prefix is dropped too.
    """
    segments = key_path.split(".")
    for position in range(len(segments) - 1, -1, -1):
        raw = words(segments[position])
        if position > 0 and len(raw) > 1 and raw[0] in ("i", "g", "p", "o"):
            parent = words(segments[position - 1])
            rest = raw[1:]
            if rest[: len(parent)] == parent and len(rest) > len(parent):
                raw = rest[len(parent) :]
        meaningful = [stem(w) for w in raw]
        meaningful = [w for w in meaningful if w not in KEY_NOISE_STEMS and not w.isdigit()]
        if meaningful:
            return meaningful
    return []


_CACHE: dict[str, Index] = {}
_LOCK = threading.Lock()


def index_for(session: Session) -> Index:
    """This database's index, rebuilt only when an import changed the dictionary."""
    url = session.get_bind().engine.url.render_as_string(hide_password=True)
    version = queries.current_version(session) or f"rows:{sum(queries.counts_by_status(session).values())}"
    cached = _CACHE.get(url)
    if cached is not None and cached.version == version:
        return cached
    with _LOCK:
        cached = _CACHE.get(url)
        if cached is None or cached.version != version:
            cached = build_index(queries.all_definitions(session), version)
            _CACHE[url] = cached
    return cached


def invalidate() -> None:
    """Forget every cached index (tests, or after a manual change of the tables)."""
    with _LOCK:
        _CACHE.clear()


# ---------------------------------------------------------------- search


def search(session: Session, text: str, limit: int = 10) -> list[MetricHit]:
    """Best matching definitions first; an empty or meaningless query gives an empty list."""
    if not isinstance(text, str) or not text.strip():
        return []
    limit = max(1, min(int(limit), MAX_LIMIT))
    return search_index(index_for(session), text, limit)


@dataclass(frozen=True)
class Ranked:
    """One ranked definition with what the ranker saw, before confidence is put on it."""

    doc: _Doc
    rank: float
    features: dict[str, float]


def search_index(index: Index, text: str, limit: int = 10) -> list[MetricHit]:
    calibration = load_calibration()
    hits: list[MetricHit] = []
    ceiling = 1.0
    for position, ranked in enumerate(rank(index, text, limit)):
        # Shown confidences never rise down the list: the order is the ranker's judgement.
        ceiling = min(ceiling, round(min(calibration.probability(ranked.features, position), 0.99), 2))
        hits.append(_hit(ranked.doc, ceiling))
    return hits


def rank(index: Index, text: str, limit: int = 10) -> list[Ranked]:
    """The best `limit` definitions for `text`, best first, each with its confidence features."""
    query = parse_query(text, load_synonyms(), index.speller)
    if not query.groups:
        return []
    scores = _bm25(index, query)
    meaning = _meaning_scores(index, query)
    if meaning is not None:
        closest = (
            np.argpartition(meaning, -SEMANTIC_CANDIDATES)[-SEMANTIC_CANDIDATES:]
            if len(meaning) > SEMANTIC_CANDIDATES
            else range(len(meaning))
        )
        for number in closest:
            scores.setdefault(int(number), 0.0)
    if not scores:
        return []
    top = max(scores.values())
    # Stage 1, cheap: every definition BM25 finds fairly relevant, scored on coverage, key name and context.
    top = top or 1.0
    pool = sorted(
        ((s, n) for n, s in scores.items() if s >= POOL_FLOOR * top or (meaning is not None and s == 0.0)),
        reverse=True,
    )[:POOL_MAX]
    staged = []
    plan = _plan(index, query)
    for score, number in pool:
        doc = index.docs[number]
        coverage, leaf, factor = _features(doc, query, plan)
        sense = float(meaning[number]) if meaning is not None else 0.0
        cheap = (W_BM25 * score / top + W_COVERAGE * coverage + W_LEAF * leaf + W_SEMANTIC * sense) * factor
        staged.append((cheap, number, coverage, leaf, factor, sense))
    staged.sort(key=lambda item: -item[0])
    # Stage 2: the best of those also get a fuzzy comparison of the question with the definition's words.
    scored = []
    for cheap, number, coverage, leaf, factor, sense in staged[: max(CANDIDATES, limit)]:
        doc = index.docs[number]
        similarity = fuzz.token_set_ratio(query.text, doc.fuzzy_text) / 100.0 if query.text else 0.0
        scored.append((cheap + W_FUZZY * similarity * factor, doc, coverage, leaf, similarity, factor, sense))
    scored.sort(key=lambda r: (-r[0], len(r[1].key_path), r[1].key_path))
    unknown = _unknown_share(index, query)
    best = scored[0][0] if scored and scored[0][0] > 0 else 1.0
    out: list[Ranked] = []
    for position, (score, doc, coverage, leaf, similarity, factor, sense) in enumerate(scored[:limit]):
        runner_up = scored[position + 1][0] if position + 1 < len(scored) else 0.0
        features = {
            "coverage": coverage,
            "leaf": leaf,
            "similarity": similarity,
            "unknown": unknown,
            "missing": _missing(index, doc, query),
            "context": min(factor, 1.0),
            "margin": max(score - runner_up, 0.0) / score if score > 0 else 0.0,
            "semantic": sense if meaning is not None else NO_SEMANTIC,
            "relative": score / best,
            "unmet_measure": 1.0 if query.measures and not (query.measures & doc.vocabulary) else 0.0,
        }
        out.append(Ranked(doc=doc, rank=score, features=features))
    return out


MISSING_CAP = 6.0  # idf from which a word counts as fully specific (in under ~1% of definitions); unknown words too


def _missing(index: Index, doc: _Doc, query: Query) -> float:
    """How rare (0–1) the rarest typed word is that this definition does not speak of, even through a synonym.

    "MTTR for incidents" is about MTTR, not incidents: a definition missing the question's most
    specific word rarely answers it, however well it matches the rest.
    """
    worst = 0.0
    for word in query.typed:
        if word in WEAK_WORDS:
            continue
        alternatives = query.alternatives.get(word, {word: 1.0})
        if max((w for alt, w in alternatives.items() if alt in doc.vocabulary), default=0.0) >= 0.5:
            continue
        # A word is as specific as its commonest close synonym: "repo" is "repository", which many define.
        close = [index.idf[alt] for alt, w in alternatives.items() if w >= 0.8 and alt in index.idf]
        rarity = min([index.idf.get(word, MISSING_CAP), *close])
        worst = max(worst, min(rarity, MISSING_CAP) / MISSING_CAP)
    return worst


def _meaning_scores(index: Index, query: Query) -> Any:
    """Cosine of the question's meaning with every definition's (numpy vector), or None without a table."""
    if index.table is None or index.meanings is None:
        return None
    vector = index.table.encode(query.sentence)
    if not vector.any():
        return None
    # einsum stays on one thread: a BLAS matrix product may wake a thread pool and wait for busy cores.
    return np.einsum("ij,j->i", index.meanings, vector)


def _unknown_share(index: Index, query: Query) -> float:
    """Rarity-weighted share of the typed words that no definition uses, not even through a synonym."""
    unknown = total = 0.0
    for word in query.typed:
        weight = WEAK_COVERAGE if word in WEAK_WORDS else 1.0
        total += weight
        if not any(alt in index.idf for alt in query.alternatives.get(word, {word: 1.0})):
            unknown += weight
    return unknown / total if total else 0.0


def _bm25(index: Index, query: Query) -> dict[int, float]:
    scores: dict[int, float] = defaultdict(float)
    for group in query.groups:
        best: dict[int, float] = {}
        for word, weight in group.items():
            postings = index.postings.get(word)
            if not postings:
                continue
            idf = index.idf[word] * weight
            get = best.get
            for number, part in postings:
                score = idf * part
                if score > get(number, 0.0):
                    best[number] = score
        for number, score in best.items():
            scores[number] += score
    return scores


@dataclass(frozen=True)
class _Plan:
    """What scoring a definition needs from the question, worked out once per question, not per definition."""

    words: list[tuple[str, float, list[tuple[str, float]]]]  # typed word, its rarity, its synonyms' words
    total: float
    weights: dict[str, float]
    asked: frozenset[str]


def _plan(index: Index, query: Query) -> _Plan:
    planned = []
    total = 0.0
    for word in query.typed:
        rarity = 1.0 + min(index.idf.get(word, 3.0), 3.0)
        if word in WEAK_WORDS:
            rarity *= WEAK_COVERAGE
        total += rarity
        others = [(alt, w) for alt, w in query.alternatives.get(word, {}).items() if alt != word]
        planned.append((word, rarity, others))
    asked = frozenset(alt for alts in query.alternatives.values() for alt in alts)
    return _Plan(words=planned, total=total, weights=query.weights, asked=asked)


def _features(doc: _Doc, query: Query, plan: _Plan) -> tuple[float, float, float]:
    """(coverage, leaf precision, context factor) of one definition for one question."""
    # Coverage: how much of what the person typed (weighted by rarity) the definition speaks of.
    covered = 0.0
    vocabulary = doc.vocabulary
    for word, rarity, others in plan.words:
        if word in vocabulary:
            covered += rarity
        else:
            covered += rarity * max((w for alt, w in others if alt in vocabulary), default=0.0)
    coverage = covered / plan.total if plan.total else 0.0
    # Leaf precision: how much of the key path's own name the question accounts for.
    weights = plan.weights
    leaf = sum(weights.get(w, 0.0) for w in doc.leaf) / len(doc.leaf) if doc.leaf else 0.5
    # Context: active before removed; the time frame asked for; people vs things.
    audience = 1.0 if query.about_users == doc.about_users else AUDIENCE_MISMATCH
    factor = STATUS_FACTOR.get(doc.status, 0.7) * _time_factor(doc.time_frames, query.time_frame) * audience
    # "Projects with X turned on" is not answered by a count of X being disabled, and the other way round.
    if any(state in doc.leaf and state not in plan.asked for state in UNASKED_STATES):
        factor *= UNASKED_STATE_FACTOR
    if doc.is_health_metric:  # the canonical metrics TAMs see in health scores win near-ties
        factor *= HEALTH_PRIOR
    return coverage, leaf, factor


def _time_factor(frames: list[str], wanted: str | None) -> float:
    have = set(frames)
    if wanted is None:  # no time words: 28-day metrics first (what health scoring reads), then all-time
        if "28d" in have:
            return 1.0
        if "all" in have:
            return 0.95
        return 0.96 if "none" in have else 0.85
    if wanted in have:
        return 1.0
    if wanted == "28d":
        return 0.85 if have & {"all", "none"} else 0.7
    if wanted == "7d":
        return 0.8
    return 0.85 if "28d" in have or "none" in have else 0.75


def _hit(doc: _Doc, confidence: float) -> MetricHit:
    return MetricHit(
        key_path=doc.key_path,
        description=doc.description,
        status=doc.status,
        time_frame=", ".join(doc.time_frames),
        time_frames=doc.time_frames,
        tiers=doc.tiers,
        product_group=doc.product_group,
        is_health_metric=doc.is_health_metric,
        confidence=confidence,
    )
