"""The first load of a usage CSV into PostgreSQL, columnar: read, check and type on the client, one COPY.

On a first load (no instance and no usage row stored) the set-based path (bulk.py) writes every row three
times: raw into a scratch table, typed into a second one, then into usage_monthly. Here Arrow's CSV reader
parses the file in blocks on the client, every column is checked and typed a whole block at a time (C++
kernels, no Python per value), each row gets its instance id from the client, and the block goes
straight into usage_monthly with one streamed `COPY`: the server parses typed values while the client
checks the next block, each on its own core. Every instance is then written once, whole, with the
summary `bulk.INSTANCES_SQL` would give (`InstanceFold`).

Like bulk.py it accepts a strict subset of what the data contract allows, and steps aside on anything
else: plain ISO dates (`2026-10-01`) and timestamps (`2026-10-28 04:12:00`, taken as UTC), counts of
plain digits, metrics as plain decimals, extra values as plain integers, every required value present,
every reference stored. Any other value, or any problem, raises `StepAside`: the caller rolls back to its
savepoint and the set-based path (which takes more spellings) or the row-by-row path (which reports
every problem as `file:line: column: what`) loads the file instead. So a valid export loads to the same
rows by any path; tests/test_sync_columnar.py compares all three.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from sqlalchemy.engine import Connection

from workflows.sync import pg_binary
from workflows.sync.bulk import (
    _NOT_A_NUMBER_RE,
    _WS,
    CHUNK,
    KINDS,
    BulkResult,
    QuoteCheck,
    StepAside,
    hold_sync_lock,
    read_header,
)
from workflows.sync.contract import METRIC_NAME, SCORED_COLS, USAGE_COLS, Col, extra_metric_columns
from workflows.sync.merge import INSTANCE_ATTRS

log = logging.getLogger(__name__)

# Any error of Arrow's (a kernel that does not take a value, say) makes the caller step aside.
ArrowError = pa.ArrowException


# Bytes of text columns per block (Arrow's size of the pieces put together, see `_blocks`): large enough that
# each kernel call amortises its overhead, small enough that a block's columns stay a few tens of MiB.
BLOCK = 4 << 20
# Bytes of the file Arrow's reader reads at a time: it reads many ahead, so this, not BLOCK, sets its memory.
READ_PIECE = 1 << 20
# Blocks are typed, checked and encoded by worker threads (Arrow and numpy release the GIL) while the server
# stores the ones before them; AHEAD blocks wait at each stage, so a few blocks are in memory at a time.
WORKERS = 2
AHEAD = 2

_DATE = r"^[1-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$"
_TIMESTAMP = r"^[1-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]$"
_DECIMAL = r"^[0-9]+([.][0-9]+)?$"
_TRIM = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in _WS) + "]"


def _refuse(what: str, taken: pa.Array, raw: pa.Array) -> None:
    """StepAside when a value present in `raw` was not taken (NULL in `taken`)."""
    lost = pc.sum(pc.and_(pc.is_valid(raw), pc.is_null(taken))).as_py()
    if lost:
        raise StepAside(f"{lost} values of {what} outside the columnar subset")


def _where(mask: pa.Array, value: pa.Array) -> pa.Array:
    return pc.if_else(mask, value, pa.scalar(None, value.type))


def _plain(raw: pa.Array, pattern: str, what: str) -> None:
    """StepAside unless every value present matches `pattern`."""
    if pc.all(pc.match_substring_regex(raw, pattern)).as_py() is False:
        raise StepAside(f"{what}: a value outside the columnar subset")


def _all_digits(raw: pa.Array) -> bool:
    """Every value present is ASCII digits only (true when none is present)."""
    return pc.all(pc.ascii_is_decimal(raw)).as_py() is not False


def _cast(raw: pa.Array, to: pa.DataType, what: str) -> pa.Array:
    """Arrow's own parse, which refuses a day that does not exist (June 31) or an hour 24."""
    try:
        return pc.cast(raw, to)
    except pa.ArrowInvalid:
        raise StepAside(f"{what}: a value that is not a real date or time") from None


