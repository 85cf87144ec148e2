"""Where an export comes from: a folder of CSV files, or tables in any SQLAlchemy database.

Both give the same thing per table: lower-cased column names and a stream of rows, each with its
CSV line number (or None for SQL, where problems are located by the row's key instead).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Date, DateTime, column, create_engine, func, inspect, select, table
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from workflows.secrets import redact, safe_url

# Rows are read in batches of this size from SQL sources, so memory stays flat.
SQL_BATCH = 5_000
# Long text fields (e.g. a dumped JSON blob in an extra column) must not stop a sync.
csv.field_size_limit(64 * 1024 * 1024)


def batched(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    """`rows` in lists of `size` (the last one shorter)."""
    while chunk := list(islice(rows, size)):
        yield chunk


class SourceError(Exception):
    """The source cannot be read at all (folder or database missing, unreachable)."""


@dataclass
class TableReader:
    label: str  # how problems name this table: "accounts.csv" or "accounts"
    is_csv: bool
    columns: list[str]
    rows: Iterator[tuple[int | None, Sequence[Any]]]
    total: int | None = None  # for progress: bytes (CSV) or rows (SQL)
    position: Any = field(default=None)  # callable -> progress so far, in the unit of `total`


TABLES: tuple[str, ...] = ("accounts", "subscriptions", "usage_monthly")


class Export(Protocol):
    description: str

    def table(self, name: str) -> AbstractContextManager[TableReader | str]:
        """The table's reader, or a one-line problem when it is absent."""
        ...

    def fingerprint(self) -> str:
        """Changes whenever the export's content may have changed (the scheduled sync skips an unchanged one)."""
        ...


class CsvExport:
    """`accounts.csv`, `subscriptions.csv`, `usage_monthly.csv` in one folder (UTF-8, RFC 4180)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceError(
                f"{self.folder} is not a folder (expected accounts.csv, subscriptions.csv, usage_monthly.csv)"
            )
        self.description = str(self.folder.resolve())

    def fingerprint(self) -> str:
        """sha256 of the three files' bytes (a copy with new timestamps but the same content is unchanged)."""
        digest = hashlib.sha256()
        for name in TABLES:
            path = self.folder / f"{name}.csv"
            digest.update(f"{name}\0".encode())
            if not path.is_file():
                digest.update(b"missing\0")
                continue
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
            digest.update(b"\0")
        return digest.hexdigest()

    @contextmanager
    def table(self, name: str) -> Iterator[TableReader | str]:
        path = self.folder / f"{name}.csv"
        label = path.name
        if not path.is_file():
            yield f"{label}: file not found in {self.folder}"
            return
        raw = path.open("rb")
        try:
            # Undecodable bytes become lone surrogates, found per record below, so the problem is reported at
            # its own line and reading goes on (a strict decoder fails a whole buffered block at once).
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
            reader = csv.reader(text)
            try:
                header = next(reader)
            except StopIteration:
                yield f"{label}:1: -: the file is empty (expected a header row)"
                return
            except UnicodeDecodeError:
                yield f"{label}:1: -: not valid UTF-8"
                return
            if not _decodes(header):
                yield f"{label}:1: -: not valid UTF-8"
                return
            columns = [h.strip().lower() for h in header]
            yield TableReader(
                label=label,
                is_csv=True,
                columns=columns,
                rows=_csv_rows(reader, label),
                total=path.stat().st_size,
                position=raw.tell,
            )
        finally:
            raw.close()


