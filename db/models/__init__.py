"""Typed ORM models. Every module here registers its tables on `Base.metadata`."""

from db.models.base import Base
from db.models.digest import DigestDelivery, DigestRun, SchedulerLease, SlackUserCache
from db.models.home import HomeViewer
from db.models.metrics import MetricDefinition, MetricImport
from db.models.quality import AlertMute, AlertRecord, DataIssue
from db.models.requests import GitLabFiling, MetricRequest, MetricRequestRequester
from db.models.schedule import SyncSource
from db.models.scores import AccountScore
from db.models.usage import (
    SCORED_METRIC_COLUMNS,
    Account,
    Instance,
    LabelChange,
    MetricLayout,
    Subscription,
    SyncRun,
    UsageMonthly,
)

__all__ = [
    "SCORED_METRIC_COLUMNS",
    "Account",
    "AccountScore",
    "AlertMute",
    "AlertRecord",
    "Base",
    "DataIssue",
    "DigestDelivery",
    "DigestRun",
    "GitLabFiling",
    "HomeViewer",
    "Instance",
    "LabelChange",
    "MetricDefinition",
    "MetricImport",
    "MetricLayout",
    "MetricRequest",
    "MetricRequestRequester",
    "SchedulerLease",
    "SlackUserCache",
    "Subscription",
    "SyncRun",
    "SyncSource",
    "UsageMonthly",
]