def typed(col: Col, raw: pa.Array) -> pa.Array:
    """The column's typed values, as the data contract reads them; StepAside for any value it cannot take."""
    kind, arg = KINDS[col.conv]
    out: pa.Array
    if kind == "text":
        trimmed = pc.utf8_trim(raw, characters=_WS)
        out = _where(pc.not_equal(trimmed, ""), trimmed)
        if pc.any(pc.greater(pc.utf8_length(out), int(arg))).as_py():
            raise StepAside(f"{col.name}: a value longer than {arg} characters")
        return out
    if kind in ("choice", "bool"):
        if kind == "choice":
            spellings, values = [a.lower() for a in arg], pa.array(list(arg))
        else:
            true, false = arg
            spellings, values = [*true, *false], pa.array([True] * len(true) + [False] * len(false))
        ascii_raw = _where(pc.string_is_ascii(raw), raw)
        found = pc.index_in(pc.ascii_lower(ascii_raw), value_set=pa.array(spellings))
        out = pc.take(values, found)
    elif kind == "date":
        # Dates repeat (months, creation dates): each distinct one is checked and parsed once.
        encoded = pc.dictionary_encode(raw)
        _plain(encoded.dictionary, _DATE, col.name)
        out = pc.take(_cast(encoded.dictionary, pa.date32(), col.name), encoded.indices)
    elif kind == "timestamp":
        _plain(raw, _TIMESTAMP, col.name)
        out = _cast(raw, pa.timestamp("us"), col.name).view(pa.timestamp("us", tz="UTC"))  # no zone: UTC
    elif kind == "count":
        if _all_digits(raw) and (pc.max(pc.utf8_length(raw)).as_py() or 0) <= 9:
            return pc.cast(raw, pa.int32())  # the usual case: every value checked at once
        digits = pc.and_(pc.ascii_is_decimal(raw), pc.less_equal(pc.utf8_length(raw), 9))
        out = pc.cast(_where(digits, raw), pa.int32())
    elif kind == "metric":
        if _all_digits(raw):  # the usual case: no pattern, and never negative; not finite only by overflow
            out = _cast(raw, pa.float64(), col.name)
            if not math.isfinite(pc.max(out).as_py() or 0.0):
                raise StepAside(f"{col.name}: a value too large for a number")
            return out
        out = _cast(_where(pc.match_substring_regex(raw, _DECIMAL), raw), pa.float64(), col.name)
        out = _where(pc.is_finite(out), out)
    else:
        raise StepAside(f"no columnar rule for {col.name} ({kind})")
    _refuse(col.name, out, raw)
    return out


def extra_text(name: str, raw: pa.Array) -> pa.Array:
    """The value's JSON text in the row's extra_metrics list ('null' when not reported), as bulk.extra_piece
    writes it: plain integers as they are; a non-metric column's value that is surely not a number is not
    reported. StepAside for anything else (a decimal, a padded number)."""
    leading_zero = pc.and_(pc.starts_with(raw, "0"), pc.greater(pc.utf8_length(raw), 1))
    if _all_digits(raw) and not pc.any(leading_zero).as_py():
        return pc.fill_null(raw, "null")  # the usual case: plain integers (or not reported) only
    integer = pc.and_(pc.ascii_is_decimal(raw), pc.invert(leading_zero))  # ^(0|[1-9][0-9]*)$ without a pattern
    out = _where(integer, raw)
    if not METRIC_NAME.search(name):
        no_number = pc.or_(
            pc.invert(pc.match_substring_regex(raw, "[0-9]")), pc.match_substring_regex(raw, _NOT_A_NUMBER_RE)
        )
        unpadded = pc.invert(pc.match_substring_regex(raw, f"^{_TRIM}|{_TRIM}$"))
        ignored = pc.and_(pc.and_(pc.string_is_ascii(raw), unpadded), no_number)
        left = pc.and_(pc.is_valid(raw), pc.invert(pc.fill_null(pc.or_(integer, ignored), False)))
    else:
        left = pc.and_(pc.is_valid(raw), pc.invert(pc.fill_null(integer, False)))
    if pc.any(left).as_py():
        raise StepAside(f"{name}: a value outside the columnar subset")
    return pc.fill_null(out, "null")


