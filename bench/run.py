"""usagebot benchmarks at real scale: one command, figures beside their floors, written to docs/benchmarks.md.

    .venv/bin/python bench/run.py            # 20,000 accounts x 24 months (about 1.5 M usage rows)
    .venv/bin/python bench/run.py --quick    # 1,000 accounts x 24 months, in a couple of minutes

Builds the dataset with the demo generator, loads it into PostgreSQL (a scratch database created on
the server at --pg, dropped at the end) and into SQLite, then measures:

- sync: rows/s and peak memory of `usagebot sync` (a subprocess), beside PostgreSQL's own COPY of
  the same usage CSV into a bare table (the floor);
- `/usage`: end to end, a signed HTTP request into `usagebot serve` (gunicorn, 2 workers) until the
  answer reaches a local fake Slack, for accounts of every size: p50/p95/p99 for one client, then
  requests/s under concurrent load with errors counted and the slowest acknowledgement; the floor
  is one indexed query that fetches the account's rows;
- `report`: building one account's report in-process (queries + scoring), largest accounts;
- digest: composing every TAM's digest; metric search p50/p95; Home tab p95 for the biggest portfolio;
- stored scores: the sync's scoring step for every account, admin Home (every account) and a manager's Home
  (about 6 % of the accounts) first opened after a sync, and alerts, each beside a SELECT of what it reads.

Results go to bench/out/results-<scale>.json, docs/benchmarks.md (the figures part is rewritten
between markers) and docs/benchmarks-usage-latency.png. Bounded: every loop stops by count and time,
and all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the fake Slack and request signing used by the tests

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from tree_memory import TreeMemory  # noqa: E402

from db.session import dispose_all, session_scope  # noqa: E402

OUT = ROOT / "bench" / "out"
DOCS = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "benchmarks-usage-latency.png"
# The `usagebot` installed beside the interpreter running this script (whatever its virtualenv).
USAGE_BIN = Path(sys.executable).parent / "usagebot"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", flush=True)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": pct(values, 50) * 1000,
        "p95": pct(values, 95) * 1000,
        "p99": pct(values, 99) * 1000,
        "max": max(values) * 1000 if values else float("nan"),
    }


# ------------------------------------------------------------------------------------------ databases
def create_pg_database(base: str, name: str) -> str:
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(base: str, name: str) -> None:
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def pg_version(url: str) -> str:
    eng = create_engine(url)
    with eng.connect() as conn:
        v = conn.execute(text("SHOW server_version")).scalar()
    eng.dispose()
    return str(v)


class CliRun(NamedTuple):
    seconds: float
    # Every process of the run together (summed PSS, see tree_memory.py); the largest single one where
    # that cannot be read.
    peak_mib: int
    largest_process_mib: int  # the largest single process (wait4's peak RSS)
    output: str  # the tail


def run_cli(args: list[str], env: dict[str, str]) -> CliRun:
    """Run `usagebot ARGS`: its time, memory and the tail of its output."""
    start = time.perf_counter()
    with subprocess.Popen(
        [str(USAGE_BIN), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        memory = TreeMemory(proc.pid)
        memory.start()
        assert proc.stdout is not None
        output = proc.stdout.read()
        tree_peak = memory.stop()
        # wait4 gives the largest of this child and the children it waited for (its forked workers).
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"usagebot {' '.join(args)} failed:\n{output[-4000:]}")
    largest = usage.ru_maxrss // 1024
    return CliRun(elapsed, tree_peak or largest, largest, output[-800:])


# ------------------------------------------------------------------------------------------ dataset
def build_dataset(folder: Path, accounts: int, months: int) -> dict[str, Any]:
    from workflows.demo import generate_export

    marker = folder / ".complete"
    if marker.exists():
        log(f"dataset: reusing {folder}")
        return json.loads(marker.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    log(f"dataset: generating {accounts:,} accounts x {months} months into {folder}")
    t = time.perf_counter()
    summary = generate_export(folder, accounts=accounts, months=months, seed=7, today=date(2026, 11, 15))
    with open(folder / "usage_monthly.csv", encoding="utf-8") as f:
        rows = sum(1 for _ in f) - 1
    info = {
        "accounts": accounts,
        "months": months,
        "usage_rows": rows,
        "seconds": time.perf_counter() - t,
        "csv_mb": sum(p.stat().st_size for p in folder.glob("*.csv")) / 2**20,
        "summary": str(summary),
    }
    marker.write_text(json.dumps(info))
    log(f"dataset: {rows:,} usage rows, {info['csv_mb']:.0f} MiB of CSV in {info['seconds']:.0f} s")
    return info


# ------------------------------------------------------------------------------------------ sync
def bench_sync(folder: Path, url: str, label: str, rows: int) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": url}
    run_cli(["db", "upgrade"], env)
    log(f"sync [{label}]: first load")
    secs, peak, largest, out = run_cli(["sync", str(folder)], env)
    load, scoring = _phases(out)
    log(f"sync [{label}]: {secs:.1f} s (load {load} s, scoring {scoring} s), {rows / secs:,.0f} rows/s")
    log(f"sync [{label}]: peak {peak} MiB, all processes together (largest single process {largest} MiB)")
    log(f"sync [{label}]: re-load of the same export (must change nothing)")
    secs2, _peak2, _largest2, tail = run_cli(["sync", str(folder)], env)
    return {
        "seconds": secs,
        "rows_per_s": rows / secs,
        "peak_mib": peak,
        "largest_process_mib": largest,
        "load_seconds": load,
        "scoring_seconds": scoring,
        "reload_seconds": secs2,
        "reload_rows_per_s": rows / secs2,
        "reload_tail": tail.strip().splitlines()[-4:],
    }


def bench_correction(folder: Path, url: str) -> dict[str, Any]:
    """The same export again with one value of one usage row corrected: what a sync that changes little costs.

    Only the account-months whose inputs changed are scored again (the row's account, from its month on).
    """
    fixed = OUT / "export-correction"
    shutil.rmtree(fixed, ignore_errors=True)
    fixed.mkdir()
    for f in folder.iterdir():
        if f.name != "usage_monthly.csv":
            (fixed / f.name).symlink_to(f.resolve())
    column = "ci_pipelines_28_days_user"
    # A row of the newest month, so that the correction reaches stored months (older ones are not stored).
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        newest = conn.execute("SELECT max(snapshot_month) FROM usage_monthly").fetchone()[0]  # type: ignore[index]
    src_path, dst_path = folder / "usage_monthly.csv", fixed / "usage_monthly.csv"
    with src_path.open(newline="") as src, dst_path.open("w", newline="") as dst:
        header = src.readline()
        dst.write(header)
        names = next(csv.reader([header]))
        at, month_at = names.index(column), names.index("snapshot_month")
        for line in src:
            values = next(csv.reader([line]))
            if values[at] and values[month_at] == f"{newest:%Y-%m-%d}":
                values[at] = str(float(values[at]) + 1)
                # The file's own line ending: a mixed one makes PostgreSQL's COPY refuse the file (the sync then
                # loads it row by row, which is correct but not what this row measures).
                csv.writer(dst, lineterminator=line[len(line.rstrip("\r\n")) :]).writerow(values)
                break
            dst.write(line)
        shutil.copyfileobj(src, dst)
    env = {**os.environ, "DATABASE_URL": url}
    log("sync [PostgreSQL]: the same export with one value corrected")
    secs, _peak, _largest, out = run_cli(["sync", str(fixed)], env)
    load, scoring = _phases(out)
    took = r"scoring ([\d,]+) accounts? × \d+ months \(([\d,]+) account-months scored, ([\d,]+) unchanged\)"
    counts = re.search(took, out)
    accounts, scored, unchanged = (int(g.replace(",", "")) for g in counts.groups()) if counts else (None, None, None)
    log(f"sync [PostgreSQL]: correction {secs:.1f} s (load {load} s, scoring {scoring} s; {scored} scored)")
    return {
        "seconds": secs,
        "load_seconds": load,
        "scoring_seconds": scoring,
        "accounts": accounts,  # accounts the scoring step read (those the load wrote, unless a shared input moved)
        "scored": scored,
        "unchanged": unchanged,
    }


def _phases(output: str) -> tuple[float | None, float | None]:
    """The sync's own split of its time, from its 'Took: load X s, scoring … Y s.' line (the scoring step
    runs inside the sync's transaction; the load is what the COPY floor compares with)."""
    match = re.search(r"Took: load ([\d.]+) s, (?:scoring .* ([\d.]+) s|scores unchanged)", output)
    if match is None:
        return None, None
    return float(match.group(1)), float(match.group(2)) if match.group(2) else 0.0


def bench_copy_floor(folder: Path, url: str) -> dict[str, Any]:
    """PostgreSQL's own COPY of the same usage CSV into a bare table of text columns: the floor."""
    import psycopg

    path = folder / "usage_monthly.csv"
    with open(path, encoding="utf-8") as f:
        header = f.readline().strip().split(",")
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy_floor")
        cols = ", ".join(f'"{c}" text' for c in header)
        conn.execute(f"CREATE TABLE bench_copy_floor ({cols})")
        t = time.perf_counter()
        copy_sql = "COPY bench_copy_floor FROM STDIN (FORMAT csv, HEADER true)"
        with conn.cursor() as cur, cur.copy(copy_sql) as cp, open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                cp.write(chunk)
        secs = time.perf_counter() - t
        n = conn.execute("SELECT count(*) FROM bench_copy_floor").fetchone()[0]  # type: ignore[index]
        conn.execute("DROP TABLE bench_copy_floor")
    log(f"COPY floor: {n:,} rows in {secs:.1f} s ({n / secs:,.0f} rows/s)")
    return {"seconds": secs, "rows": n, "rows_per_s": n / secs, "write": bench_write_floor(dsn)}


def bench_write_floor(dsn: str) -> dict[str, Any]:
    """The cheapest way PostgreSQL has to write the loaded rows into usage_monthly's shape: a binary COPY of the
    typed rows (read back from the table) into an empty table with the same columns and indexes. What any
    load into this table costs at least, before reading, checking or typing anything."""
    import psycopg

    OUT.mkdir(parents=True, exist_ok=True)
    dump = OUT / "write-floor.bin"
    with psycopg.connect(dsn, autocommit=True) as conn:
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'usage_monthly'"
                " AND column_name <> 'id' ORDER BY ordinal_position"
            )
        ]
        names = ", ".join(columns)
        out_sql = f"COPY (SELECT {names} FROM usage_monthly) TO STDOUT (FORMAT binary)"
        with conn.cursor() as cur, cur.copy(out_sql) as cp, dump.open("wb") as f:
            for data in cp:
                f.write(data)
        conn.execute("DROP TABLE IF EXISTS bench_write_floor")
        conn.execute("DROP SEQUENCE IF EXISTS bench_write_floor_id")
        conn.execute("CREATE TABLE bench_write_floor (LIKE usage_monthly INCLUDING INDEXES INCLUDING CONSTRAINTS)")
        # Its own sequence: the real table's must not move.
        conn.execute("CREATE SEQUENCE bench_write_floor_id OWNED BY bench_write_floor.id")
        conn.execute("ALTER TABLE bench_write_floor ALTER COLUMN id SET DEFAULT nextval('bench_write_floor_id')")
        indexes = conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'bench_write_floor'").fetchone()
        conn.execute("CHECKPOINT")  # the dump's own writes are not this figure's
        t = time.perf_counter()
        in_sql = f"COPY bench_write_floor ({names}) FROM STDIN (FORMAT binary)"
        with conn.cursor() as cur, cur.copy(in_sql) as cp, dump.open("rb") as f:
            while chunk := f.read(1 << 20):
                cp.write(chunk)
        secs = time.perf_counter() - t
        conn.execute("DROP TABLE bench_write_floor")
    dump.unlink()
    n_indexes = int(indexes[0]) if indexes else 0
    log(f"write floor: binary COPY into usage_monthly's shape ({n_indexes} indexes) in {secs:.1f} s")
    return {"seconds": secs, "indexes": n_indexes}


