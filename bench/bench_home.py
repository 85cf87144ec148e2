"""Benchmark: App Home for a TAM with 150 accounts in a database of 20,000 accounts.

    .venv/bin/python bench/bench_home.py [DATABASE_URL] [--accounts N] [--months M]

Seeds 20,000 accounts (199 TAMs with ~100 accounts each, plus one with 150), 2 subscriptions and 3 instances
per account, M months of usage (default 13), then times the server's part of publishing the Home tab:
database queries + scoring + Block Kit rendering (`build_home_view`), excluding Slack's network time.
Goal (issue "App Home"): <= 300 ms. Not a unit test: machines differ.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select

from bot.features.home.events import build_home_view
from db.migrate import upgrade
from db.models import SCORED_METRIC_COLUMNS, Account, Instance, Subscription, SyncRun, UsageMonthly
from db.names import name_key
from db.session import get_engine, session_scope
from scoring.trends import add_months
from workflows.portfolio import Viewer, build_portfolio

BIG_TAM = "big.tam@example.com"
LABELS = ("Production", "Production", "Non-Production", "Unknown")


def seed(url: str, n_accounts: int, months: int, last: date) -> None:
    rnd = random.Random(11)
    engine = get_engine(url)
    month_list = [add_months(last, -k) for k in range(months)][::-1]
    accounts, subs, insts = [], [], []
    for a in range(n_accounts):
        acc_id = f"0016B{a:07d}"
        tam = BIG_TAM if a < 150 else f"tam{a % 199:03d}@example.com"
        name = f"Customer {a:05d}"
        accounts.append(
            {
                "id": acc_id,
                "name": name,
                "name_key": name_key(name),
                "customer_since_date": date(2023, 1 + a % 12, 1),
                "tam_name": tam.split("@")[0],
                "tam_email": tam,
                "sales_segment": "Large",
            }
        )
        for k in range(2):
            subs.append(
                {
                    "id": f"S{a:07d}{k}",
                    "name": f"A-S{a:07d}{k}",
                    "account_id": acc_id,
                    "product_tier_name": "Self-Managed - Ultimate" if k else "Self-Managed - Premium",
                    "delivery_type": "Self-Managed",
                    "start_date": date(2023, 1 + a % 12, 1),
                    "end_date": None,
                    "licensed_seats": rnd.choice((50, 200, 500, 1000)),
                    "arr": rnd.choice((None, 12000.0, 48000.0)),
                }
            )
    with engine.begin() as conn:
        conn.execute(insert(Account), accounts)
        conn.execute(insert(Subscription), subs)
        for a in range(n_accounts):
            for i in range(3):
                insts.append(
                    {
                        "identity": f"sm:{a}-{i}",
                        "account_id": f"0016B{a:07d}",
                        "delivery_type": "Self-Managed",
                        "deployment_type": "Self-Managed",
                        "hostname": f"gl{i}.c{a}.example",
                        "export_label": LABELS[(a + i) % 4],
                        "label": LABELS[(a + i) % 4],
                        "label_source": "export",
                        "label_version": 0,
                        "first_seen_month": month_list[0],
                        "last_seen_month": last,
                        "last_ping_at": datetime(last.year, last.month, 20, tzinfo=UTC),
                        "last_version": f"17.{rnd.randint(0, 9)}.1",
                    }
                )
        conn.execute(insert(Instance), insts)
        ids = {
            r.identity: (r.id, r.account_id)
            for r in conn.execute(select(Instance.identity, Instance.id, Instance.account_id))
        }
        cols = list(SCORED_METRIC_COLUMNS)
        batch = []
        for identity, (inst_id, acc_id) in ids.items():
            a = int(acc_id[5:])
            i = int(identity.rsplit("-", 1)[1])
            for m in month_list:
                b = rnd.randint(10, 900)
                row = {
                    "snapshot_month": m,
                    "instance_id": inst_id,
                    "account_id": acc_id,
                    "subscription_id": f"S{a:07d}{i % 2}",
                    "delivery_type": "Self-Managed",
                    "deployment_type": "Self-Managed",
                    "ping_created_at": datetime(m.year, m.month, 20, tzinfo=UTC) if rnd.random() > 0.05 else None,
                    "cleaned_version": "17.5.1",
                    "license_mapped": rnd.random() > 0.02,
                    "included_in_health": None,
                    "license_user_count": 1000,
                    "billable_user_count": b,
                    "extra_metrics": [],
                }
                row.update({c: float(rnd.randint(0, 3 * b)) if rnd.random() > 0.1 else None for c in cols})
                batch.append(row)
                if len(batch) >= 20000:
                    conn.execute(insert(UsageMonthly), batch)
                    batch = []
        if batch:
            conn.execute(insert(UsageMonthly), batch)
        conn.execute(insert(SyncRun), [{"source": "bench", "status": "succeeded", "as_of_month": last}])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url", nargs="?")
    ap.add_argument("--accounts", type=int, default=20000)
    ap.add_argument("--months", type=int, default=13)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/bench-home.db"
    upgrade(url)
    last = date(2026, 10, 1)
    t0 = time.perf_counter()
    with session_scope(url) as s:
        empty = s.scalar(select(Account.id).limit(1)) is None
    if empty:
        seed(url, args.accounts, args.months, last)
        print(
            f"seeded {args.accounts} accounts x 3 instances x {args.months} months in {time.perf_counter() - t0:.0f} s"
        )
    viewer = Viewer(user_id="U0BENCH", email=BIG_TAM)
    times, scoring = [], []
    for _ in range(args.runs):
        with session_scope(url) as s:
            t1 = time.perf_counter()
            view, _scope, _page, count = build_home_view(s, viewer, None, 1)
            times.append((time.perf_counter() - t1) * 1000)
    with session_scope(url) as s:
        for _ in range(5):
            t1 = time.perf_counter()
            build_portfolio(s, "mine", [BIG_TAM])
            scoring.append((time.perf_counter() - t1) * 1000)
    print(
        f"Home tab of {count} accounts ({len(view['blocks'])} blocks, page 1) among {args.accounts} accounts "
        f"[{url.split(':')[0]}]: median {statistics.median(times):.0f} ms, best {min(times):.0f} ms, "
        f"worst {max(times):.0f} ms ({len(times)} runs); portfolio alone median {statistics.median(scoring):.0f} ms"
    )
    admin = Viewer(user_id="U0ADMIN", email=None, is_admin=True)
    with session_scope(url) as s:
        t1 = time.perf_counter()
        view, _scope, _page, count = build_home_view(s, admin, "all", 1)
        print(f"all-accounts view ({count} accounts, admin): {(time.perf_counter() - t1) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