# The staged columns, in usage_monthly's order, as the merge writes them (merge.USAGE_FIELDS).
_CONTRACT: tuple[Col, ...] = USAGE_COLS + SCORED_COLS


@dataclass
class Plan:
    """How the file's columns map to the contract's: positions, and the extra metric columns in layout order."""

    pos: dict[str, int]
    extras: list[str]
    raw_names: list[str]

    @classmethod
    def of(cls, columns: Sequence[str]) -> Plan:
        pos = {n: i for i, n in enumerate(columns)}
        for c in _CONTRACT:
            if c.required and c.name not in pos:
                raise StepAside(f"missing required column {c.name}")
            if c.conv not in KINDS:
                raise StepAside(f"no rule for {c.name}")
        return cls(pos, extra_metric_columns(columns), [f"c{i}" for i in range(len(columns))])


def type_block(batch: pa.RecordBatch, plan: Plan) -> dict[str, pa.Array]:
    """Every staged value of one block by its destination name, plus identity, creation_date and
    extra_metrics (JSON text), checked as bulk.CHECK_SQL and the typing statement check them."""
    n = batch.num_rows
    out: dict[str, pa.Array] = {}
    for c in _CONTRACT:
        at = plan.pos.get(c.name)
        if at is None:
            out[c.dest] = pa.nulls(n, _ARROW_TYPES.get(KINDS[c.conv][0], pa.string()))
            continue
        value = typed(c, batch.column(at))
        if c.required and value.null_count:
            raise StepAside(f"{c.name}: a required value missing")
        out[c.dest] = value
    saas = pc.fill_null(pc.equal(out["delivery_type"], "SaaS"), False)
    sm_install = pc.binary_join_element_wise("sm:", out["installation_id"], "")
    sm_host = pc.binary_join_element_wise("sm:", out["uuid"], "|", out["hostname"], "")
    identity = pc.if_else(
        saas,
        pc.binary_join_element_wise("saas:", out["namespace_id"], ""),
        pc.if_else(pc.is_valid(out["installation_id"]), sm_install, sm_host),
    )
    if identity.null_count:
        raise StepAside("a row names no instance")
    out["identity"] = identity
    out["creation_date"] = pc.if_else(saas, out["namespace_creation_date"], out["installation_creation_date"])
    if not pc.all(pc.equal(pc.day(out["snapshot_month"]), 1)).as_py():
        raise StepAside("a snapshot month that is not the first day of a month")
    if plan.extras:
        pieces = [extra_text(x, batch.column(plan.pos[x])) for x in plan.extras]
        out["extra_metrics"] = pc.binary_join_element_wise("[", pc.binary_join_element_wise(*pieces, ","), "]", "")
    else:
        out["extra_metrics"] = pa.array(["[]"] * n)
    return out


# Staged columns holding text (the rest are numbers, dates, timestamps or booleans).
_TEXT = frozenset({c.dest for c in _CONTRACT if KINDS[c.conv][0] in ("text", "choice")} | {"identity", "extra_metrics"})

_ARROW_TYPES = {
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "count": pa.int32(),
    "metric": pa.float64(),
    "bool": pa.bool_(),
}


