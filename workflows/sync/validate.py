"""Streaming validation: every row is checked and turned into a staging tuple, one at a time.

Nothing here holds the export in memory. What must be remembered across rows is kept compact:
account ids, subscription ids (with their line, for duplicate reports), and one 64-bit hash per
usage key (snapshot_month, instance identity, subscription) for duplicate detection.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

from db.names import name_key
from workflows.sync.contract import (
    ACCOUNT_COLS,
    METRIC_NAME,
    SCORED_COLS,
    SUBSCRIPTION_COLS,
    USAGE_COLS,
    Col,
    extra_metric_columns,
    to_metric,
)
from workflows.sync.keyset import KeySet
from workflows.sync.sources import CsvDecodeError, TableReader, Undecodable

# Staging column order per table (what `check_*` yields, what the stager writes).
ACCOUNT_STAGE: tuple[str, ...] = (*(c.dest for c in ACCOUNT_COLS), "name_key")
SUBSCRIPTION_STAGE: tuple[str, ...] = tuple(c.dest for c in SUBSCRIPTION_COLS)
USAGE_STAGE: tuple[str, ...] = (
    "identity",
    *(c.dest for c in USAGE_COLS if not c.dest.endswith("_creation_date")),
    "creation_date",
    *(c.dest for c in SCORED_COLS),
    "extra_metrics",
)


INSTANCE_STAGE: tuple[str, ...] = (
    "identity",
    "account_id",
    "delivery_type",
    "deployment_type",
    "installation_id",
    "uuid",
    "hostname",
    "namespace_id",
    "namespace_name",
    "creation_date",
    "export_label",
    "first_seen_month",
    "last_seen_month",
    "last_ping_at",
    "last_version",
    "last_billable_users",
)


class Problems:
    """Every problem is counted; the first `keep` are kept for printing."""

    def __init__(self, keep: int = 100_000) -> None:
        self.keep = keep
        self.count = 0
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        self.count += 1
        if len(self.lines) < self.keep:
            self.lines.append(line)

    def __bool__(self) -> bool:
        return self.count > 0


@dataclass
class Tally:
    accounts: int = 0
    subscriptions: int = 0
    usage_rows: int = 0
    as_of_month: date | None = None
    extra_metric_columns: list[str] = field(default_factory=list)
    # Every metric column the usage table has (typed and extra): what "not in the export" is judged by.
    metric_columns: list[str] = field(default_factory=list)


class Validator:
    """Checks the three tables in order (accounts, subscriptions, usage) and remembers their keys."""

    def __init__(self, existing_accounts: set[str], existing_subscriptions: dict[str, str]) -> None:
        self.problems = Problems()
        self.tally = Tally()
        # Keys known before this export: a partial export may refer to them.
        self.accounts: dict[str, int | None] = dict.fromkeys(existing_accounts)
        self._seen_accounts: set[str] = set()
        self.subscriptions: dict[str, int | None] = dict.fromkeys(existing_subscriptions)
        self._seen_subscriptions: set[str] = set()
        self._usage_keys = KeySet()  # hashes of (month, identity, subscription): see keyset.py
        # Per instance identity, what its `instances` row needs (see `_note_instance`): a few
        # dozen bytes per instance, however many usage rows it has.
        self.instances: dict[str, list[Any]] = {}

    def forget_usage_keys(self) -> None:
        """The usage keys matter only while rows are checked: their memory can go once the file is done."""
        self._usage_keys = KeySet()

    def release(self) -> None:
        """Forget the keys and instance summaries once the load is done: the sync's scoring step runs in the
        same process next, and a key per usage row (over a million at 20,000 accounts) is memory it can use."""
        self.forget_usage_keys()
        self._seen_accounts, self._seen_subscriptions = set(), set()
        self.accounts, self.subscriptions, self.instances = {}, {}, {}

    # -- helpers ---------------------------------------------------------------------------
    def _plan(self, reader: TableReader, cols: Sequence[Col]) -> list[int | None]:
        """Position of each contract column in the reader's columns; a missing required one is reported once."""
        where = {name: i for i, name in reversed(list(enumerate(reader.columns)))}
        plan: list[int | None] = []
        for col in cols:
            pos = where.get(col.name)
            if pos is None and col.required:
                head = f"{reader.label}:1" if reader.is_csv else reader.label
                self.problems.add(f"{head}: {col.name}: missing required column")
            plan.append(pos)
        return plan

    def _check_header(self, reader: TableReader) -> None:
        """A column name given twice is ambiguous (which one is the seat count?): named, never guessed."""
        head = f"{reader.label}:1" if reader.is_csv else reader.label
        positions: dict[str, list[int]] = {}
        for i, name in enumerate(reader.columns):
            if name:
                positions.setdefault(name, []).append(i + 1)
        for name, where in positions.items():
            if len(where) > 1:
                cols = ", ".join(str(n) for n in where)
                self.problems.add(f"{head}: {name}: the column appears {len(where)} times (columns {cols}); keep one")

    def _nul_problem(self, reader: TableReader, line: int | None, values: Sequence[Any]) -> bool:
        """NUL characters can't be stored by PostgreSQL: a problem at the row, on every database alike."""
        if reader.is_csv:
            if "\x00" not in "".join(values):
                return False
        elif not any(isinstance(v, str) and "\x00" in v for v in values):
            return False
        bad = [i for i, v in enumerate(values) if isinstance(v, str) and "\x00" in v]
        column = reader.columns[bad[0]] if bad and bad[0] < len(reader.columns) else "-"
        where = f"{reader.label}:{line}" if line is not None else reader.label
        self.problems.add(f"{where}: {column}: contains a NUL character (\\0), which the database can't store")
        return True

    def _rows(self, reader: TableReader) -> Iterator[tuple[int | None, Sequence[Any]]]:
        """The reader's rows; a repeated column name, ragged CSV rows, unreadable bytes and NUL characters
        become problems."""
        width = len(reader.columns)
        self._check_header(reader)
        try:
            for line, values in reader.rows:
                if values.__class__ is Undecodable:
                    self.problems.add(f"{reader.label}:{line}: -: not valid UTF-8")
                    continue
                if reader.is_csv and len(values) != width:
                    self.problems.add(f"{reader.label}:{line}: -: expected {width} fields, found {len(values)}")
                    continue
                if self._nul_problem(reader, line, values):
                    continue
                yield line, values
        except CsvDecodeError as exc:
            reason = exc.__cause__ or "not valid UTF-8"
            self.problems.add(f"{reader.label}:{exc.line}: -: {reason}; reading stopped here")

    @staticmethod
    def _steps(cols: Sequence[Col], plan: list[int | None]) -> list[tuple[int, int, Any, bool, str]]:
        """(out index, value position, converter, required, name) for the columns present: the
        per-row loop then does no attribute lookups and skips absent columns for free."""
        return [
            (i, pos, c.conv, c.required, c.name)
            for i, (c, pos) in enumerate(zip(cols, plan, strict=True))
            if pos is not None
        ]

    def _convert(
        self, values: Sequence[Any], steps: list[tuple[int, int, Any, bool, str]], width: int, where: str
    ) -> tuple[list[Any], bool]:
        """Typed values (None where missing or bad) and whether all were good."""
        out: list[Any] = [None] * width
        ok = True
        for i, pos, conv, required, name in steps:
            try:
                v = conv(values[pos])
            except ValueError as exc:
                self.problems.add(f"{where}: {name}: {exc}")
                ok = False
                continue
            if v is None and required:
                self.problems.add(f"{where}: {name}: missing value")
                ok = False
            out[i] = v
        return out, ok

    @staticmethod
    def _where(reader: TableReader, line: int | None, key: str) -> str:
        return f"{reader.label}:{line}" if line is not None else f"{reader.label}[{key}]"

    @staticmethod
    def _raw(values: Sequence[Any], pos: int | None) -> str:
        if pos is None:
            return "?"
        v = values[pos]
        s = "" if v is None else str(v).strip()
        return s or "?"

    # -- instances -------------------------------------------------------------------------
    def _note_instance(
        self,
        identity: str,
        month: date,
        sub: str,
        ping: datetime | None,
        instance_type: str | None,
        version: str | None,
        billable: int | None,
        attrs: tuple[Any, ...],
    ) -> None:
        """Fold one usage row into its instance's summary.

        The latest row (by month, then ping, rows with a ping first, then subscription id) gives the
        attributes and the export's label; the latest row with a ping gives version and users.
        """
        latest = (month, ping is not None, ping or _NO_PING, sub)
        s = self.instances.get(identity)
        if s is None:
            if ping is None:  # version and users come from a row with a ping only
                self.instances[identity] = [latest, attrs, instance_type, month, month, None, None, None, None]
            else:
                pinged = (month, ping, sub)
                self.instances[identity] = [latest, attrs, instance_type, month, month, ping, pinged, version, billable]
            return
        if latest > s[0]:
            s[0], s[1], s[2] = latest, attrs, instance_type
        if month < s[3]:
            s[3] = month
        elif month > s[4]:
            s[4] = month
        if ping is not None:
            if s[5] is None or ping > s[5]:
                s[5] = ping
            pinged = (month, ping, sub)
            if s[6] is None or pinged > s[6]:
                s[6], s[7], s[8] = pinged, version, billable

    def instance_rows(self) -> Iterator[tuple[Any, ...]]:
        """One staging row per instance, in INSTANCE_STAGE order."""
        for identity, s in self.instances.items():
            yield (identity, *s[1], s[2] or "Unknown", s[3], s[4], s[5], s[7], s[8])

    # -- tables ----------------------------------------------------------------------------
    def _first_time(
        self, key: Any, line: int | None, where: str, seen: set[Any], lines: dict[Any, Any], column: str, noun: str
    ) -> bool:
        """Remember a key (account or subscription id) and its line; a repeat is a problem and False."""
        if key is None:
            return True
        if key in seen:
            first = lines.get(key)
            at = f" (first on line {first})" if first else ""
            self.problems.add(f"{where}: {column}: duplicate {noun} {key!r}{at}")
            return False
        seen.add(key)
        lines[key] = line
        return True

    def check_accounts(self, reader: TableReader) -> Iterator[tuple[Any, ...]]:
        plan = self._plan(reader, ACCOUNT_COLS)
        steps, width = self._steps(ACCOUNT_COLS, plan), len(ACCOUNT_COLS)
        for line, values in self._rows(reader):
            self.tally.accounts += 1
            where = self._where(reader, line, self._raw(values, plan[0]))
            row, ok = self._convert(values, steps, width, where)
            if not self._first_time(
                row[0], line, where, self._seen_accounts, self.accounts, "dim_crm_account_id", "account"
            ):
                continue
            if ok:
                yield (*row, name_key(row[1]))

    def check_subscriptions(self, reader: TableReader) -> Iterator[tuple[Any, ...]]:
        plan = self._plan(reader, SUBSCRIPTION_COLS)
        steps, width = self._steps(SUBSCRIPTION_COLS, plan), len(SUBSCRIPTION_COLS)
        for line, values in self._rows(reader):
            self.tally.subscriptions += 1
            where = self._where(reader, line, self._raw(values, plan[0]))
            row, ok = self._convert(values, steps, width, where)
            if not self._first_time(
                row[0],
                line,
                where,
                self._seen_subscriptions,
                self.subscriptions,
                "dim_subscription_id_original",
                "subscription",
            ):
                continue
            if row[2] is not None and row[2] not in self.accounts:
                self.problems.add(f"{where}: dim_crm_account_id: unknown account {row[2]!r}")
                continue
            if ok:
                yield tuple(row)

    def check_usage(self, reader: TableReader) -> Iterator[tuple[Any, ...]]:
        base_plan = self._plan(reader, USAGE_COLS)
        steps, width = self._steps(USAGE_COLS, base_plan), len(USAGE_COLS)
        scored_plan = self._plan(reader, SCORED_COLS)
        names = {c.name for c in USAGE_COLS + SCORED_COLS}
        # Extra columns: those named like metrics (…_28_days_user, …_all_time_event) are checked as numbers.
        # Any other extra column is allowed to hold anything (docs/data-contract.md): its non-negative numbers are
        # kept as metrics, whatever else it holds is ignored, never an error, whatever the row order.
        first_pos: dict[str, int] = {}
        for i, n in enumerate(reader.columns):
            if n and n not in names:
                first_pos.setdefault(n, i)
        # In the order of the file's metric layout (`extra_metric_columns`): a row stores its values as a JSON
        # list in that order, null for none, so the text is canonical (re-syncs compare it).
        extras: list[tuple[int, str]] = [(first_pos[n], n) for n in extra_metric_columns(reader.columns)]
        named: dict[str, bool] = {n: bool(METRIC_NAME.search(n)) for n in first_pos}
        self.tally.extra_metric_columns = [n for _, n in extras]
        scored: list[tuple[int, int, str]] = [
            (j, p, SCORED_COLS[j].name) for j, p in enumerate(scored_plan) if p is not None
        ]
        self.tally.metric_columns = sorted({name for _, _, name in scored} | set(first_pos))
        n_scored = len(SCORED_COLS)
        pos = {c.dest: base_plan[i] for i, c in enumerate(USAGE_COLS)}
        i_month, i_sub = pos["snapshot_month"], pos["subscription_id"]
        i_inst, i_uuid, i_host, i_ns = pos["installation_id"], pos["uuid"], pos["hostname"], pos["namespace_id"]
        i_delivery = pos["delivery_type"]
        # CSV values are text: every scored metric (when the file has them all) and every extra column
        # are picked out of a row by one C call, for the all-plain-digits check above.
        plain_scored = None
        if reader.is_csv and [j for j, _, _ in scored] == list(range(n_scored)) and n_scored > 1:
            plain_scored = itemgetter(*(p for _, p, _ in scored))
        plain_extras = itemgetter(*(i for i, _ in extras)) if reader.is_csv and len(extras) > 1 else None
        # An instance's rows come together and share most of their columns (account, subscription,
        # instance attributes): when those raw values equal the previous row's, which converted
        # without a problem, their typed values are taken over instead of converted again (about 16
        # converter calls a row). CSV only: its values are all text, so equal raw values are the same
        # input (a SQL source's 1 and True compare equal but convert differently).
        same_steps = [s for s in steps if USAGE_COLS[s[0]].dest in _INSTANCE_STEADY]
        same_get = itemgetter(*(p for _, p, *_ in same_steps)) if reader.is_csv and len(same_steps) > 1 else None
        if same_get is not None:
            other_steps = [s for s in steps if s not in same_steps]
            same_at = [i for i, *_ in same_steps]
        last_raw: Any = None
        last_typed: list[Any] = []
        as_of = self.tally.as_of_month
        seen = self._usage_keys
        problems = self.problems

        for line, values in self._rows(reader):
            self.tally.usage_rows += 1
            if line is not None:
                where = f"{reader.label}:{line}"
            else:
                raw_identity = _raw_identity(values, i_delivery, i_inst, i_uuid, i_host, i_ns)
                where = f"{reader.label}[{self._raw(values, i_month)}, {raw_identity}, {self._raw(values, i_sub)}]"
            if same_get is None:
                row, ok = self._convert(values, steps, width, where)
            elif (raw_same := same_get(values)) == last_raw:
                row, ok = self._convert(values, other_steps, width, where)
                for i, v in zip(same_at, last_typed, strict=True):
                    row[i] = v
            else:
                row, ok = self._convert(values, steps, width, where)
                last_raw, last_typed = (raw_same, [row[i] for i in same_at]) if ok else (None, [])

            # Metrics: the hot loop of a big sync. A CSV row's metrics are nearly always plain digits:
            # that is checked for all of them at once and they are converted by C calls; anything else
            # goes value by value below (plain float() first and the careful path on failure).
            metric_values: list[Any] | None = None
            if plain_scored is not None:
                ms = plain_scored(values)
                joined = "".join(ms)
                # (More than 300 digits would overflow to infinity: left to the value-by-value check.)
                if joined.isdigit() and joined.isascii() and max(map(len, ms)) < 300:
                    metric_values = [float(v) if v else None for v in ms]
            if metric_values is None:
                metric_values = [None] * n_scored
                for j, p, name in scored:
                    raw = values[p]
                    if raw is None or raw == "":
                        continue
                    try:
                        f = _metric_number(raw)
                    except ValueError as exc:
                        problems.add(f"{where}: {name}: {exc}")
                        ok = False
                        continue
                    metric_values[j] = f
            extra_json: str | None = None
            if plain_extras is not None:
                xs = plain_extras(values)
                joined = "".join(xs)
                if joined.isdigit() and joined.isascii() and not _LEADING_ZERO.search(",".join(xs)):
                    # Plain integers are canonical JSON as they are; an empty value is null.
                    extra_json = "[" + ",".join([x or "null" for x in xs]) + "]"
            if extra_json is None:
                parts: list[str] = []
                for i, n in extras:
                    raw = values[i]
                    if raw is None or raw == "":
                        parts.append("null")
                        continue
                    # Most metric values are plain non-negative integers: already valid, canonical JSON.
                    if raw.__class__ is str and raw.isdigit() and raw.isascii() and (raw[0] != "0" or len(raw) == 1):
                        parts.append(raw)
                        continue
                    try:
                        f = _metric_number(raw)
                    except ValueError as exc:
                        if named[n]:  # a metric: a bad or negative count is an error here too
                            problems.add(f"{where}: {n}: {exc}")
                            ok = False
                        parts.append("null")
                        continue
                    if f is None:
                        parts.append("null")
                        continue
                    parts.append(str(int(f)) if f.is_integer() and abs(f) < 2**53 else repr(f))
                extra_json = "[" + ",".join(parts) + "]"
            (month, account, sub, version, delivery, deployment, inst, uuid, host, inst_created, ns, ns_name,
             ns_created) = row[:13]  # fmt: skip
            if month is not None and month.day != 1:
                problems.add(f"{where}: snapshot_month: {month.isoformat()} is not the first day of a month")
                ok = False
            if account is not None and account not in self.accounts:
                problems.add(f"{where}: dim_crm_account_id: unknown account {account!r}")
                ok = False
            if sub is not None and sub not in self.subscriptions:
                problems.add(f"{where}: dim_subscription_id_original: unknown subscription {sub!r}")
                ok = False
            if delivery is None:
                continue  # already reported; the identity rule depends on it
            if delivery == "SaaS":
                if ns is None:
                    problems.add(f"{where}: dim_namespace_id: missing value (a SaaS row needs dim_namespace_id)")
                    continue
                identity = f"saas:{ns}"
                created = ns_created
            else:
                if inst is not None:
                    identity = f"sm:{inst}"
                elif uuid is not None and host is not None:
                    identity = f"sm:{uuid}|{host}"
                else:
                    problems.add(
                        f"{where}: dim_installation_id: missing value"
                        " (a self-managed row needs dim_installation_id, or uuid and hostname)"
                    )
                    continue
                created = inst_created
            if month is None or sub is None:
                continue  # already reported; no key to check for duplicates
            if not seen.add(hash((month, identity, sub))):
                problems.add(
                    f"{where}: dim_subscription_id_original: duplicate row for"
                    f" ({month.isoformat()}, {identity}, {sub}): an earlier row has the same key"
                )
                continue
            if not ok:
                continue
            if as_of is None or month > as_of:
                as_of = self.tally.as_of_month = month
            ping = row[13]
            self._note_instance(
                identity, month, sub, ping, row[17], row[14], row[21],
                (account, delivery, deployment, inst, uuid, host, ns, ns_name, created),
            )  # fmt: skip
            yield (
                identity,
                month,
                account,
                sub,
                version,
                delivery,
                deployment,
                inst,
                uuid,
                host,
                ns,
                ns_name,
                *row[13:],
                created,
                *metric_values,
                extra_json,
            )


