"""Benchmark: import of the whole Metrics Dictionary with the search index, and metric search latency.

    .venv/bin/python bench/bench_metrics.py [DATABASE_URL] [--dictionary PATH] [--repeat N] [--write-docs]

DATABASE_URL must be a scratch database: the benchmark migrates it and writes the dictionary into it.

- **import + index**: a first import of the 3,681 definitions, then the first search of a process (which
  builds the in-memory index: BM25 postings, the speller's vocabulary, every definition's meaning
  vector). Goal: the two together ≤ 10 s. Floor: parsing the same YAML files alone (libyaml).
- **search, warm**: every question of tests/fixtures/metric_search_eval.yaml and
  tests/fixtures/metrics_questions.yaml plus odd and long inputs, N times each, end to end through
  `search(session, …)` (index-version query included). Goal: p95 ≤ 20 ms. Floor: the BM25 step alone
  for the same questions (no typo correction, meaning, re-ranking or confidence).
- **memory**: the process's peak RSS before and after building the index.

With --write-docs the figures replace the "metric search" block of docs/benchmarks.md. Not a unit
test: machines differ.
"""

from __future__ import annotations

import argparse
import platform
import re
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db.migrate import upgrade  # noqa: E402
from db.session import session_scope  # noqa: E402
from workflows import metric_search  # noqa: E402
from workflows.metric_search import engine  # noqa: E402
from workflows.metrics_import import import_definitions, read_definitions  # noqa: E402

EXTRA_QUERIES = [
    "users",
    "count",
    "how many unique users created merge requests in projects with security policies last month",
    "pipelines " * 200,
    "🙂 emoji only 🚀",
    "x" * 10_000,
    "qwertyuiop asdfghjkl zxcvbnm",
]
DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench-metrics:begin -->", "<!-- bench-metrics:end -->"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share) - 1)]


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def questions() -> list[str]:
    texts = []
    for name in ("metric_search_eval.yaml", "metrics_questions.yaml"):
        data = yaml.safe_load((ROOT / "tests" / "fixtures" / name).read_text(encoding="utf-8"))
        texts += [q["q"] for q in data["questions"]]
    return texts + EXTRA_QUERIES


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url", nargs="?", help="database URL (default: a new SQLite file)")
    parser.add_argument("--dictionary", type=Path, default=ROOT.parent / "shared" / "data" / "metrics_dictionary")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write-docs", action="store_true", help="replace the figures in docs/benchmarks.md")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/bench-metrics.db"
    upgrade(url)
    rows: list[str] = []

    started = time.perf_counter()
    parsed = read_definitions(args.dictionary)
    floor_parse = time.perf_counter() - started

    started = time.perf_counter()
    with session_scope(url) as session:
        result = import_definitions(session, args.dictionary)
    first_import = time.perf_counter() - started
    metric_search.invalidate()
    before = rss_mib()
    with session_scope(url) as session:
        started = time.perf_counter()
        metric_search.search(session, "merge requests")
        build = time.perf_counter() - started
    after = rss_mib()
    started = time.perf_counter()
    with session_scope(url) as session:
        again = import_definitions(session, args.dictionary)
    reimport = time.perf_counter() - started
    total = first_import + build
    rows.append(
        f"| import + index ({result.definitions:,} definitions) | {total:.1f} s (import {first_import:.1f} s, "
        f"index {build:.1f} s); re-import unchanged {reimport:.1f} s ({again.unchanged:,} unchanged) | "
        f"parsing the YAML alone: {floor_parse:.1f} s ({len(parsed.definitions):,} definitions) | "
        f"{total / floor_parse:.1f}× | ≤ 10 s |"
    )
    rows.append(f"| memory (peak RSS) | {before:.0f} MiB before the index, {after:.0f} MiB after | | | |")

    texts = questions()
    timings: list[float] = []
    floor: list[float] = []
    with session_scope(url) as session:
        metric_search.search(session, "warm up")
        index = metric_search.index_for(session)
        synonyms = metric_search.load_synonyms()
        for _ in range(args.repeat):
            for text in texts:
                started = time.perf_counter()
                metric_search.search(session, text, limit=10)
                timings.append((time.perf_counter() - started) * 1000)
                query = engine.parse_query(text, synonyms)
                started = time.perf_counter()
                engine._bm25(index, query)
                floor.append((time.perf_counter() - started) * 1000)
    p95, floor95 = percentile(timings, 0.95), percentile(floor, 0.95)
    rows.append(
        f"| search, warm (n={len(timings):,}) | p50 {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms, "
        f"max {max(timings):.1f} ms | BM25 step alone: p50 {statistics.median(floor):.1f} ms, p95 {floor95:.1f} ms | "
        f"p95 {p95 / floor95:.1f}× | p95 ≤ 20 ms |"
    )
    table = "\n".join(
        [
            f"Run of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {url.split(':', 1)[0]}, Python "
            f"{platform.python_version()}, {platform.machine()}; `bench/bench_metrics.py --repeat {args.repeat}`.",
            "",
            "| what | figure | floor | ratio to floor | target |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    print(table)
    if args.write_docs:
        text = DOCS.read_text(encoding="utf-8")
        block = f"{BEGIN}\n{table}\n{END}"
        if BEGIN in text:
            text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
        else:
            text += f"\n## Metric search\n\n{block}\n"
        DOCS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