class InstanceIds:
    """Instance ids assigned by the client, 1, 2, … in order of first appearance (the table is empty)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def of(self, identity: pa.Array) -> pa.Array:
        uniq = pc.unique(identity)
        values = uniq.to_pylist()
        for value in values:
            if value not in self.ids:
                self.ids[value] = len(self.ids) + 1
        known = np.fromiter((self.ids[v] for v in values), dtype=np.int32, count=len(values))
        return pa.array(known[pc.index_in(identity, value_set=uniq).to_numpy(zero_copy_only=False)])


# Blocks folded between compactions of the instance fold.
COMPACT_EVERY = 32

# The attributes an instance takes from its latest row, and the export's label.
_ATTRS = (*INSTANCE_ATTRS, "instance_type")


def _last_of_each(table: pa.Table, keys: Sequence[str]) -> pa.Table:
    """Per identity, the row greatest by `keys` (after identity), bytewise for text as COLLATE "C" orders."""
    if table.num_rows == 0:
        return table
    # Sorted on values without NULLs: a row without a ping sorts before any with one by `has_ping` already.
    keyed = {k: table.column(k) for k in ("identity", *keys)}
    if "ping_created_at" in keyed:
        keyed["ping_created_at"] = pc.fill_null(keyed["ping_created_at"], pa.scalar(0, keyed["ping_created_at"].type))
    order = pc.sort_indices(pa.table(keyed), sort_keys=[(k, "ascending") for k in keyed])
    table = table.take(order)
    ident = table.column("identity")
    last = pc.not_equal(ident.slice(0, table.num_rows - 1), ident.slice(1))
    return table.filter(pa.concat_arrays([*last.chunks, pa.array([True])]) if last.num_chunks else pa.array([True]))


class InstanceFold:
    """Each instance's summary as bulk.INSTANCES_SQL gives it, folded block by block: the latest row (by month,
    then rows with a ping, then ping time, then subscription id) gives the attributes and the export's label,
    the latest row with a ping gives version and users; first and last month, last ping."""

    LATEST = ("snapshot_month", "has_ping", "ping_created_at", "subscription_id")
    PINGED = ("snapshot_month", "ping_created_at", "subscription_id")

    def __init__(self) -> None:
        self.latest: list[pa.Table] = []
        self.pinged: list[pa.Table] = []
        self.spans: list[pa.Table] = []

    @classmethod
    def part(cls, block: dict[str, pa.Array]) -> tuple[pa.Table, pa.Table, pa.Table]:
        """One block's share of the fold (any thread): its latest rows, latest pinged rows and spans."""
        ping = block["ping_created_at"]
        keys = {
            "identity": block["identity"],
            "snapshot_month": block["snapshot_month"],
            "has_ping": pc.is_valid(ping),
            "ping_created_at": ping,
            "subscription_id": block["subscription_id"],
        }
        latest = _last_of_each(pa.table({**keys, **{a: block[a] for a in _ATTRS}}), cls.LATEST)
        pinged = pa.table({
            "identity": block["identity"], "snapshot_month": block["snapshot_month"], "ping_created_at": ping,
            "subscription_id": block["subscription_id"], "cleaned_version": block["cleaned_version"],
            "billable_user_count": block["billable_user_count"],
        }).filter(pc.is_valid(ping))  # fmt: skip
        spans = {k: keys[k] for k in ("identity", "snapshot_month", "ping_created_at")}
        spans_table = pa.table({**spans, "last_month": keys["snapshot_month"]})
        return latest, _last_of_each(pinged, cls.PINGED), cls._spans(spans_table)

    def add(self, part: tuple[pa.Table, pa.Table, pa.Table]) -> None:
        latest, pinged, spans = part
        self.latest.append(latest)
        self.pinged.append(pinged)
        self.spans.append(spans)
        if len(self.latest) >= COMPACT_EVERY:  # folds of folds are folds: memory stays one row per instance
            self.latest = [_last_of_each(pa.concat_tables(self.latest), self.LATEST)]
            self.pinged = [_last_of_each(pa.concat_tables(self.pinged), self.PINGED)]
            self.spans = [self._spans(pa.concat_tables(self.spans))]

    @staticmethod
    def _spans(t: pa.Table) -> pa.Table:
        """Per identity: first month, last month, last ping (associative: spans of spans are spans)."""
        g = t.group_by("identity").aggregate(
            [("snapshot_month", "min"), ("last_month", "max"), ("ping_created_at", "max")]
        )
        return pa.table({
            "identity": g.column("identity"),
            "snapshot_month": g.column("snapshot_month_min"),
            "last_month": g.column("last_month_max"),
            "ping_created_at": g.column("ping_created_at_max"),
        })  # fmt: skip

    def result(self, ids: dict[str, int]) -> pa.Table:
        """One row per instance: id, identity, INSTANCE_STAGE's attributes and summaries."""
        latest = _last_of_each(pa.concat_tables(self.latest), self.LATEST)
        pinged = _last_of_each(pa.concat_tables(self.pinged), self.PINGED)
        spans = self._spans(pa.concat_tables(self.spans))
        g = spans.rename_columns(["identity", "first_seen_month", "last_seen_month", "last_ping_at"])
        latest = latest.select(["identity", *_ATTRS])
        pinged = pinged.select(["identity", "cleaned_version", "billable_user_count"]).rename_columns(
            ["identity", "last_version", "last_billable_users"]
        )
        t = latest.join(g, "identity").join(pinged, "identity", join_type="left outer")
        label = pc.fill_null(t.column("instance_type"), "Unknown")
        identity = t.column("identity")
        id_list = [ids[v] for v in identity.to_pylist()]
        return pa.table({
            "id": pa.array(id_list, pa.int32()),
            "identity": identity,
            **{a: t.column(a) for a in _ATTRS if a != "instance_type"},
            "export_label": label,
            "label": label,
            "label_source": pa.array(["export"] * t.num_rows),
            "label_version": pa.array([0] * t.num_rows, pa.int32()),
            "first_seen_month": t.column("first_seen_month"),
            "last_seen_month": t.column("last_seen_month"),
            "last_ping_at": t.column("last_ping_at"),
            "last_version": t.column("last_version"),
            "last_billable_users": t.column("last_billable_users"),
        })  # fmt: skip


