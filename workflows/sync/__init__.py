"""Warehouse sync (docs/data-contract.md): validate every row, then load in one transaction, then record the run.

from workflows.sync import CsvExport, SqlExport, sync_export
result = sync_export(CsvExport("export/"), database_url)
"""

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
