"""Benchmark: one account with 10 subscriptions, 50 instances, 24 months; time to build its report.

    .venv/bin/python bench/bench_report.py [DATABASE_URL]

Goal (ISSUE Scoring): < 20 ms per report, excluding process start. Not a unit test: machines differ.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.migrate import upgrade
from db.models import SCORED_METRIC_COLUMNS, Account, Instance, Subscription, UsageMonthly
from db.names import name_key
from db.session import session_scope
from scoring.rules import load_rules
from workflows.report import build_account_report, report_to_json


def seed(url: str) -> str:
    rnd = random.Random(7)
    acc_id = "0016100001BENCH"
    with session_scope(url) as s:
        if s.get(Account, acc_id) is not None:
            return acc_id  # seeded by an earlier run
        s.add(
            Account(id=acc_id, name="Bench Corp", name_key=name_key("Bench Corp"), customer_since_date=date(2023, 1, 1))
        )
        for k in range(10):
            tier = "Self-Managed - Ultimate" if k % 2 else "Self-Managed - Premium"
            s.add(
                Subscription(
                    id=f"B{k}",
                    name=f"A-B{k}",
                    account_id=acc_id,
                    product_tier_name=tier,
                    delivery_type="Self-Managed",
                    start_date=date(2023, 1, 1),
                    licensed_seats=500,
                    arr=None if k == 3 else 10000.0 * (k + 1),
                )
            )
        s.flush()
        insts = []
        for i in range(50):
            inst = Instance(
                identity=f"sm:bench{i}",
                account_id=acc_id,
                delivery_type="Self-Managed",
                deployment_type="Self-Managed",
                hostname=f"gl{i}.bench.example",
                label="Production" if i % 5 else "Unknown",
                last_version=f"17.{i % 10}.0",
            )
            s.add(inst)
            insts.append(inst)
        s.flush()
        for m in range(24):
            month = date(2024 + (m + 10) // 12, (m + 10) % 12 + 1, 1)
            for i, inst in enumerate(insts):
                metrics = {c: float(rnd.randint(0, 500)) if rnd.random() > 0.1 else None for c in SCORED_METRIC_COLUMNS}
                s.add(
                    UsageMonthly(
                        snapshot_month=month,
                        instance_id=inst.id,
                        account_id=acc_id,
                        subscription_id=f"B{i % 10}",
                        delivery_type="Self-Managed",
                        deployment_type="Self-Managed",
                        ping_created_at=datetime(month.year, month.month, 15, tzinfo=UTC)
                        if rnd.random() > 0.1
                        else None,
                        cleaned_version=f"17.{i % 10}.0",
                        license_mapped=True,
                        license_user_count=500,
                        billable_user_count=rnd.randint(50, 480),
                        **metrics,
                    )
                )
    return acc_id


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    upgrade(url)
    acc = seed(url)
    rules = load_rules("gitlab-current")
    with session_scope(url) as s:
        for with_trends in (False, True):
            wall, cpu = [], []
            for _ in range(60):
                t0, c0 = time.perf_counter(), time.process_time()
                rep = build_account_report(s, acc, None, rules)
                report_to_json(rep)
                if with_trends:
                    _ = rep.trends  # built on first use: what the summary card and trend views pay
                wall.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
            # Median wall time, and CPU time (less disturbed by other processes on a shared machine).
            what = "report + JSON + 12-month trends" if with_trends else "report + JSON"
            print(
                f"{what} (10 subscriptions x 50 instances x 24 months): "
                f"wall median {statistics.median(wall):.1f} ms (best {min(wall):.1f}), "
                f"CPU median {statistics.median(cpu):.1f} ms (best {min(cpu):.1f}); "
                f"{len(wall)} runs, {url.split(':')[0]}"
            )


if __name__ == "__main__":
    main()