def _blocks(path: Path, plan: Plan) -> Iterator[pa.RecordBatch]:
    """The file's rows as text columns, about BLOCK bytes of CSV a batch. Read in smaller pieces and put
    together: Arrow's reader reads ahead many pieces, so their size, not BLOCK, sets its memory."""
    read = pcsv.ReadOptions(column_names=plan.raw_names, skip_rows=1, block_size=READ_PIECE, use_threads=False)
    parse = pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False)
    convert = pcsv.ConvertOptions(
        column_types={n: pa.string() for n in plan.raw_names},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    pieces: list[pa.RecordBatch] = []
    size = 0
    try:
        for piece in pcsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert):
            pieces.append(piece)
            size += piece.nbytes
            if size >= BLOCK:
                yield pa.Table.from_batches(pieces).combine_chunks().to_batches()[0]
                pieces, size = [], 0
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise StepAside(f"not plain CSV: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    if pieces:
        yield pa.Table.from_batches(pieces).combine_chunks().to_batches()[0]


def _copy(conn: Connection, table: str, columns: Sequence[str]) -> Any:
    dbapi = conn.connection.driver_connection
    assert dbapi is not None
    cur = dbapi.cursor()
    return cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT binary)")


def _encode(columns: Sequence[pa.Array | pa.ChunkedArray]) -> memoryview:
    return pg_binary.encode([c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in columns])


def well_quoted(path: Path) -> bool:
    """Whether every quote of the file is RFC 4180's (bulk.QuoteCheck): a stray one (`17"3`) is read one way by
    Arrow and another by Python's csv module, so such a file goes another way."""
    check = QuoteCheck()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            if not check.feed(chunk):
                return False
    return check.done()


def _checked(batch: pa.RecordBatch, plan: Plan, accounts: pa.Array, subscriptions: pa.Array) -> dict[str, pa.Array]:
    """A block typed and checked, references included (any thread)."""
    block = type_block(batch, plan)
    if not pc.all(pc.is_in(block["account_id"], value_set=accounts)).as_py():
        raise StepAside("a row names an account that is not stored")
    if not pc.all(pc.is_in(block["subscription_id"], value_set=subscriptions)).as_py():
        raise StepAside("a row names a subscription that is not stored")
    return block


def _encoded(
    block: dict[str, pa.Array], written: Sequence[str], layout: int
) -> tuple[memoryview, tuple[pa.Table, pa.Table, pa.Table]]:
    """A block's binary COPY rows and its share of the instance fold (any thread)."""
    block["metric_layout_id"] = pa.nulls(len(block["identity"]), pa.int32()).fill_null(layout)
    return _encode([block[c] for c in written]), InstanceFold.part(block)


