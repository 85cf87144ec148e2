"""Benchmark: the views over many accounts on the first open after a sync, on a database you already have.

    .venv/bin/python bench/bench_views.py DATABASE_URL [--repeat N]

On a synced and scored database (`usagebot sync`, stored scores current): admin Home (every account), a
manager's team Home (about 6 % of the accounts, the biggest TAMs first) and alerts for the as-of month vs the
month before, each beside its floor, exactly as `bench/run.py` measures them (`bench_views` there), without
the sync and rescore that `bench/run.py --scores-only` runs first. Goal (issue #16): Home <= 1 s, alerts
<= 5 s at 20,000 accounts. Not a unit test: machines differ.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import bench_views

from db.session import session_scope
from workflows.scores import scores_current


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with session_scope(args.url) as s:
        if not scores_current(s):
            sys.exit("The stored scores are not current: run `usagebot rescore` on this database first.")
    print(json.dumps(bench_views(args.url, args.repeat), indent=2))


if __name__ == "__main__":
    main()
