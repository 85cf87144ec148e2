"""The fast way to load a CSV file of usage rows into PostgreSQL: COPY it raw, check and convert in SQL.

This is how warehouses load: the file goes into a temporary table of text columns with PostgreSQL's
own `COPY` (no Python per value), then one set-based statement trims, checks and types every value
by the data contract's rules (the same `Col` list and converters the row-by-row path uses; see
`KINDS` in contract.py), and the usual merge statements upsert from there.

It is a fast path, not a second rule book. It accepts a strict, common subset of what the contract
allows (plain ISO dates and timestamps, plain decimal numbers, well-formed RFC 4180 quoting, one
header row without repeats), and any row outside that subset, or any problem at all, makes it step
aside: the caller rolls back to a savepoint and runs the row-by-row path, which reads the file again
and either loads it (it was valid, just unusual) or reports every problem as `file:line: column:
what`. So a valid export loads to exactly the same rows either way, and a rejected one is reported
by one piece of code.
"""

from __future__ import annotations

import csv
import io
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Connection

from workflows.sync.contract import KINDS, METRIC_NAME, SCORED_COLS, USAGE_COLS, Col, extra_metric_columns
from workflows.sync.validate import INSTANCE_STAGE, USAGE_STAGE

log = logging.getLogger(__name__)

# Scratch tables are UNLOGGED, not TEMPORARY: PostgreSQL never scans a temporary table in parallel,
# and typing every value is the load's biggest cost. They are created inside the sync's transaction
# (its savepoint), so a failure or a crash leaves nothing behind, and dropped before it commits; the
# name carries a per-sync tag (see `Scratch`).
RAW_TABLE = "sync_raw_usage"
# Every valid date of 1900-2199 by its usual spelling: joining on it is several times cheaper than
# checking and parsing each value. Other spellings are checked and parsed.
CALENDAR = "sync_calendar"
LOOKUP_SQL = (
    "CREATE UNLOGGED TABLE {calendar} AS"
    " SELECT to_char(d, 'YYYY-MM-DD') AS txt, d::date AS d"
    " FROM generate_series(date '1900-01-01', date '2199-12-31', interval '1 day') d;"
    " ANALYZE {calendar}"
)
TYPED_TABLE = "sync_typed_usage"
# The typing statement runs in parallel workers when PostgreSQL is allowed some
# (max_parallel_workers_per_gather): these make the planner use them for any table size.
PARALLEL = {"parallel_setup_cost": "0", "parallel_tuple_cost": "0", "min_parallel_table_scan_size": "0"}
CHUNK = 8 << 20
WORK_MEM = "256MB"
# Held (pg_advisory_xact_lock) until the sync's transaction ends: two syncs taking this path never
# insert the same new usage row at once (the merge inserts without ON CONFLICT). See `hold_sync_lock`.
SYNC_LOCK = 0x75736167
# PostgreSQL allows 1,600 columns a table and 100 arguments a function call.
MAX_COLUMNS = 1_000
_ARGS = 90

