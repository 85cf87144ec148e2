"""Benchmark: `/usage` over real HTTP against the demo data: ack time and time until the answer arrives.

    .venv/bin/python bench/bench_usage.py [--accounts 40] [--requests 60] [--concurrency 8]

Runs the same WSGI app `usagebot serve` runs (in-process, threaded) with the fake Slack from tests/fakes.
Goal: every ack well under Slack's 3 s; answers in well under a second. Not a unit test: machines differ.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fakes.signing import SIGNING_SECRET, post, slash_body  # noqa: E402
from fakes.slack import FakeSlack  # noqa: E402
from fakes.wsgi import serve  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=40)
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-usage-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    from workflows.demo import run_demo

    run_demo(url, tmp / "export", accounts=args.accounts)

    from bot.server import make_wsgi_app
    from db.models import Account
    from db.session import session_scope
    from workflows.settings import load_settings

    with session_scope(url) as s:
        names = [a.name for a in s.query(Account).order_by(Account.name)]
    views = ["", " health", " instances", " utilization", " versions"]
    texts = [names[i % len(names)] + views[i % len(views)] for i in range(args.requests)]

    with FakeSlack() as fake:
        fake.add_user("U0TAM0001", "avery", email="tam@example.com")
        settings = load_settings(
            _env_file=None,
            database_url=url,
            slack_bot_token="xoxb-bench",
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=fake.api_url,
        )
        with serve(make_wsgi_app(settings)) as base:
            acks: list[float] = []
            answers: list[float] = []
            lock = threading.Lock()

            def one(n: int) -> None:
                key = f"b{n}"
                start = time.monotonic()
                reply = post(base + "/slack/events", slash_body(texts[n], response_url=fake.response_url(key)))
                ack = time.monotonic() - start
                assert reply.status == 200
                while not any(c.path.endswith("/" + key) for c in fake.calls_to("response_url")):
                    time.sleep(0.002)
                with lock:
                    acks.append(ack)
                    answers.append(time.monotonic() - start)

            one(0)  # warm up: Bolt app, engine, name cache
            acks.clear()
            answers.clear()
            t0 = time.monotonic()
            with ThreadPoolExecutor(args.concurrency) as pool:
                list(pool.map(one, range(args.requests)))
            wall = time.monotonic() - t0

    def p(xs: list[float], q: float) -> float:
        return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))] * 1000

    print(f"{args.requests} /usage requests, {args.concurrency} at a time, {args.accounts} demo accounts")
    print(
        f"ack    median {statistics.median(acks) * 1000:.0f} ms, p95 {p(acks, 0.95):.0f} ms, "
        f"max {max(acks) * 1000:.0f} ms"
    )
    print(
        f"answer median {statistics.median(answers) * 1000:.0f} ms, p95 {p(answers, 0.95):.0f} ms, "
        f"max {max(answers) * 1000:.0f} ms; {args.requests / wall:.1f} answers/s"
    )


if __name__ == "__main__":
    main()
