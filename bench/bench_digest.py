"""Benchmark: composing (and rendering) every TAM's digest at 20,000 accounts / 200 TAMs / 30,000 Unknown instances.

    .venv/bin/python bench/bench_digest.py [DATABASE_URL] [--accounts N] [--tams T] [--unknown U] [--months M]

Seeds accounts, one subscription each, Unknown plus labelled instances, and M months of usage rows (so the
unmapped-license query has a realistic table to read), then times `compose` (two set-based queries) and
`render_digest` for every TAM. Goal (issue "Monthly Unknown-instance digest"): < 10 s. Not a unit test.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from bot.features.digest.blocks import render_digest
from db.migrate import upgrade
from db.models import Account, Instance, Subscription, UsageMonthly
from db.session import get_engine, session_scope
from workflows.digest.compose import compose


def _month(d: date, back: int) -> date:
    y, m = d.year, d.month - back
    while m <= 0:
        y, m = y - 1, m + 12
    return date(y, m, 1)


def seed(url: str, n_accounts: int, n_tams: int, n_unknown: int, months: int) -> None:
    rnd = random.Random(7)
    now = datetime.now(UTC)
    last = date(now.year, now.month, 1)
    engine = get_engine(url)
    accounts = [
        {
            "id": f"A{i:06d}",
            "name": f"Account {i}",
            "name_key": f"account {i}",
            "tam_email": None if i % 97 == 0 else f"tam{i % n_tams}@example.com",
            "tam_name": f"TAM {i % n_tams}",
        }
        for i in range(n_accounts)
    ]
    subs = [
        {
            "id": f"S{i:06d}",
            "name": f"A-S{i:06d}",
            "account_id": a["id"],
            "product_tier_name": "Self-Managed - Premium",
            "delivery_type": "Self-Managed",
            "start_date": date(2024, 1, 1),
            "licensed_seats": 100,
        }
        for i, a in enumerate(accounts)
    ]
    instances = []
    n_instances = n_unknown + n_accounts  # every account has one labelled instance, plus the Unknown ones
    for k in range(n_instances):
        acc = k % n_accounts
        unknown = k >= n_accounts
        instances.append(
            {
                "id": k + 1,
                "identity": f"sm:{k}|host{k}.example.com",
                "account_id": accounts[acc]["id"],
                "delivery_type": "Self-Managed",
                "deployment_type": "Self-Managed",
                "hostname": f"gitlab-{k}.customer{acc}.example.com",
                "export_label": "Unknown" if unknown else "Production",
                "label": "Unknown" if unknown else "Production",
                "label_source": "export",
                "label_version": 0,
                "first_seen_month": _month(last, rnd.randint(0, 24)),
                "last_seen_month": last,
                "last_ping_at": now - timedelta(days=rnd.randint(0, 200)),
                "last_version": f"17.{rnd.randint(0, 9)}.{rnd.randint(0, 5)}",
                "last_billable_users": rnd.randint(0, 3000),
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(Account), accounts)
        conn.execute(insert(Subscription), subs)
        for i in range(0, len(instances), 5000):
            conn.execute(insert(Instance), instances[i : i + 5000])
        rows = []
        for inst in instances:
            for back in range(months):
                rows.append(
                    {
                        "snapshot_month": _month(last, back),
                        "instance_id": inst["id"],
                        "account_id": inst["account_id"],
                        "subscription_id": "S" + inst["account_id"][1:],
                        "delivery_type": "Self-Managed",
                        "deployment_type": "Self-Managed",
                        "license_mapped": rnd.random() > 0.03,
                        "extra_metrics": [],
                    }
                )
            if len(rows) >= 20000:
                conn.execute(insert(UsageMonthly), rows)
                rows = []
        if rows:
            conn.execute(insert(UsageMonthly), rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url", nargs="?")
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--tams", type=int, default=200)
    parser.add_argument("--unknown", type=int, default=30_000)
    parser.add_argument("--months", type=int, default=3)
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/bench-digest.db"
    upgrade(url)
    t = time.perf_counter()
    seed(url, args.accounts, args.tams, args.unknown, args.months)
    print(f"seeded in {time.perf_counter() - t:.1f}s: {args.accounts:,} accounts, {args.unknown:,} Unknown instances")
    for run in range(3):
        t = time.perf_counter()
        with session_scope(url) as session:
            comp = compose(session, "2026-11")
        composed = time.perf_counter() - t
        parts = [render_digest(d) for d in comp.digests]
        total = time.perf_counter() - t
        print(
            f"run {run + 1}: compose {composed:.2f}s, compose+render {total:.2f}s: {len(comp.digests)} TAMs, "
            f"{sum(d.instance_count for d in comp.digests):,} instances, {sum(len(p) for p in parts):,} messages, "
            f"{len(comp.accounts_without_tam)} accounts without TAM"
        )


if __name__ == "__main__":
    main()