# What Python's str.strip() removes (every character with str.isspace(); none above U+3000), so
# SQL trims exactly as the row-by-row converters do.
_WS = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace())
# Patterns without counted repetitions ({1,6}): PostgreSQL's regex engine runs those several times slower.
_D = "[0-9]"
_DAY = rf"[1-9]{_D}{_D}{_D}-(0[1-9]|1[0-2])-(0[1-9]|[12]{_D}|3[01])"
_FRACTION = rf"([.]{_D}({_D}({_D}({_D}({_D}{_D}?)?)?)?)?)?"  # 1 to 6 digits, as both sides read them alike
_DATE_RE = rf"^{_DAY}([ T]00:00(:00([.]0+)?)?)?$"
_TIME = rf"([01]{_D}|2[0-3]):[0-5]{_D}(:[0-5]{_D}{_FRACTION})?"
_TS_RE = rf"^{_DAY}([ T]{_TIME}(Z|[+-]([01]{_D}|2[0-3]):[0-5]{_D})?)?$"
_TS_PLAIN_RE = rf"^{_DAY} ([01]{_D}|2[0-3]):[0-5]{_D}:[0-5]{_D}$"
_CLOCK_RE = rf"^ ([01]{_D}|2[0-3]):[0-5]{_D}:[0-5]{_D}$"
_ZONE_RE = r"(Z|[+-][0-9][0-9]:[0-9][0-9])$"
_DIGITS_RE = r"^[0-9]+$"
_WHOLE_RE = r"^[0-9]+[.]0*$"
_NUM_RE = r"^[0-9]+([.][0-9]+)?$"
_INT_RE = r"^(0|[1-9][0-9]*)$"
_PLAIN_ROW_RE = r"^((0|[1-9][0-9]*)(,(0|[1-9][0-9]*))*)?$"
# A value holding a character no float() spelling has (digits, sign, point, underscore, exponent,
# inf/infinity/nan) is surely not a number: an extra column that is not a metric may hold it.
_NOT_A_NUMBER_RE = r"[^0-9eE+._iInNfFtTyYaA-]"

_QUOTE, _COMMA, _LF, _CR = 34, 44, 10, 13
_BOUNDARY = np.array([_COMMA, _LF, _CR, _QUOTE], dtype=np.uint8)


class StepAside(Exception):
    """The fast path does not take this file; the row-by-row path will."""


@dataclass(frozen=True)
class Scratch:
    """This sync's scratch table names: unique, so two syncs never touch each other's."""

    tag: str = field(default_factory=lambda: secrets.token_hex(4))

    @property
    def raw(self) -> str:
        return f"{RAW_TABLE}_{self.tag}"

    @property
    def calendar(self) -> str:
        return f"{CALENDAR}_{self.tag}"

    @property
    def typed(self) -> str:
        return f"{TYPED_TABLE}_{self.tag}"

    @property
    def instances(self) -> str:
        return f"sync_instances_{self.tag}"

    def drop(self, conn: Connection) -> None:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {self.raw}, {self.calendar}, {self.typed}, {self.instances}")


@dataclass
class BulkResult:
    usage_rows: int
    as_of_month: date | None
    instances: int
    metric_columns: list[str] = field(default_factory=list)  # as Tally.metric_columns
    extra_columns: list[str] = field(default_factory=list)  # the file's metric layout (`extra_metric_columns`)
    scratch: Scratch = field(default_factory=Scratch)  # `typed` holds the staged rows until `drop`