# ------------------------------------------------------------------------------------------ accounts
def sample_accounts(url: str, n: int) -> list[tuple[str, str, int]]:
    """(id, name, usage rows) for n accounts spread over every size, largest included."""
    from db.models import Account, UsageMonthly

    with session_scope(url) as s:
        sizes = s.execute(
            select(Account.id, Account.name, func.count(UsageMonthly.id))
            .join(UsageMonthly, UsageMonthly.account_id == Account.id, isouter=True)
            .group_by(Account.id, Account.name)
            .order_by(func.count(UsageMonthly.id))
        ).all()
    if not sizes:
        return []
    step = max(1, len(sizes) // n)
    picked = [tuple(r) for r in sizes[::step]][: n - 3] + [tuple(r) for r in sizes[-3:]]
    return picked  # type: ignore[return-value]


def bench_floor_query(url: str, accounts: list[tuple[str, str, int]], repeat: int = 3) -> dict[str, Any]:
    """One indexed query fetching the account's usage rows of the last 12 months: the floor of `/usage`."""
    eng = create_engine(url)
    q = text("SELECT * FROM usage_monthly WHERE account_id = :a AND snapshot_month >= :m ORDER BY snapshot_month")
    times = []
    with eng.connect() as conn:
        latest = conn.execute(text("SELECT max(snapshot_month) FROM usage_monthly")).scalar()
        since = latest.replace(year=latest.year - 1) if latest else date(2000, 1, 1)
        for _ in range(repeat):
            for acc, _name, _rows in accounts:
                t = time.perf_counter()
                conn.execute(q, {"a": acc, "m": since}).all()
                times.append(time.perf_counter() - t)
    eng.dispose()
    return summary_ms(times)


def bench_report(url: str, accounts: list[tuple[str, str, int]], repeat: int = 3) -> dict[str, Any]:
    from workflows.report import build_account_report, report_to_json

    times: list[float] = []
    big: list[float] = []
    biggest = {a for a, _n, _r in accounts[-3:]}
    with session_scope(url) as s:
        build_account_report(s, accounts[0][0])  # warm: rules, caches
        for _ in range(repeat):
            for acc, _name, _rows in accounts:
                t = time.perf_counter()
                report_to_json(build_account_report(s, acc))
                dt = time.perf_counter() - t
                times.append(dt)
                if acc in biggest:
                    big.append(dt)
    return {"all": summary_ms(times), "largest": summary_ms(big), "largest_rows": accounts[-1][2]}


# ------------------------------------------------------------------------------------------ /usage
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`usagebot serve` as a subprocess against the benchmark database and a fake Slack."""

    def __init__(self, url: str, api_url: str, workers: int, threads: int) -> None:
        from fakes.signing import SIGNING_SECRET

        self.port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": api_url,
        }
        self.proc = subprocess.Popen(
            [str(USAGE_BIN), "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(workers), "--threads", str(threads)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit("usagebot serve did not come up")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


class WaitingFakeSlack:
    """A FakeSlack whose response-URL posts wake the client waiting for them (no polling under load)."""

    @staticmethod
    def make() -> Any:
        from fakes.slack import FakeSlack

        class _Fake(FakeSlack):
            def __init__(self) -> None:
                super().__init__()
                self.arrivals: dict[str, float] = {}
                self.events: dict[str, threading.Event] = {}

            def expect(self, key: str) -> threading.Event:
                with self._lock:
                    return self.events.setdefault(key, threading.Event())

            def _on_response_url(self, key: str, params: dict[str, Any]) -> None:
                with self._lock:
                    self.arrivals[key] = time.time()
                    self.events.setdefault(key, threading.Event()).set()
                    self.calls.clear()  # a long run must not keep every request in memory

        return _Fake()


def _one_usage(base: str, fake: Any, account: str) -> tuple[float, float, bool]:
    """(ack seconds, end-to-end seconds, ok) for one signed `/usage <account>`."""
    from fakes.signing import post, slash_body

    key = uuid.uuid4().hex
    arrived = fake.expect(key)
    body = slash_body(account, user_id="U0BENCH01", response_url=fake.response_url(key))
    t0 = time.time()
    reply = post(base + "/slack/events", body, timeout=30)
    ack = time.time() - t0
    if reply.status != 200 or not arrived.wait(30):
        return ack, float("nan"), False
    with fake._lock:
        fake.events.pop(key, None)
        return ack, fake.arrivals.pop(key) - t0, True


def bench_usage(url: str, accounts: list[tuple[str, str, int]], quick: bool) -> dict[str, Any]:
    fake = WaitingFakeSlack.make().start()
    fake.add_user("U0BENCH01", "bench.tam", "bench.tam@example.com")
    workers = int(os.environ.get("BENCH_WORKERS", "2"))
    server = Server(url, fake.api_url, workers=workers, threads=int(os.environ.get("BENCH_THREADS", "8")))
    out: dict[str, Any] = {}
    try:
        names = [a for a, _n, _r in accounts]  # account ids resolve on the fastest path, as buttons do
        for acc in names[:5]:  # warm both workers
            _one_usage(server.base, fake, acc)
        # Single client: every sampled account, several times.
        rounds = 2 if quick else 3
        acks, e2e, errors = [], [], 0
        for _ in range(rounds):
            for acc in names:
                a, e, ok = _one_usage(server.base, fake, acc)
                acks.append(a)
                if ok:
                    e2e.append(e)
                else:
                    errors += 1
        out["single"] = {**summary_ms(e2e), "ack": summary_ms(acks), "errors": errors}
        out["single_samples_ms"] = [x * 1000 for x in e2e]
        log(f"/usage single client: p50 {out['single']['p50']:.1f} ms, p99 {out['single']['p99']:.1f} ms")

        # Concurrent load: C clients for a bounded time and count.
        conc = 8
        duration = 15.0 if quick else 30.0
        stop_at = time.time() + duration
        lock = threading.Lock()
        c_e2e: list[float] = []
        c_acks: list[float] = []
        c_err = [0]
        count = [0]

        def client(i: int) -> None:
            rng = random.Random(i)
            while time.time() < stop_at and count[0] < 20_000:
                a, e, ok = _one_usage(server.base, fake, rng.choice(names))
                with lock:
                    count[0] += 1
                    c_acks.append(a)
                    if ok:
                        c_e2e.append(e)
                    else:
                        c_err[0] += 1

        t0 = time.time()
        with ThreadPoolExecutor(conc) as pool:
            list(pool.map(client, range(conc)))
        elapsed = time.time() - t0
        out["load"] = {
            "clients": conc,
            "seconds": elapsed,
            "requests": count[0],
            "rps": count[0] / elapsed,
            "errors": c_err[0],
            "e2e": summary_ms(c_e2e),
            "ack": summary_ms(c_acks),
        }
        log(
            f"/usage load: {out['load']['rps']:.0f} req/s, errors {c_err[0]}, "
            f"max ack {out['load']['ack']['max']:.0f} ms"
        )
    finally:
        server.stop()
        fake.stop()
    return out


# ------------------------------------------------------------------------------------------ others
def bench_digest(url: str) -> dict[str, Any]:
    from bot.features.digest.blocks import render_digest
    from workflows.digest.compose import compose

    times = []
    for _ in range(3):
        t = time.perf_counter()
        with session_scope(url) as s:
            comp = compose(s, "2026-11")
        parts = [render_digest(d) for d in comp.digests]
        times.append(time.perf_counter() - t)
    return {
        "seconds_best": min(times),
        "seconds_median": statistics.median(times),
        "tams": len(comp.digests),
        "instances": sum(d.instance_count for d in comp.digests),
        "messages": sum(len(p) for p in parts),
    }


def bench_search(url: str, dictionary: Path) -> dict[str, Any]:
    import yaml

    from workflows.metric_search import search
    from workflows.metrics_import import SAMPLE_PATH, import_definitions

    source = dictionary if dictionary.is_dir() else SAMPLE_PATH
    t = time.perf_counter()
    with session_scope(url) as s:
        result = import_definitions(s, source)
    with session_scope(url) as s:
        search(s, "warm up the index")  # builds the index: part of the import's cost
    import_s = time.perf_counter() - t
    questions = []
    for name in ("metric_search_eval.yaml", "metrics_questions.yaml"):
        fixture = yaml.safe_load((ROOT / "tests/fixtures" / name).read_text())
        questions += [q["q"] for q in fixture["questions"]]
    times = []
    with session_scope(url) as s:
        for _ in range(3):
            for q in questions:
                t = time.perf_counter()
                search(s, q, limit=5)
                times.append(time.perf_counter() - t)
    return {"source": str(source), "definitions": result.definitions, "import_seconds": import_s, **summary_ms(times)}


def bench_home(url: str) -> dict[str, Any]:
    from bot.features.home.events import build_home_view
    from db.models import Account
    from workflows.portfolio import Viewer

    with session_scope(url) as s:
        email, n = s.execute(
            select(Account.tam_email, func.count())
            .where(Account.tam_email.is_not(None))
            .group_by(Account.tam_email)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
    viewer = Viewer(user_id="U0BENCHHOME", email=email)
    cold, warm = [], []
    for i in range(12):
        if i % 2 == 0:
            from workflows import portfolio

            portfolio._cache.clear()  # a cold build each other time: what a first open after a sync costs
        with session_scope(url) as s:
            t = time.perf_counter()
            build_home_view(s, viewer, None, 1)
            (cold if i % 2 == 0 else warm).append(time.perf_counter() - t)
    return {"tam_email": email, "accounts": n, "cold": summary_ms(cold), "cached": summary_ms(warm)}


# ------------------------------------------------------------------------------------------ stored scores
def _timed(fn: Any, repeat: int) -> tuple[list[float], Any]:
    out, last = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        last = fn()
        out.append(time.perf_counter() - t)
    return out, last


def bench_scores(url: str, quick: bool) -> dict[str, Any]:
    """Stored scores: the sync's scoring step for every account, then the views that read them (`bench_views`).

    The rescore beside a floor read in the same run: the raw rows it scores."""
    from db.models import UsageMonthly
    from scoring.trends import add_months
    from workflows.report import rules_for
    from workflows.scores import rescore, stored_window

    out: dict[str, Any] = {}
    with session_scope(url) as s:
        months = stored_window(s, rules_for(None))
        first = add_months(months[0], -(rules_for(None).trend_months - 1))

    def rescore_all() -> Any:
        with session_scope(url) as s:
            return rescore(s)

    def raw_rows() -> int:
        with session_scope(url) as s:
            t = UsageMonthly.__table__
            return len(s.execute(select(t).where(t.c.snapshot_month >= first)).all())

    times, res = _timed(rescore_all, 1 if not quick else 2)
    floor, n_rows = _timed(raw_rows, 3)
    out["rescore"] = {
        "accounts": res.accounts,
        "months": len(res.months),
        "rows": res.rows,
        "seconds": min(times),
        "floor_seconds": min(floor),
        "floor_rows": n_rows,
    }
    log(f"rescore: {res.rows:,} account-months in {min(times):.1f} s (floor {min(floor):.1f} s)")
    out.update(bench_views(url))
    return out


def bench_views(url: str, repeat: int = 5) -> dict[str, Any]:
    """Admin Home, a manager's Home, an admin's `/usage team` and alerts on the first open after a sync (stored
    scores current), each beside a floor read in the same run: a plain SELECT of the narrow stored columns the
    view reads."""
    from bot.features.home.events import build_home_view
    from bot.features.portfolio.command import portfolio_answer
    from db.models import Account, AccountScore
    from workflows import portfolio
    from workflows.alerts import compute_alerts
    from workflows.portfolio import Viewer, parse_managers
    from workflows.report import rules_for
    from workflows.scores import current_fingerprint, stored_window
    from workflows.settings import Settings

    out: dict[str, Any] = {}
    with session_scope(url) as s:
        months = stored_window(s, rules_for(None))
        n_accounts = s.scalar(select(func.count()).select_from(Account)) or 0
        # A manager whose team holds about 6 % of the book (1,200 of 20,000 accounts): the biggest TAMs first.
        by_tam = s.execute(
            select(Account.tam_email, func.count())
            .where(Account.tam_email.is_not(None))
            .group_by(Account.tam_email)
            .order_by(func.count().desc(), Account.tam_email)
        ).all()
    team, team_accounts = [], 0
    for email, n in by_tam:
        if team_accounts >= n_accounts * 0.06:
            break
        team.append(email)
        team_accounts += n
    managers = parse_managers("bench.manager@example.com:" + ",".join(team))
    fp = current_fingerprint()
    as_of, previous = months[-1], months[-2]

    def stored_select(emails: list[str] | None, months_read: tuple[Any, ...]) -> int:
        with session_scope(url) as s:
            # The least any such view reads: each account's colour, score and utilization, no JSON.
            cols = [AccountScore.account_id, AccountScore.health_color, AccountScore.health_score]
            cols.append(AccountScore.utilization)
            stmt = select(*cols).where(AccountScore.month.in_(months_read), AccountScore.fingerprint == fp)
            if emails is not None:
                ids = select(Account.id).where(func.lower(Account.tam_email).in_(emails))
                stmt = stmt.where(AccountScore.account_id.in_(ids))
            return len(s.execute(stmt).all())

    def home(viewer: Viewer, scope: str) -> Any:
        portfolio.clear_portfolio_cache()  # the first open after a sync: nothing remembered
        with session_scope(url) as s:
            return build_home_view(s, viewer, scope, 1)

    admin = Viewer(user_id="U0BENCHADM", email="bench.admin@example.com", is_admin=True)
    manager = Viewer(
        user_id="U0BENCHMGR", email="bench.manager@example.com", team=managers["bench.manager@example.com"]
    )
    for key, viewer, scope, emails in (
        ("home_admin", admin, "all", None),
        ("home_manager", manager, "team", [e.lower() for e in team]),
    ):
        times, view = _timed(lambda v=viewer, sc=scope: home(v, sc), repeat)
        floor, n = _timed(lambda e=emails: stored_select(e, (as_of,)), repeat)
        out[key] = {"accounts": view[3], "ms": summary_ms(times), "floor_ms": summary_ms(floor), "floor_rows": n}
        log(f"{key}: p50 {out[key]['ms']['p50']:.0f} ms for {view[3]:,} accounts")

    # `/usage team` for an admin: every account, worst first, its first page (the answer Slack gets, blocks built).
    settings = Settings(database_url=url)
    for key, words in (
        ("team_admin", []),
        ("team_admin_filtered", ["red", "ci:red"]),
        ("team_admin_tier", ["tier:ultimate", "flag:purchase_intent"]),
    ):

        def team_page(w: list[str] = words) -> int:
            portfolio.clear_portfolio_cache()  # the first ask after a sync: nothing remembered
            with session_scope(url) as s:
                answer = portfolio_answer(s, settings, admin, "team", w)
            return len(answer.blocks)

        times, _blocks = _timed(team_page, repeat)
        floor, n = _timed(lambda: stored_select(None, (as_of,)), repeat)
        out[key] = {"filter": " ".join(words), "ms": summary_ms(times), "floor_ms": summary_ms(floor), "floor_rows": n}
        log(f"{key}: p50 {out[key]['ms']['p50']:.0f} ms")

    def alerts() -> int:
        with session_scope(url) as s:
            return len(compute_alerts(s, as_of, previous))

    times, n_alerts = _timed(alerts, max(1, repeat // 2))
    floor, n = _timed(lambda: stored_select(None, (previous, as_of)), max(1, repeat // 2))
    out["alerts"] = {"alerts": n_alerts, "ms": summary_ms(times), "floor_ms": summary_ms(floor), "floor_rows": n}
    log(f"alerts: p50 {out['alerts']['ms']['p50']:.0f} ms, {n_alerts:,} alerts")
    return out


# ------------------------------------------------------------------------------------------ report
def machine() -> dict[str, Any]:
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def plot(samples_ms: list[float], load_ms: list[float] | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    hi = pct(samples_ms, 99.5) if samples_ms else 100
    bins = [i * hi / 60 for i in range(61)]
    ax.hist([min(x, hi) for x in samples_ms], bins=bins, alpha=0.75, label="one client")
    if load_ms:
        ax.hist([min(x, hi) for x in load_ms], bins=bins, alpha=0.5, label="8 concurrent clients")
    for p, style in ((50, "--"), (99, ":")):
        if samples_ms:
            ax.axvline(pct(samples_ms, p), color="black", linestyle=style, linewidth=1, label=f"p{p} one client")
    ax.set_xlabel("/usage end to end, ms (signed request in → answer at the fake Slack)")
    ax.set_ylabel("requests")
    ax.set_title("usagebot /usage latency")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1,000 accounts instead of 20,000")
    ap.add_argument("--accounts", type=int, help="override the number of accounts")
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument(
        "--pg", default=os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    )
    ap.add_argument("--skip-sqlite", action="store_true", help="only PostgreSQL")
    ap.add_argument("--dictionary", type=Path, default=ROOT.parent / "shared/data/metrics_dictionary")
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    ap.add_argument(
        "--sync-only", action="store_true", help="only the sync rows and their COPY floor (their own section)"
    )
    ap.add_argument(
        "--scores-only",
        action="store_true",
        help="only the PostgreSQL sync and the stored-scores rows (rescore, admin and manager Home, alerts)",
    )
    args = ap.parse_args()
    accounts = args.accounts or (1_000 if args.quick else 20_000)
    scale = f"{accounts}x{args.months}"
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"scale": scale, "started": datetime.now(UTC).isoformat(), "machine": machine()}
    t_all = time.perf_counter()

    folder = OUT / f"export-{scale}"
    results["dataset"] = build_dataset(folder, accounts, args.months)
    rows = results["dataset"]["usage_rows"]

    # The process id in the name: two runs at once (two checkouts) must not drop each other's database.
    db_name = f"usagebot_bench_{accounts}_{os.getpid()}"
    pg_url = create_pg_database(args.pg, db_name)
    results["machine"]["postgresql"] = pg_version(pg_url)
    try:
        results["sync_pg"] = bench_sync(folder, pg_url, "PostgreSQL", rows)
        results["copy_floor"] = bench_copy_floor(folder, pg_url)
        results["sync_pg_correction"] = bench_correction(folder, pg_url)
        if args.scores_only:
            results["scores"] = bench_scores(pg_url, args.quick)
            return _finish(results, t_all, scale, args, section="bench-scores")
        if not args.skip_sqlite:
            sqlite_path = OUT / f"bench-{scale}.db"
            for p in OUT.glob(f"bench-{scale}.db*"):
                p.unlink()
            results["sync_sqlite"] = bench_sync(folder, f"sqlite:///{sqlite_path}", "SQLite", rows)
        if args.sync_only:
            return _finish(results, t_all, scale, args, section="bench-sync")
        sample = sample_accounts(pg_url, 30 if args.quick else 60)
        results["floor_query"] = bench_floor_query(pg_url, sample)
        results["report"] = bench_report(pg_url, sample)
        log(
            f"report: p50 {results['report']['all']['p50']:.1f} ms, "
            f"largest p50 {results['report']['largest']['p50']:.1f} ms"
        )
        results["usage"] = bench_usage(pg_url, sample, args.quick)
        results["digest"] = bench_digest(pg_url)
        log(f"digest compose: {results['digest']['seconds_best']:.2f} s for {results['digest']['tams']} TAMs")
        results["search_pg"] = bench_search(pg_url, args.dictionary)
        if not args.skip_sqlite:
            results["search_sqlite"] = bench_search(f"sqlite:///{OUT / f'bench-{scale}.db'}", args.dictionary)
        results["home"] = bench_home(pg_url)
        log(f"home: cold p95 {results['home']['cold']['p95']:.0f} ms for {results['home']['accounts']} accounts")
        results["scores"] = bench_scores(pg_url, args.quick)
    finally:
        dispose_all()
        drop_pg_database(args.pg, db_name)
    _finish(results, t_all, scale, args)


def _finish(
    results: dict[str, Any], t_all: float, scale: str, args: argparse.Namespace, section: str = "bench"
) -> None:
    results["total_seconds"] = time.perf_counter() - t_all
    name = f"results-{scale}{section.removeprefix('bench')}.json"
    (OUT / name).write_text(json.dumps(results, indent=2, default=str))
    log(f"results: {OUT / name} ({results['total_seconds']:.0f} s in all)")
    if not args.no_docs:
        from report_md import write_docs

        if not args.quick and "usage" in results:
            plot(results["usage"]["single_samples_ms"], None, PLOT)
        write_docs(results, DOCS, quick=args.quick and section == "bench", section=section)
        log(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
