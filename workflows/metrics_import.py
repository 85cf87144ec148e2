"""Import Metrics Dictionary definitions: a folder (recursive *.yml), one file, or a YAML list of definitions.

Files are read and checked first (a bad file is reported and skipped, never aborting the rest), then
all definitions are upserted by key_path in batches within the caller's session. Re-importing the
same dictionary changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from db.models.base import utcnow
from db.models.metrics import METRIC_STATUSES, MetricImport
from db.queries import metrics as queries
from db.session import session_scope
from workflows.ports import SlackEdge
from workflows.settings import Settings

log = logging.getLogger("usagebot.metrics_import")

# The bundled sample of real definitions, for `usagebot demo` and fresh clones without ../shared.
SAMPLE_PATH = Path(__file__).parent / "data" / "metrics_sample"

TIME_FRAMES = ("7d", "28d", "all", "none")
MAX_FILE_BYTES = 1_000_000  # a definition is a few hundred bytes; anything huge is not one
MAX_KEY_PATH = 512

try:  # libyaml parses the 3,681 files several times faster than the pure-Python loader
    _Loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


class MetricsImportError(Exception):
    """The import could not start at all (missing path); nothing was changed."""


class InvalidDefinition(ValueError):
    """One definition is unusable; the message says why, in words a person can act on."""


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str


@dataclass(frozen=True)
class Duplicate:
    key_path: str
    kept: str
    dropped: str
    reason: str


@dataclass
class ImportResult:
    source: str
    files: int = 0
    definitions: int = 0  # valid definitions read (duplicates included)
    by_status: dict[str, int] = field(default_factory=dict)  # of the valid definitions read
    health_metrics: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    broken: list[Problem] = field(default_factory=list)  # status "broken": key path and file
    seconds: float = 0.0

    @property
    def stored(self) -> int:
        """Distinct key paths written or confirmed by this import."""
        return self.inserted + self.updated + self.unchanged


@dataclass
class _Read:
    """Definitions read from files, before the upsert."""

    definitions: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0


def import_definitions(session: Session, path: str | Path) -> ImportResult:
    """Read every definition under `path` and upsert them by key_path. The caller commits."""
    started = time.perf_counter()
    root = Path(path).expanduser()
    if not root.exists():
        raise MetricsImportError(f"no such file or folder: {root}")
    read = read_definitions(root)
    result = ImportResult(source=str(root), files=read.files, problems=read.problems)
    result.definitions = len(read.definitions)
    statuses = Counter(d["status"] for d in read.definitions)
    result.by_status = {status: statuses.get(status, 0) for status in METRIC_STATUSES}
    result.health_metrics = sum(1 for d in read.definitions if d["is_health_metric"])
    result.broken = [Problem(d["source_path"], d["key_path"]) for d in read.definitions if d["status"] == "broken"]
    chosen, result.duplicates = _resolve_duplicates(read.definitions)
    _upsert(session, chosen, result)
    result.seconds = time.perf_counter() - started
    queries.record_import(
        session,
        MetricImport(
            source=result.source,
            files=result.files,
            definitions=result.definitions,
            inserted=result.inserted,
            updated=result.updated,
            unchanged=result.unchanged,
            problems=len(result.problems),
            dictionary_hash=queries.dictionary_hash(session),
        ),
    )
    return result


def read_definitions(root: Path) -> _Read:
    """Parse and check every file; a folder is searched recursively for *.yml (and *.yaml)."""
    read = _Read()
    if root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
        base = root
    else:
        files, base = [root], root.parent
    for file in files:
        read.files += 1
        rel = file.relative_to(base).as_posix()
        try:
            documents = _load(file)
        except InvalidDefinition as exc:
            read.problems.append(Problem(rel, str(exc)))
            continue
        entries = _entries(documents)
        if isinstance(entries, str):
            read.problems.append(Problem(rel, entries))
            continue
        for index, data in entries:
            where = rel if index is None else f"{rel}[{index}]"
            try:
                read.definitions.append(parse_definition(data, where))
            except InvalidDefinition as exc:
                read.problems.append(Problem(where, str(exc)))
    return read


def _load(file: Path) -> list[Any]:
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise InvalidDefinition(f"file larger than {MAX_FILE_BYTES // 1_000_000} MB")
        raw = file.read_bytes()
        return [doc for doc in yaml.load_all(raw, Loader=_Loader) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        raise InvalidDefinition(f"not valid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidDefinition(f"cannot be read: {exc.__class__.__name__}") from None


def _entries(documents: list[Any]) -> list[tuple[int | None, Any]] | str:
    """The definitions a file holds: one mapping, a list of them, or several YAML documents."""
    if not documents:
        return "empty file"
    if len(documents) == 1 and isinstance(documents[0], list):
        if not documents[0]:
            return "empty list"
        return list(enumerate(documents[0]))
    if len(documents) == 1:
        return [(None, documents[0])]
    return list(enumerate(documents))


def parse_definition(data: Any, source_path: str) -> dict[str, Any]:
    """A definition as a row of metric_definitions, or InvalidDefinition saying what is wrong."""
    if not isinstance(data, dict):
        raise InvalidDefinition(f"not a metric definition (a YAML {_kind(data)}, expected a mapping)")
    key_path = data.get("key_path")
    if not isinstance(key_path, str) or not key_path.strip():
        raise InvalidDefinition("missing key_path")
    key_path = key_path.strip()
    if len(key_path) > MAX_KEY_PATH:
        raise InvalidDefinition(f"key_path longer than {MAX_KEY_PATH} characters")
    status = data.get("status")
    if status is None:
        raise InvalidDefinition("missing status")
    if status not in METRIC_STATUSES:
        raise InvalidDefinition(f"unknown status {str(status)[:40]!r} (expected active, removed or broken)")
    description = data.get("description")
    if description is None:
        description = ""
    if not isinstance(description, str):
        raise InvalidDefinition("description is not text")
    indicators = _strings(data.get("performance_indicator_type"))
    row: dict[str, Any] = {
        "key_path": key_path,
        "description": description.strip(),
        "product_group": _text(data.get("product_group"), 128),
        "product_categories": _strings(data.get("product_categories")),
        "time_frames": _time_frames(data.get("time_frame")),
        "data_source": _text(data.get("data_source"), 32),
        "data_category": _text(data.get("data_category"), 32),
        "status": status,
        "tiers": _strings(data.get("tiers")),
        "performance_indicator_types": indicators,
        "is_health_metric": "customer_health_score" in indicators,
        "milestone": _text(data.get("milestone"), 32),
        "milestone_removed": _text(data.get("milestone_removed"), 32),
        "events": _event_names(data),
        "value_type": _text(data.get("value_type"), 16),
        "instrumentation_class": _text(data.get("instrumentation_class"), 255),
        "source_path": source_path,
    }
    row["content_hash"] = hashlib.sha256(json.dumps(row, sort_keys=True).encode()).hexdigest()
    return row


def _kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def _text(value: Any, limit: int) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text[:limit] or None


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [str(item) for item in value if isinstance(item, str | int | float) and str(item).strip()]
    return []


def _time_frames(value: Any) -> list[str]:
    frames = [value] if isinstance(value, str) else value
    if not isinstance(frames, list) or not frames:
        raise InvalidDefinition("missing time_frame")
    bad = [str(f) for f in frames if f not in TIME_FRAMES]
    if bad:
        raise InvalidDefinition(f"unknown time_frame {bad[0][:20]!r} (expected 7d, 28d, all or none)")
    return list(dict.fromkeys(frames))


def _event_names(data: dict[str, Any]) -> list[str]:
    """Internal event names (`events: [{name: …}]`) and Redis HLL events (`options.events: […]`)."""
    names: list[str] = []
    for event in data.get("events") or []:
        if isinstance(event, dict) and isinstance(event.get("name"), str):
            names.append(event["name"])
        elif isinstance(event, str):
            names.append(event)
    options = data.get("options")
    if isinstance(options, dict) and isinstance(options.get("events"), list):
        names.extend(e for e in options["events"] if isinstance(e, str))
    return list(dict.fromkeys(names))


_MILESTONE = re.compile(r"(\d+)\.(\d+)")


def _milestone(value: str | None) -> tuple[int, int]:
    match = _MILESTONE.search(value or "")
    return (int(match.group(1)), int(match.group(2))) if match else (-1, -1)


def _resolve_duplicates(definitions: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Duplicate]]:
    """One definition per key_path: the active one, else the later milestone, else the later file."""
    chosen: dict[str, dict[str, Any]] = {}
    duplicates: list[Duplicate] = []
    for new in definitions:
        old = chosen.get(new["key_path"])
        if old is None:
            chosen[new["key_path"]] = new
            continue
        if (old["status"] == "active") != (new["status"] == "active"):
            keep, drop = (old, new) if old["status"] == "active" else (new, old)
            reason = "the active one"
        elif _milestone(old["milestone"]) != _milestone(new["milestone"]):
            keep, drop = (old, new) if _milestone(old["milestone"]) > _milestone(new["milestone"]) else (new, old)
            reason = f"the later milestone ({keep['milestone']})"
        else:
            keep, drop, reason = new, old, "the later file"
        chosen[new["key_path"]] = keep
        duplicates.append(Duplicate(new["key_path"], keep["source_path"], drop["source_path"], reason))
    return list(chosen.values()), duplicates


def _upsert(session: Session, definitions: list[dict[str, Any]], result: ImportResult) -> None:
    existing = queries.existing_hashes(session)
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in definitions:
        found = existing.get(row["key_path"])
        if found is None:
            inserts.append({**row, "updated_at": now})
        elif found[1] != row["content_hash"]:
            updates.append({**row, "id": found[0], "updated_at": now})
        else:
            result.unchanged += 1
    queries.insert_definitions(session, inserts)
    queries.update_definitions(session, updates)
    result.inserted, result.updated = len(inserts), len(updates)


def scheduled_import(settings: Settings, _edge: SlackEdge | None = None) -> ImportResult | None:
    """The scheduler's weekly job: re-import `METRICS_DICTIONARY_PATH` when it is set (no Slack needed)."""
    if not settings.metrics_dictionary_path:
        log.info("metrics re-import skipped: METRICS_DICTIONARY_PATH is not set")
        return None
    with session_scope(settings.database_url) as session:
        result = import_definitions(session, settings.metrics_dictionary_path)
    log.info(
        "metrics re-import from %s: %d inserted, %d updated, %d unchanged, %d problems",
        result.source,
        result.inserted,
        result.updated,
        result.unchanged,
        len(result.problems),
    )
    return result
