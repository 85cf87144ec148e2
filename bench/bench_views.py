"""Benchmark: the views over many accounts on the first open after a sync, each beside its floor.

    .venv/bin/python bench/bench_views.py DATABASE_URL [--repeat N]

On a synced and scored database (`usagebot sync`, stored scores current): admin Home (every account), a
manager's team Home (about 6 % of the accounts, the biggest TAMs first) and alerts for the as-of month vs the
month before, measured as `bench/run.py: bench_scores` measures them (portfolio cache cleared before each
Home). Floors, read in the same run: the SELECT of the stored rows' `summary` each view used to decode, and
the SELECT of the narrow columns it reads now. Goal (issue #16): Home <= 1 s, alerts <= 5 s at 20,000
accounts. Not a unit test: machines differ.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from bot.features.home.events import build_home_view
from db.models import Account, AccountScore
from db.session import session_scope
from workflows import portfolio
from workflows.alerts import compute_alerts
from workflows.portfolio import Viewer, parse_managers
from workflows.report import rules_for
from workflows.scores import current_fingerprint, scores_current, stored_window


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    out, last = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        last = fn()
        out.append(time.perf_counter() - t)
    return out, last


def ms(values: list[float]) -> str:
    return f"p50 {statistics.median(values) * 1000:7.0f} ms  min {min(values) * 1000:7.0f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    url, repeat = args.url, args.repeat
    with session_scope(url) as s:
        if not scores_current(s):
            sys.exit("The stored scores are not current: run `usagebot rescore` on this database first.")
        months = stored_window(s, rules_for(None))
        n_accounts = s.scalar(select(func.count()).select_from(Account)) or 0
        by_tam = s.execute(
            select(Account.tam_email, func.count())
            .where(Account.tam_email.is_not(None))
            .group_by(Account.tam_email)
            .order_by(func.count().desc(), Account.tam_email)
        ).all()
    team: list[str] = []
    team_accounts = 0
    for email, n in by_tam:
        if team_accounts >= n_accounts * 0.06:
            break
        team.append(email)
        team_accounts += n
    managers = parse_managers("bench.manager@example.com:" + ",".join(team))
    fp = current_fingerprint()
    as_of, previous = months[-1], months[-2]
    a = AccountScore.__table__.c
    narrow = (a.account_id, a.health_color, a.purchase_intent, a.utilization, a.unknown_instances)

    def stored_select(emails: list[str] | None, months_read: tuple[Any, ...], cols: tuple[Any, ...]) -> int:
        with session_scope(url) as s:
            stmt = select(*cols).where(a.month.in_(months_read), a.fingerprint == fp)
            if emails is not None:
                ids = select(Account.id).where(func.lower(Account.tam_email).in_(emails))
                stmt = stmt.where(a.account_id.in_(ids))
            return len(s.execute(stmt).all())

    def home(viewer: Viewer, scope: str) -> Any:
        portfolio.clear_portfolio_cache()  # the first open after a sync: nothing remembered
        with session_scope(url) as s:
            return build_home_view(s, viewer, scope, 1)

    admin = Viewer(user_id="U0BENCHADM", email="bench.admin@example.com", is_admin=True)
    manager = Viewer(
        user_id="U0BENCHMGR", email="bench.manager@example.com", team=managers["bench.manager@example.com"]
    )
    print(f"{n_accounts:,} accounts, as of {as_of:%Y-%m}, team of {len(team)} TAMs ({team_accounts:,} accounts)")
    for key, viewer, scope, emails in (
        ("home admin", admin, "all", None),
        ("home manager", manager, "team", [e.lower() for e in team]),
    ):
        times, view = timed(lambda v=viewer, sc=scope: home(v, sc), repeat)
        old_floor, n = timed(lambda e=emails: stored_select(e, (as_of,), (a.account_id, a.summary)), repeat)
        new_floor, _ = timed(lambda e=emails: stored_select(e, (as_of,), narrow), repeat)
        print(f"{key:13} {view[3]:6,} accounts  {ms(times)}")
        print(f"{'':13} floor: SELECT summary of {n:,} rows {ms(old_floor)};  SELECT narrow columns {ms(new_floor)}")

    def alerts() -> int:
        with session_scope(url) as s:
            return len(compute_alerts(s, as_of, previous))

    times, n_alerts = timed(alerts, max(1, repeat // 2))
    old_floor, n = timed(
        lambda: stored_select(None, (previous, as_of), (a.account_id, a.summary, a.detail)), max(1, repeat // 2)
    )
    print(f"{'alerts':13} {n_alerts:6,} alerts    {ms(times)}")
    print(f"{'':13} floor: SELECT summary+detail of {n:,} rows {ms(old_floor)}")


if __name__ == "__main__":
    main()