# Usage columns that stay the same over an instance's rows (see `check_usage`).
_INSTANCE_STEADY = frozenset(
    {
        "account_id",
        "subscription_id",
        "subscription_version_id",
        "delivery_type",
        "deployment_type",
        "installation_id",
        "uuid",
        "hostname",
        "installation_creation_date",
        "namespace_id",
        "namespace_name",
        "namespace_creation_date",
        "license_md5",
        "license_mapped",
        "instance_type",
        "included_in_health",
        "license_user_count_source",
    }
)

_INF = float("inf")
# A number with a leading zero ("007") is not canonical JSON: such rows take the value-by-value path.
_LEADING_ZERO = re.compile(r"(?:^|,)0[0-9]")


def _metric_number(raw: Any) -> float | None:
    """A metric value as a number (None: empty, as `to_metric` reads it); ValueError says what is wrong."""
    try:
        f = float(raw)
    except (TypeError, ValueError):
        metric = to_metric(raw)
        if metric is None:
            return None
        f = metric
    if not 0 <= f < _INF:
        raise ValueError(_bad_metric(raw, f))
    return f


def _bad_metric(raw: Any, f: float) -> str:
    if f != f or abs(f) == _INF:
        return f"bad number {str(raw).strip()!r}"
    return f"negative count {str(raw).strip()}"


_NO_PING = datetime.min.replace(tzinfo=UTC)


def _clean(values: Sequence[Any], pos: int | None) -> str | None:
    if pos is None:
        return None
    v = values[pos]
    s = "" if v is None else str(v).strip()
    return s or None


def _raw_identity(
    values: Sequence[Any],
    i_delivery: int | None,
    i_inst: int | None,
    i_uuid: int | None,
    i_host: int | None,
    i_ns: int | None,
) -> str:
    """The instance identity as best the raw values tell it (to locate a problem in a SQL source)."""
    delivery = (_clean(values, i_delivery) or "").lower()
    if delivery == "saas":
        return f"saas:{_clean(values, i_ns) or '?'}"
    inst = _clean(values, i_inst)
    if inst:
        return f"sm:{inst}"
    return f"sm:{_clean(values, i_uuid) or '?'}|{_clean(values, i_host) or '?'}"