class CsvDecodeError(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(f"not valid UTF-8 at line {line}")
        self.line = line


class Undecodable(list[str]):
    """A CSV record holding bytes that are not UTF-8: reported as a problem of its line, never loaded."""


def _decodes(row: list[str]) -> bool:
    joined = "".join(row)
    if joined.isascii():
        return True
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _csv_rows(reader: Any, label: str) -> Iterator[tuple[int | None, Sequence[Any]]]:
    last = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise CsvDecodeError(last + 1) from None
        except csv.Error as exc:
            raise CsvDecodeError(last + 1) from exc
        # A record may span several physical lines (quoted newlines): report its first one.
        start = last + 1
        last = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        yield start, (row if _decodes(row) else Undecodable(row))


class SqlExport:
    """Tables (or views) named accounts, subscriptions, usage_monthly in any SQLAlchemy database."""

    def __init__(self, url: str, schema: str | None = None, engine: Engine | None = None) -> None:
        try:
            self.engine = engine or create_engine(url)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise SourceError(f"cannot open {_safe(url)}: {redact(str(exc))}") from None
        self.schema = schema
        self.description = _safe(url) + (f" (schema {schema})" if schema else "")
        try:
            insp = inspect(self.engine)
            names = insp.get_table_names(schema=schema) + insp.get_view_names(schema=schema)
        except SQLAlchemyError as exc:
            raise SourceError(f"cannot read {self.description}: {_reason(exc)}") from None
        # Snowflake and others upper-case unquoted names: match case-insensitively.
        self._names = {n.lower(): n for n in names}

    @contextmanager
    def table(self, name: str) -> Iterator[TableReader | str]:
        real = self._names.get(name)
        if real is None:
            yield f"{name}: table not found in {self.description}"
            return
        try:
            # Column names only: full reflection asks dialect-specific catalog questions (comments,
            # constraints) that some engines, DuckDB among them, cannot answer.
            names = [c["name"] for c in inspect(self.engine).get_columns(real, schema=self.schema)]
            source = table(real, *(column(n) for n in names), schema=self.schema)
            conn = self.engine.connect()
        except SQLAlchemyError as exc:
            raise SourceError(f"cannot read {name} from {self.description}: {_reason(exc)}") from None
        try:
            total = conn.execute(select(func.count()).select_from(source)).scalar_one()
            done = [0]
            yield TableReader(
                label=name,
                is_csv=False,
                columns=[n.lower() for n in names],
                rows=_sql_rows(conn, source, done, name, self.description),
                total=int(total),
                position=lambda: done[0],
            )
        except SQLAlchemyError as exc:
            raise SourceError(f"cannot read {name} from {self.description}: {_reason(exc)}") from None
        finally:
            conn.close()

    def fingerprint(self) -> str:
        """sha256 of one cheap query per table: its columns, row count and the latest value of each date or
        time column (warehouse tables carry a snapshot month or a load timestamp that moves with each refresh)."""
        digest = hashlib.sha256()
        insp = inspect(self.engine)
        try:
            with self.engine.connect() as conn:
                for name in TABLES:
                    real = self._names.get(name)
                    digest.update(f"{name}\0".encode())
                    if real is None:
                        digest.update(b"missing\0")
                        continue
                    cols = insp.get_columns(real, schema=self.schema)
                    source = table(real, *(column(c["name"]) for c in cols), schema=self.schema)
                    timed = [c["name"] for c in cols if isinstance(c["type"], (Date, DateTime))]
                    query = select(func.count(), *(func.max(source.c[n]) for n in timed)).select_from(source)
                    row = conn.execute(query).one()
                    digest.update(repr(([c["name"].lower() for c in cols], tuple(row))).encode())
        except SQLAlchemyError as exc:
            raise SourceError(f"cannot read {self.description}: {_reason(exc)}") from None
        return digest.hexdigest()

    def close(self) -> None:
        self.engine.dispose()


def _reason(exc: SQLAlchemyError) -> str:
    return redact(f"{exc.__class__.__name__}: {getattr(exc, 'orig', None) or exc}".splitlines()[0])


def _sql_rows(
    conn: Any, source: Any, done: list[int], name: str, description: str
) -> Iterator[tuple[int | None, Sequence[Any]]]:
    try:
        result = conn.execution_options(yield_per=SQL_BATCH).execute(select(source))
        for batch in result.partitions(SQL_BATCH):
            for row in batch:
                yield None, row
            done[0] += len(batch)
    except SQLAlchemyError as exc:
        # The source failed mid-read: not the target database's fault, and not a row problem.
        raise SourceError(f"cannot read {name} from {description}: {_reason(exc)}") from None


def _safe(url: str) -> str:
    """The URL without its secrets (user info password, secret query parameters): sync sources are printed and
    stored."""
    return safe_url(url)