def load_first(conn: Connection, path: Path, usage_fields: Sequence[str], layout: int) -> BulkResult:
    """COPY every usage row of `path` into the empty usage_monthly, and its instances into the empty instances
    table; StepAside when anything is outside the columnar subset or either table holds rows.

    `usage_fields`: the usage columns written besides the key (merge.USAGE_FIELDS); `layout`: the metric layout
    id of the file's extra columns (its `extra_metric_columns`, read from the header first by the caller).
    Run inside a savepoint: rolling it back removes every row written.
    """
    try:
        return _load(conn, path, usage_fields, layout)
    finally:
        pa.default_memory_pool().release_unused()  # before the scoring step forks (see workflows/sync/__init__.py)


def _load(conn: Connection, path: Path, usage_fields: Sequence[str], layout: int) -> BulkResult:
    t0 = time.perf_counter()
    columns, _ = read_header(path)  # a byte-order mark goes with the header line
    plan = Plan.of(columns)
    hold_sync_lock(conn)
    stored = conn.exec_driver_sql(
        "SELECT EXISTS (SELECT 1 FROM instances) OR EXISTS (SELECT 1 FROM usage_monthly)"
    ).scalar_one()
    if stored:
        raise StepAside("instances or usage rows stored: not a first load")
    accounts = pa.array(conn.exec_driver_sql("SELECT id FROM accounts").scalars().all(), pa.string())
    subscriptions = pa.array(conn.exec_driver_sql("SELECT id FROM subscriptions").scalars().all(), pa.string())
    ids, fold = InstanceIds(), InstanceFold()
    # Fixed-width values side by side, text after them: pg_binary.encode packs a run of fixed-width columns at once.
    written = sorted(
        ("snapshot_month", "instance_id", "subscription_id", *usage_fields, "extra_metrics", "metric_layout_id"),
        key=lambda c: c in _TEXT,
    )
    rows, as_of = 0, None
    cur, copy = _copy(conn, "usage_monthly", written)
    checking: deque[Future[dict[str, pa.Array]]] = deque()
    encoding: deque[Future[tuple[memoryview, tuple[pa.Table, pa.Table, pa.Table]]]] = deque()
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="columnar")
    quoting = pool.submit(well_quoted, path)
    try:
        with cur, copy as cp:
            cp.write(pg_binary.HEADER)

            def write_next() -> None:
                data, part = encoding.popleft().result()
                fold.add(part)
                cp.write(data)

            def encode_next() -> None:
                nonlocal rows, as_of
                block = checking.popleft().result()
                block["instance_id"] = ids.of(block["identity"])  # here, in file order: ids follow the file
                rows += len(block["identity"])
                month = pc.max(block["snapshot_month"]).as_py()
                as_of = month if as_of is None or (month is not None and month > as_of) else as_of
                encoding.append(pool.submit(_encoded, block, written, layout))
                if len(encoding) > AHEAD:
                    write_next()

            for batch in _blocks(path, plan):
                checking.append(pool.submit(_checked, batch, plan, accounts, subscriptions))
                if len(checking) > AHEAD:
                    encode_next()
            while checking:
                encode_next()
            while encoding:
                write_next()
            if not quoting.result():
                raise StepAside("quoting outside RFC 4180")
            cp.write(pg_binary.TRAILER)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        checking.clear()
        encoding.clear()
    if not rows:
        raise StepAside("no usage rows")  # nothing to gain; the other paths say what an empty file means
    t1 = time.perf_counter()
    instances = fold.result(ids.ids)
    icur, icopy = _copy(conn, "instances", instances.column_names)
    with icur, icopy as cp:
        cp.write(pg_binary.HEADER + bytes(_encode(instances.columns)) + pg_binary.TRAILER)
    if instances.num_rows:
        conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('instances', 'id'), {instances.num_rows})")
    log.debug(
        "columnar: %d rows in %.1fs, %d instances in %.1fs",
        rows, t1 - t0, instances.num_rows, time.perf_counter() - t1,
    )  # fmt: skip
    metrics = sorted({c.name for c in SCORED_COLS if c.name in columns} | set(plan.extras))
    return BulkResult(
        usage_rows=rows,
        as_of_month=as_of if isinstance(as_of, date) else None,
        instances=instances.num_rows,
        metric_columns=metrics,
        extra_columns=plan.extras,
    )
