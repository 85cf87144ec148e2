"""Benchmark: import of the whole Metrics Dictionary, and metric search latency on it.

    .venv/bin/python bench/bench_metrics.py [DATABASE_URL] [--dictionary PATH] [--repeat N]

DATABASE_URL must be a scratch database: the benchmark migrates it and writes the dictionary into it.

Times a first import and an unchanged re-import of the 3,681 definitions (goal < 10 s), the first search
of a process (builds the in-memory index), then every question of tests/fixtures/metrics_questions.yaml
plus odd and long inputs, N times each, and prints p50/p95/max (goal: p95 < 50 ms), measured end to end
through `search(session, …)` including the index-version query. Not a unit test: machines differ.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db.migrate import upgrade  # noqa: E402
from db.session import session_scope  # noqa: E402
from workflows import metric_search  # noqa: E402
from workflows.metrics_import import import_definitions  # noqa: E402

EXTRA_QUERIES = [
    "users",
    "count",
    "how many unique users created merge requests in projects with security policies last month",
    "pipelines " * 200,
    "🙂 emoji only 🚀",
    "x" * 10_000,
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url", nargs="?", help="database URL (default: a new SQLite file)")
    parser.add_argument("--dictionary", type=Path, default=ROOT.parent / "shared" / "data" / "metrics_dictionary")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/bench-metrics.db"
    upgrade(url)

    for label in ("first import", "re-import"):
        started = time.perf_counter()
        with session_scope(url) as session:
            result = import_definitions(session, args.dictionary)
        print(
            f"{label}: {result.definitions:,} definitions in {time.perf_counter() - started:.2f} s "
            f"({result.inserted} new, {result.updated} changed, {result.unchanged} unchanged)"
        )

    questions = [
        q["q"] for q in yaml.safe_load((ROOT / "tests/fixtures/metrics_questions.yaml").read_text())["questions"]
    ]
    queries = questions + EXTRA_QUERIES
    metric_search.invalidate()
    with session_scope(url) as session:
        started = time.perf_counter()
        metric_search.search(session, "merge requests")
        print(f"first search (builds the index): {(time.perf_counter() - started) * 1000:.0f} ms")
        timings: list[float] = []
        for _ in range(args.repeat):
            for text in queries:
                started = time.perf_counter()
                metric_search.search(session, text, limit=10)
                timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(
        f"search: {len(timings)} queries, p50 {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms, "
        f"max {timings[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
