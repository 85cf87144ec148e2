"""Queries over the Metrics Dictionary tables: batch upsert for the import, reads for search and dialogs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from db.models.metrics import MetricDefinition, MetricImport

# Rows per executemany batch: large enough to be fast, small enough for PostgreSQL's parameter limit.
BATCH = 500


def existing_hashes(session: Session) -> dict[str, tuple[int, str]]:
    """key_path -> (id, content_hash) of every stored definition, in one query."""
    rows = session.execute(select(MetricDefinition.key_path, MetricDefinition.id, MetricDefinition.content_hash))
    return {key: (row_id, digest) for key, row_id, digest in rows}


def insert_definitions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        session.execute(insert(MetricDefinition), list(rows[start : start + BATCH]))


def update_definitions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk update by primary key: every row dict carries its `id`."""
    for start in range(0, len(rows), BATCH):
        session.execute(update(MetricDefinition), list(rows[start : start + BATCH]))


def dictionary_hash(session: Session) -> str:
    """A hash of everything stored: equal hashes mean an identical dictionary."""
    digest = hashlib.sha256()
    rows = session.execute(
        select(MetricDefinition.key_path, MetricDefinition.content_hash).order_by(MetricDefinition.key_path)
    )
    for key, content in rows:
        digest.update(f"{key}\0{content}\n".encode())
    return digest.hexdigest()


def record_import(session: Session, run: MetricImport) -> None:
    session.add(run)
    session.flush()


def current_version(session: Session) -> str | None:
    """The dictionary hash of the latest import (None before any): what invalidates search indexes."""
    return session.execute(
        select(MetricImport.dictionary_hash).order_by(MetricImport.id.desc()).limit(1)
    ).scalar_one_or_none()


def all_definitions(session: Session) -> list[MetricDefinition]:
    return list(session.scalars(select(MetricDefinition).order_by(MetricDefinition.key_path)))


def get_definition(session: Session, key_path: str) -> MetricDefinition | None:
    return session.scalars(select(MetricDefinition).where(MetricDefinition.key_path == key_path)).one_or_none()


def get_definition_ignoring_case(session: Session, key_path: str) -> MetricDefinition | None:
    """The definition whose key path is `key_path` in any letter case (key paths are lower case)."""
    found = session.scalars(
        select(MetricDefinition).where(func.lower(MetricDefinition.key_path) == key_path.lower()).limit(1)
    )
    return found.first()


def counts_by_status(session: Session) -> dict[str, int]:
    status = MetricDefinition.status
    rows = session.execute(select(status, func.count()).group_by(status).order_by(status))
    return {status: count for status, count in rows}


def product_groups(session: Session) -> list[str]:
    """Product groups of active definitions, for the metric-request dialog's product area choice."""
    rows = session.scalars(
        select(MetricDefinition.product_group)
        .where(MetricDefinition.status == "active", MetricDefinition.product_group.is_not(None))
        .distinct()
        .order_by(MetricDefinition.product_group)
    )
    return [group for group in rows if group]


def descriptions(session: Session, key_paths: Iterable[str]) -> dict[str, str]:
    """key path -> its Metrics Dictionary description, for the key paths imported (others are absent)."""
    wanted = sorted(set(key_paths))
    if not wanted:
        return {}
    rows = session.execute(
        select(MetricDefinition.key_path, MetricDefinition.description).where(MetricDefinition.key_path.in_(wanted))
    )
    return {k: (d or "").strip() for k, d in rows if (d or "").strip()}