def hold_sync_lock(conn: Connection) -> None:
    """From here until the transaction ends, this sync alone writes usage rows and metric layouts
    (PostgreSQL; SQLite has one writer anyway). Both load paths take it before their first such write, so a
    sync waiting for it holds nothing the other needs."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SYNC_LOCK})")


def lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


_WS_LIT = lit(_WS)


# ------------------------------------------------------------------------------------ the file
def read_header(path: Path) -> tuple[list[str], int]:
    """Lower-cased column names and the byte offset after a byte-order mark, or StepAside."""
    with path.open("rb") as f:
        first = f.readline(1 << 20)
    start = 3 if first.startswith(b"\xef\xbb\xbf") else 0
    if b'"' in first or not first.endswith(b"\n"):
        raise StepAside("header quoted or not a line")
    try:
        text = first[start:].decode("utf-8")
    except UnicodeDecodeError:
        raise StepAside("header not UTF-8") from None
    columns = [c.strip().lower() for c in next(csv.reader(io.StringIO(text)))]
    if len(set(columns)) != len(columns) or "" in columns or len(columns) > MAX_COLUMNS:
        raise StepAside("repeated, empty or too many column names")
    return columns, start


class QuoteCheck:
    """Is the byte stream well-formed RFC 4180, so PostgreSQL's CSV parser and Python's agree?

    Counting quotes tells which open a field and which close one. An opening quote must start a
    field (after a comma or a line break), a closing one must end it (before a comma or a line
    break); anything else is a stray quote, which the two parsers read differently. Also refused:
    `\\.`, PostgreSQL's end-of-data marker. Vectorised with numpy: a scan costs a few ms per 8 MiB.
    """

    def __init__(self) -> None:
        self.quotes = 0
        self.prev = _LF  # the file starts like a line
        self.pending_close = False
        # A comma inside a quoted field somewhere in the file (see `typed_select`'s `quoted_commas`).
        self.quoted_comma = False

    def feed(self, chunk: bytes) -> bool:
        if not chunk:
            return True
        if b"\\." in chunk or (self.prev == ord("\\") and chunk[:1] == b"."):
            return False
        a = np.frombuffer(chunk, dtype=np.uint8)
        if self.pending_close and a[0] not in _BOUNDARY:
            return False
        self.pending_close = False
        q = np.flatnonzero(a == _QUOTE)
        if not self.quoted_comma and (q.size or self.quotes % 2):
            commas = np.flatnonzero(a == _COMMA)
            # Inside a quoted field when an odd number of quotes came before it.
            self.quoted_comma = bool(((self.quotes + np.searchsorted(q, commas)) % 2 == 1).any())
        if q.size:
            closing = (self.quotes + np.arange(q.size)) % 2 == 1
            before = np.where(q > 0, a[q - 1], self.prev)
            if not np.isin(before[~closing], _BOUNDARY).all():
                return False
            closers = q[closing]
            if closers.size and closers[-1] == a.size - 1:
                self.pending_close = True
                closers = closers[:-1]
            if not np.isin(a[closers + 1], _BOUNDARY).all():
                return False
            self.quotes += int(q.size)
        self.prev = int(a[-1])
        return True

    def done(self) -> bool:
        return self.quotes % 2 == 0


def copy_raw(conn: Connection, path: Path, columns: Sequence[str], start: int, table: str = RAW_TABLE) -> bool:
    """COPY the file as it is into a new scratch table of text columns c0…cN; whether a quoted field of it
    holds a comma."""
    names = [f"c{i}" for i in range(len(columns))]
    conn.exec_driver_sql(f"CREATE UNLOGGED TABLE {table} ({', '.join(n + ' text' for n in names)})")
    dbapi = conn.connection.driver_connection
    assert dbapi is not None
    check = QuoteCheck()
    sql = f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT csv, HEADER true, ENCODING 'UTF8')"
    with dbapi.cursor() as cur, cur.copy(sql) as cp, path.open("rb") as f:
        f.seek(start)
        while chunk := f.read(CHUNK):
            if not check.feed(chunk):
                raise StepAside("quoting outside RFC 4180")
            cp.write(chunk)
        if not check.done():
            raise StepAside("unterminated quote")
    return check.quoted_comma


# ------------------------------------------------------------------------------------ the SQL
def _kind(col: Col) -> tuple[str, object]:
    kind = KINDS.get(col.conv)
    if kind is None:
        raise StepAside(f"no SQL rule for {col.name}")
    return kind


def _ascii(t: str) -> str:
    return f"octet_length({t}) = length({t})"


def _day_ok(t: str, then: str) -> str:
    """`then` when the day exists in its month (the pattern already checked the digits)."""
    first = f"(left({t}, 8) || '01')::date"
    full = f"{first} + (substr({t}, 9, 2)::int - 1) < {first} + interval '1 month'"
    # Days 01-28 exist in every month: a cheap text comparison settles almost every value.
    return f"CASE WHEN substr({t}, 9, 2) <= '28' THEN {then} WHEN {full} THEN {then} END"


def typed_value(col: Col, r: str, looked_up: str | None = None, plain: str | None = None) -> str:
    """SQL for the column's typed value from its text `r` (NULL when empty); NULL when not taken.

    Text arrives trimmed (as str.strip() trims). Any other value with spaces around it is left to
    the row-by-row path, which accepts it: rare, and it keeps every check a single pattern.
    `looked_up` is the value found in the calendar and clock tables, for dates and timestamps;
    `plain` is true when every number of the row is a plain integer (see `typed_select`).
    """
    kind, arg = _kind(col)
    if kind == "text":
        n = int(str(arg))  # octet_length first: cheaper, and enough for ASCII
        return f"CASE WHEN octet_length({r}) <= {n} THEN {r} WHEN length({r}) <= {n} THEN {r} END"
    if kind in ("choice", "bool"):
        assert isinstance(arg, tuple)
        if kind == "choice":
            whens = " ".join(f"WHEN {lit(a.lower())} THEN {lit(a)}" for a in arg)
        else:
            true, false = arg
            whens = " ".join(f"WHEN {lit(v)} THEN true" for v in true) + " "
            whens += " ".join(f"WHEN {lit(v)} THEN false" for v in false)
        return f"CASE WHEN {_ascii(r)} THEN CASE lower({r}) {whens} END END"
    if kind == "date":
        if looked_up:
            parsed = _day_ok(r, f"left({r}, 10)::date")
            return f"CASE WHEN {looked_up} IS NOT NULL THEN {looked_up} WHEN {r} ~ {lit(_DATE_RE)} THEN {parsed} END"
        return f"CASE WHEN {r} ~ {lit(_DATE_RE)} THEN {_day_ok(r, f'left({r}, 10)::date')} END"
    if kind == "timestamp":
        value = f"CASE WHEN {r} ~ {lit(_ZONE_RE)} THEN {r}::timestamptz ELSE {r}::timestamp AT TIME ZONE 'UTC' END"
        utc = f"{r}::timestamp AT TIME ZONE 'UTC'"
        # The warehouse's usual spelling first, with one simple pattern; then every other one.
        first = f"WHEN {looked_up} IS NOT NULL THEN {looked_up} " if looked_up else ""
        return (
            f"CASE {first}WHEN {r} ~ {lit(_TS_PLAIN_RE)} THEN {_day_ok(r, utc)}"
            f" WHEN {r} ~ {lit(_TS_RE)} THEN {_day_ok(r, value)} END"
        )
    first = f"WHEN {plain} THEN " if plain else ""
    if kind == "count":
        whole = f"split_part({r}, '.', 1)"
        first = f"{first}CASE WHEN length({r}) <= 9 THEN {r}::int END " if plain else ""
        return (
            f"CASE {first}WHEN {r} ~ {lit(_DIGITS_RE)} THEN CASE WHEN length({r}) <= 9 THEN {r}::int END"
            f" WHEN {r} ~ {lit(_WHOLE_RE)} THEN CASE WHEN length({whole}) <= 9 THEN {whole}::int END END"
        )
    if kind == "metric":
        first = f"{first}{r}::float8 " if plain else ""
        return f"CASE {first}WHEN {r} ~ {lit(_NUM_RE)} THEN {r}::float8 END"
    raise StepAside(f"no SQL rule for {col.name} ({kind})")


def extra_piece(r: str, metric: bool, plain: str | None = None) -> str:
    """The value's JSON text in the row's extra_metrics list, NULL when not reported, or '!' to step aside.

    Written as the row-by-row path writes it (compact, integers without a point), so a re-sync by either
    path compares equal.
    """
    f = f"{r}::float8"
    decimal = (
        f"CASE WHEN {f} >= 1e15 THEN NULL WHEN {f} = trunc({f}) THEN trunc({f})::bigint::text"
        f" WHEN {f} >= 0.0001 THEN {f}::text END"
    )
    # Ignored (NULL) only when surely not a number by either path: ASCII, nothing to trim (float() trims,
    # so " 5" is 5 row by row: left to that path), and no digit or a character no number has.
    ignore = (
        ""
        if metric
        else f"WHEN {_ascii(r)} AND btrim({r}, {_WS_LIT}) = {r} AND ({r} !~ '[0-9]' OR {r} ~ {lit(_NOT_A_NUMBER_RE)})"
        " THEN NULL "
    )
    first = f"WHEN {plain} THEN {r} " if plain else ""
    return (
        f"CASE WHEN {r} IS NULL THEN NULL {first}WHEN {r} ~ {lit(_INT_RE)} THEN {r} "
        f"WHEN {r} ~ {lit(_NUM_RE)} THEN COALESCE({decimal}, '!') {ignore}ELSE '!' END"
    )


def _concat(parts: list[str], sep: str = "','") -> str:
    """concat_ws over any number of parts (a function takes at most 100 arguments)."""
    if not parts:
        return "''"
    if len(parts) <= _ARGS:
        return f"concat_ws({sep}, {', '.join(parts)})"
    groups = [f"NULLIF({_concat(parts[i : i + _ARGS], sep)}, '')" for i in range(0, len(parts), _ARGS)]
    return _concat(groups, sep)


def typed_select(
    columns: Sequence[str], scratch: Scratch | None = None, quoted_commas: bool = False
) -> tuple[str, list[str]]:
    """The statement turning raw rows into staging rows plus a `bad` flag, and the extra columns.

    A row is "plain" when its numbers, joined by commas, read as plain integers. A quoted `"1,234"` reads
    that way too: a typed column then fails its cast (and the file goes row by row), but an extra column's
    text would be taken as it is, two values in the row's list. So with `quoted_commas` (the file has a
    comma inside a quoted field: rare, `copy_raw` tells) extra values are each checked by their pattern.

    Three layers, each value computed once: a subquery holding a volatile call in its output is
    never merged into the query above it (which would repeat every expression where it is used),
    and unlike an `OFFSET 0` fence it still runs inside the parallel workers; clock_timestamp() is
    volatile and parallel safe.
    """
    raw_table, calendar = (scratch.raw, scratch.calendar) if scratch else (RAW_TABLE, CALENDAR)
    pos = {n: i for i, n in enumerate(columns)}
    contract = USAGE_COLS + SCORED_COLS
    known = {c.name for c in contract}
    for c in contract:
        if c.required and c.name not in pos:
            raise StepAside(f"missing required column {c.name}")
    # Layer A: empty is NULL (COPY already made unquoted empties NULL; a quoted "" is empty too);
    # text is trimmed; dates and timestamps in the usual spelling are looked up, not parsed.
    kinds = {pos[c.name]: _kind(c)[0] for c in contract if c.name in pos}
    layer_a, joins, looked_up = [], [], {}
    for i in range(len(columns)):
        if kinds.get(i) == "text":
            layer_a.append(f"NULLIF(btrim(c{i}, {_WS_LIT}), '') AS r{i}")
        else:
            layer_a.append(f"NULLIF(c{i}, '') AS r{i}")
        if kinds.get(i) == "date":
            joins.append(f"LEFT JOIN {calendar} d{i} ON d{i}.txt = raw.c{i}")
            layer_a.append(f"d{i}.d AS k{i}")
            looked_up[i] = f"k{i}"
        elif kinds.get(i) == "timestamp":
            joins.append(f"LEFT JOIN {calendar} d{i} ON d{i}.txt = left(raw.c{i}, 10)")
            clock = f"substr(raw.c{i}, 11)"
            layer_a.append(
                f"CASE WHEN d{i}.d IS NOT NULL AND {clock} ~ {lit(_CLOCK_RE)}"
                f" THEN (d{i}.d + {clock}::time) AT TIME ZONE 'UTC' END AS k{i}"
            )
            looked_up[i] = f"k{i}"
    # One pattern per row instead of one per number: most rows hold nothing but plain integers.
    numbers = [f"raw.c{i}" for i, n in enumerate(columns) if n not in known or kinds[i] in ("count", "metric")]
    layer_a.append(f"{_concat(numbers)} ~ {lit(_PLAIN_ROW_RE)} AS plain")
    layer_a.append("clock_timestamp() AS fence_a")

    values: list[str] = []  # layer B: typed values, each computed once
    bad: list[str] = []  # layer C: every check, never NULL
    for c in contract:
        if c.name not in pos:
            values.append(f"NULL::{_sql_type(c)} AS {c.dest}")
            continue
        r = f"r{pos[c.name]}"
        values.append(f"{typed_value(c, r, looked_up.get(pos[c.name]), 'plain')} AS {c.dest}")
        values.append(f"{r} AS raw_{c.dest}")
        if c.required:
            bad.append(f"{c.dest} IS NULL")
        else:
            bad.append(f"({c.dest} IS NULL AND raw_{c.dest} IS NOT NULL)")
    extras = extra_metric_columns(columns)
    pieces = []
    for k, n in enumerate(extras):
        piece = extra_piece(f"r{pos[n]}", bool(METRIC_NAME.search(n)), None if quoted_commas else "plain")
        values.append(f"{piece} AS x{k}")
        pieces.append(f"COALESCE(x{k}, 'null')")
        bad.append(f"COALESCE(x{k} = '!', false)")

    identity = (
        "CASE WHEN delivery_type = 'SaaS' THEN 'saas:' || namespace_id"
        " WHEN installation_id IS NOT NULL THEN 'sm:' || installation_id"
        " WHEN uuid IS NOT NULL AND hostname IS NOT NULL THEN 'sm:' || uuid || '|' || hostname END"
    )
    creation = "CASE WHEN delivery_type = 'SaaS' THEN namespace_creation_date ELSE installation_creation_date END"
    bad.append(f"({identity}) IS NULL")
    bad.append("COALESCE(extract(day FROM snapshot_month) <> 1, false)")
    values.append("clock_timestamp() AS fence_b")
    # Typed as json here, in the parallel workers, rather than cast by the merge, which runs alone.
    extra = f"('[' || {_concat(pieces)} || ']')::json"
    derived = {"identity": identity, "creation_date": creation, "extra_metrics": extra}
    out = [f"{derived[c]} AS {c}" if c in derived else c for c in USAGE_STAGE]
    sql = (
        f"SELECT {', '.join(out)}, ({' OR '.join(bad)}) AS bad FROM ("
        f" SELECT {', '.join(values)} FROM (SELECT {', '.join(layer_a)} FROM {raw_table} raw {' '.join(joins)}"
        ") a) b"
    )
    return sql, extras


def _sql_type(col: Col) -> str:
    kind, _ = _kind(col)
    return {"date": "date", "timestamp": "timestamptz", "count": "int", "metric": "float8", "bool": "boolean"}.get(
        kind, "text"
    )


# One summary row per instance, as `Validator._note_instance` folds them: the latest row (by month,
# then rows with a ping, then ping time, then subscription id) gives the attributes and the export's
# label; the latest row with a ping gives version and users. Only the rows of each instance's last
# month (and last month with a ping) are sorted, not the whole export. Written to a scratch table
# first: `CREATE TABLE … AS` may run in parallel workers, `INSERT … SELECT` may not.
INSTANCES_SQL = """
    WITH g AS (
        SELECT identity, MIN(snapshot_month) AS first_seen_month, MAX(snapshot_month) AS last_seen_month,
               MAX(ping_created_at) AS last_ping_at,
               MAX(snapshot_month) FILTER (WHERE ping_created_at IS NOT NULL) AS last_ping_month
        FROM {typed} GROUP BY identity
    ), l AS (
        SELECT DISTINCT ON (u.identity) u.*
        FROM {typed} u JOIN g ON g.identity = u.identity AND g.last_seen_month = u.snapshot_month
        ORDER BY u.identity, (u.ping_created_at IS NOT NULL) DESC, u.ping_created_at DESC NULLS LAST,
                 u.subscription_id COLLATE "C" DESC
    ), p AS (
        SELECT DISTINCT ON (u.identity) u.identity, u.cleaned_version, u.billable_user_count
        FROM {typed} u JOIN g ON g.identity = u.identity AND g.last_ping_month = u.snapshot_month
        WHERE u.ping_created_at IS NOT NULL
        ORDER BY u.identity, u.ping_created_at DESC, u.subscription_id COLLATE "C" DESC
    )
    SELECT l.identity, l.account_id, l.delivery_type, l.deployment_type, l.installation_id, l.uuid, l.hostname,
           l.namespace_id, l.namespace_name, l.creation_date, COALESCE(l.instance_type, 'Unknown') AS export_label,
           g.first_seen_month, g.last_seen_month, g.last_ping_at, p.cleaned_version AS last_version,
           p.billable_user_count AS last_billable_users
    FROM l JOIN g ON g.identity = l.identity LEFT JOIN p ON p.identity = l.identity
