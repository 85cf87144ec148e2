"""Warehouse sync (docs/data-contract.md): validate every row, then load in one transaction, then record the run.

from workflows.sync import CsvExport, SqlExport, sync_export
result = sync_export(CsvExport("export/"), database_url)
"""

import os

# Arrow (the columnar first load, columnar.py) allocates from jemalloc, which hands freed memory back to the
# system: Arrow's default allocator keeps it for reuse, and the sync's scoring step forks its workers from
# this process (at 20,000 accounts all processes together peaked at 585 MiB, 331 MiB with jemalloc). Read
# once, when Arrow first allocates, so it is set before any submodule imports it; an operator's own setting
# wins, and an Arrow built without jemalloc warns and keeps its default.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")

from workflows.sync.run import Progress, SyncFailed, SyncResult, sync_export
from workflows.sync.sources import CsvExport, Export, SourceError, SqlExport

__all__ = [
    "CsvExport",
    "Export",
    "Progress",
    "SourceError",
    "SqlExport",
    "SyncFailed",
    "SyncResult",
    "sync_export",
]
