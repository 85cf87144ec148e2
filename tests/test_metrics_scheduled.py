"""The scheduler's weekly Metrics Dictionary re-import."""

from __future__ import annotations

from sqlalchemy import func, select

from db.models.metrics import MetricDefinition
from db.session import session_scope
from workflows.metrics_import import SAMPLE_PATH, scheduled_import
from workflows.scheduler import PERIODIC_JOBS
from workflows.settings import Settings


def test_weekly_reimport_is_registered() -> None:
    job = next(j for j in PERIODIC_JOBS if j.job_id == "metrics_reimport")
    assert job.target == "workflows.metrics_import:scheduled_import"


def test_reimport_reads_the_configured_folder_and_is_idempotent(settings: Settings) -> None:
    assert scheduled_import(settings) is None  # not configured: nothing to do
    configured = settings.model_copy(update={"metrics_dictionary_path": str(SAMPLE_PATH)})
    first = scheduled_import(configured)
    assert first is not None and first.inserted > 100 and not first.problems
    second = scheduled_import(configured)
    assert second is not None and second.inserted == 0 and second.updated == 0
    with session_scope(settings.database_url) as s:
        assert s.scalar(select(func.count()).select_from(MetricDefinition)) == first.inserted