"""

# Every check in one pass: rows, rows outside the fast path, the as-of month, and rows naming an
# account or subscription that is not stored (this export's were merged just before).
CHECK_SQL = """
    SELECT count(*), count(*) FILTER (WHERE u.bad OR a.id IS NULL OR s.id IS NULL), max(u.snapshot_month)
    FROM {typed} u
    LEFT JOIN accounts a ON a.id = u.account_id
    LEFT JOIN subscriptions s ON s.id = u.subscription_id
"""


def stage_usage(conn: Connection, path: Path, instance_stage: str) -> BulkResult:
    """COPY, check and type every usage row of `path`; StepAside if any row is not plainly valid.

    On success the result's `scratch.typed` table holds the staging rows (USAGE_STAGE columns) and
    `instance_stage` one summary row per instance, ready for the merge statements; the caller drops
    the scratch tables (`Scratch.drop`) once merged. Run inside a savepoint: rolling it back removes
    them too.
    """
    t0 = time.perf_counter()
    scratch = Scratch()
    columns, start = read_header(path)
    hold_sync_lock(conn)
    sql, extras = typed_select(columns, scratch)  # before COPY: a header it cannot take costs nothing
    if copy_raw(conn, path, columns, start, scratch.raw):
        sql, extras = typed_select(columns, scratch, quoted_commas=True)
    # jit: compiling these wide expressions costs more than it saves. work_mem: joins and groupings
    # over a million rows stay in memory instead of spilling to disk in batches (the default 4 MB is
    # sized for many small concurrent queries, not one bulk load). Both hold until the transaction ends.
    conn.exec_driver_sql("SET LOCAL jit = off")
    conn.exec_driver_sql(f"SET LOCAL work_mem = '{WORK_MEM}'")
    # Only for the statements below: the merges and the scoring step that follow keep their plans.
    for name, value in PARALLEL.items():
        conn.exec_driver_sql(f"SET LOCAL {name} = '{value}'")
    for statement in LOOKUP_SQL.format(calendar=scratch.calendar).split(";"):
        conn.exec_driver_sql(statement)

    t1 = time.perf_counter()
    conn.exec_driver_sql(f"CREATE UNLOGGED TABLE {scratch.typed} AS {sql}")
    conn.exec_driver_sql(f"DROP TABLE {scratch.raw}, {scratch.calendar}")
    t2 = time.perf_counter()
    rows, bad, as_of = conn.exec_driver_sql(CHECK_SQL.format(typed=scratch.typed)).one()
    if bad:
        raise StepAside(f"{bad} rows to check row by row")
    t3 = time.perf_counter()
    conn.exec_driver_sql(f"CREATE UNLOGGED TABLE {scratch.instances} AS {INSTANCES_SQL.format(typed=scratch.typed)}")
    names = ", ".join(INSTANCE_STAGE)
    sql = f"INSERT INTO {instance_stage} ({names}) SELECT {names} FROM {scratch.instances}"
    instances = conn.exec_driver_sql(sql).rowcount
    conn.exec_driver_sql(f"DROP TABLE {scratch.instances}")
    for name in PARALLEL:
        conn.exec_driver_sql(f"SET LOCAL {name} TO DEFAULT")
    log.debug(
        "bulk: copy %.1fs, type %.1fs, check %.1fs, instances %.1fs",
        t1 - t0, t2 - t1, t3 - t2, time.perf_counter() - t3,
    )  # fmt: skip
    metrics = sorted({c.name for c in SCORED_COLS if c.name in columns} | set(extras))
    return BulkResult(
        usage_rows=int(rows),
        as_of_month=as_of,
        instances=int(instances),
        metric_columns=metrics,
        extra_columns=extras,
        scratch=scratch,
    )
