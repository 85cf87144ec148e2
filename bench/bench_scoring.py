"""Benchmark: the pure scoring of the stored-score path, per account-month.

    .venv/bin/python bench/bench_scoring.py [--accounts N] [--repeat R] [--dump FILE] [--profile]

Writes a demo export of N accounts (default 300, seed 7, 24 months), syncs it into a temporary SQLite
database, loads every account's rows the way `workflows.scores.rescore` does, then times
`score_account_months` over every account x the 12 stored months (scoring only: no query, no write).
Floor, in the same run: one pass over the same rows per account-month window (the least any scoring must do).
`--dump FILE` writes every stored score as JSON (`to_json` + `detail_json`), to compare two versions of the
code exactly; `--profile` prints a cProfile of one scoring pass. Times are the process's CPU time (the machine
is shared: waiting for a core is not scoring), best of `--repeat`. Not a unit test: machines differ.
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.queries.account_data import load_accounts_data
from db.session import session_scope
from scoring.stored import detail_json, to_json
from scoring.trends import add_months
from workflows.demo import run_demo
from workflows.report import rules_for
from workflows.scores import ScoringContext, score_account_months, stored_window


def _floor(data: list, months: tuple, trend: int) -> int:
    """One pass over each account-month's window of rows, touching every row once."""
    n = 0
    for d in data:
        keys = [r.snapshot_month for r in d.rows]
        for m in months:
            lo = bisect.bisect_left(keys, add_months(m, -(trend - 1)))
            hi = bisect.bisect_right(keys, m)
            for r in d.rows[lo:hi]:
                n += r.instance_id
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=300)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dump", help="write every stored score as JSON to this file")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        run_demo(url, Path(tmp) / "export", accounts=args.accounts, months=args.months, seed=7)
        with session_scope(url) as session:
            rules = rules_for(None)
            months = stored_window(session, rules)
            ctx = ScoringContext.load(session, months, rules)
            first = add_months(months[0], -(rules.trend_months - 1))
            loaded = load_accounts_data(
                session,
                first,
                months[-1],
                metric_columns=rules.columns() | ctx.adoption.columns(),
                opt_out_value=rules.account.opt_out_value,
            )
        data = [loaded[k] for k in sorted(loaded)]

    n = len(data) * len(months)
    rows = sum(len(d.rows) for d in data)

    def score_all() -> list:
        return [s for d in data for s in score_account_months(d, months, ctx)]

    scored = score_all()  # warm-up, and the output of this version of the code
    if args.dump:
        out = {f"{s.account_id} {s.month}": [to_json(s), detail_json(s)] for s in scored}
        Path(args.dump).write_text(json.dumps(out, sort_keys=True, indent=0, default=str))
    if args.profile:
        prof = cProfile.Profile()
        prof.runcall(score_all)
        pstats.Stats(prof).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(45)

    times, floors = [], []
    for _ in range(args.repeat):
        t0 = time.process_time()
        _floor(data, months, rules.trend_months)
        floors.append(time.process_time() - t0)
        t0 = time.process_time()
        score_all()
        times.append(time.process_time() - t0)
    best, floor = min(times), min(floors)
    load = os.getloadavg()[0]
    print(f"{len(data)} accounts x {len(months)} months = {n} account-months, {rows} usage rows loaded")
    median = statistics.median(times) * 1000 / n
    print(f"scoring:  {best * 1000 / n:.3f} ms per account-month (best of {args.repeat}; median {median:.3f})")
    print(f"floor:    {floor * 1000 / n:.4f} ms per account-month (one pass over each window's rows)")
    print(f"ratio:    {best / floor:.0f}x floor; load average {load:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
