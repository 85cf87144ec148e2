"""What one account-month's stored score is computed from, as one digest.

A stored row is `compute_report` (plus the Unknown-instance count) of: the account, its subscriptions, its
instances, the rows of the trend window ending with the month, the month's newest version, the export's
columns and the rules (their fingerprint). The digest covers every field of each of them, generically over
the dataclasses' fields so that a field added later is covered too. A rescore after a sync scores again only
the account-months whose digest changed: a month's inputs are the same unless something it reads changed.

Two instance summaries move with every sync, for every instance, and a month reads them only partly; they
enter the digest as what a month's score reads of them (`scoring.flags.latest_pings`, the window checks of
`scoring.report` and `scoring.stored.unknown_instance_count`):
- `last_ping_at`: only a ping before the end of the month counts, so a later one reads as none;
- `last_seen_month`: only compared with the window's first month and the month itself.
Everything else is taken whole: an upgrade (`last_version`), a relabel or a changed row scores again every
month it can reach.
"""

from __future__ import annotations

import hashlib
import pickle
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import fields
from datetime import UTC, date, datetime
from operator import attrgetter
from typing import Any

from scoring.flags import end_of_month_instant
from scoring.model import AccountInfo, InstanceInfo, SubscriptionInfo, UsageRow
from scoring.trends import add_months

# Bumped when what the digest covers changes, so every stored row reads as changed once.
INPUTS_FORMAT = 3
_CLAMPED = ("last_ping_at", "last_seen_month")


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _plain(value: Any) -> Any:
    # Mappings in key order: a dict built by iterating a set has no order to rely on across processes.
    if isinstance(value, Mapping):
        return tuple(sorted(value.items()))
    if isinstance(value, list | set | frozenset):
        return tuple(sorted(value, key=repr)) if isinstance(value, set | frozenset) else tuple(value)
    return value


_SIMPLE: frozenset[type] = frozenset({str, int, float, bool, type(None), date, datetime})
_GETTERS: dict[tuple[type, tuple[str, ...]], Callable[[Any], tuple[Any, ...]]] = {}


def _getter(cls: type, skip: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    got = _GETTERS.get((cls, skip))
    if got is None:
        names = [n for n in _names(cls) if n not in skip]
        many = attrgetter(*names)
        got = _GETTERS[(cls, skip)] = many if len(names) > 1 else (lambda obj: (many(obj),))
    return got


def _fields(obj: Any, skip: tuple[str, ...] = ()) -> tuple[Any, ...]:
    # Plain values as they are (this runs for every usage row of every account on each sync).
    return tuple(v if type(v) in _SIMPLE else _plain(v) for v in _getter(type(obj), skip)(obj))


def _dump(value: Any) -> bytes:
    return pickle.dumps(value, protocol=5)


def _row_key(r: UsageRow) -> tuple[int, str]:
    return (r.instance_id, r.subscription_id)


def _rows_digest(rows: list[UsageRow]) -> bytes:
    rows.sort(key=_row_key)
    keys = [_row_key(r) for r in rows]
    if len(set(keys)) == len(keys):
        ordered = [_fields(r) for r in rows]
    else:
        ordered = [t for _, t in sorted(((_dump(t), t) for t in map(_fields, rows)), key=lambda p: p[0])]
    return hashlib.blake2b(_dump(ordered), digest_size=16).digest()


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


class AccountInputs:
    """One account's inputs, serialised once; `digest(month, …)` combines those of one month's window."""

    def __init__(
        self,
        account: AccountInfo,
        subscriptions: Sequence[SubscriptionInfo],
        instances: Mapping[int, InstanceInfo],
        rows: Sequence[UsageRow],
    ) -> None:
        # Each month's rows as one digest, in a defined order (a month's rows may come in any order: sorted by
        # their key, instance and subscription, then by their serialised fields should a key repeat); a window
        # then combines at most `trend_months` of them. One serialisation per month, not per row: this runs
        # for every usage row of every account on each sync.
        by_month: dict[date, list[UsageRow]] = {}
        for r in rows:
            by_month.setdefault(r.snapshot_month, []).append(r)
        self.months = sorted(by_month)
        self.month_digests = [_rows_digest(by_month[m]) for m in self.months]
        self.static = _dump((INPUTS_FORMAT, _fields(account), tuple(_fields(s) for s in subscriptions)))
        self.instances = [
            (i, _fields(inst, _CLAMPED), inst.last_ping_at, inst.last_seen_month)
            for i, inst in sorted(instances.items())
        ]

    def digest(self, month: date, trend_months: int, shared: bytes) -> str:
        """The digest of `month` (its trend window's rows); `shared` = `shared_inputs(...)` of the month."""
        end = end_of_month_instant(month)
        start = add_months(month, -(trend_months - 1))
        lo, hi = bisect_left(self.months, start), bisect_right(self.months, month)
        clamped = []
        for i, whole, ping, seen in self.instances:
            ping_read = _aware(ping) if ping is not None and _aware(ping) < end else None
            seen_read = None if seen is None else ("before" if seen < start else "in" if seen <= month else "after")
            clamped.append((i, whole, ping_read, seen_read))
        h = hashlib.blake2b(digest_size=16)
        h.update(shared)
        h.update(self.static)
        h.update(_dump((month, tuple(clamped), tuple(self.months[lo:hi]))))
        h.update(b"".join(self.month_digests[lo:hi]))
        return h.hexdigest()


def shared_inputs(fingerprint: str, newest_version: str | None, exported: Collection[str] | None) -> bytes:
    """What every account's score of a month shares: the rules, the month's newest version, the export's columns."""
    return _dump((fingerprint, newest_version, None if exported is None else tuple(sorted(exported))))
