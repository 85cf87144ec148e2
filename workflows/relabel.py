"""Relabelling an instance: who may, and one compare-and-set transaction with its history row.

The click carries what the person saw (label and `label_version`). The UPDATE only applies if the
version is unchanged, so double clicks and concurrent clicks leave one consistent state; the
history row is written in the same transaction, so history is exactly the changes that happened.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import Account, Instance, LabelChange
from db.models.usage import LABELS
from db.session import rows_changed
from workflows.policy import may_act_on_account
from workflows.scores import rescore

TARGET_LABELS: tuple[str, ...] = tuple(label for label in LABELS if label != "Unknown")


GEO_SECONDARY = "Geo Secondary Node"
# Deployments that are GitLab's own multi-tenant service: a namespace there has no Geo replica of its own.
_NO_GEO_DEPLOYMENTS = ("gitlab.com", "saas")


def applicable_labels(deployment_type: str | None) -> tuple[str, ...]:
    """The labels a person may give an instance of this deployment type (no Geo for GitLab.com namespaces)."""
    if (deployment_type or "").strip().casefold() in _NO_GEO_DEPLOYMENTS:
        return tuple(t for t in TARGET_LABELS if t != GEO_SECONDARY)
    return TARGET_LABELS


@dataclass(frozen=True)
class InstanceState:
    id: int
    name: str  # hostname, namespace name or identity: what people recognise
    account_id: str
    account_name: str
    tam_email: str | None
    label: str
    label_source: str
    label_version: int
    export_label: str
    deployment_type: str = ""


@dataclass(frozen=True)
class ChangeInfo:
    by: str  # Slack user id, "sync", or "cli:<name>"
    by_name: str | None
    from_label: str
    to_label: str
    at: datetime | None


@dataclass(frozen=True)
class RelabelOutcome:
    """status: applied | already (the label is already what was asked: nothing written) |
    stale (changed since the message; `last_change` says how) | refused | not_found | invalid."""

    status: str
    instance: InstanceState | None = None
    change: ChangeInfo | None = None  # what this click did (applied)
    last_change: ChangeInfo | None = None  # the latest change before this click (already / stale)
    previous_label: str | None = None  # for Undo
    previous_source: str | None = None  # for Undo
    message: str = ""


def load_state(session: Session, instance_id: int) -> InstanceState | None:
    row = session.execute(
        select(Instance, Account.name, Account.tam_email)
        .join(Account, Account.id == Instance.account_id)
        .where(Instance.id == instance_id)
    ).first()
    if row is None:
        return None
    inst, account_name, tam_email = row
    return InstanceState(
        id=inst.id,
        name=inst.display_name,
        account_id=inst.account_id,
        account_name=account_name,
        tam_email=tam_email,
        label=inst.label,
        label_source=inst.label_source,
        label_version=inst.label_version,
        export_label=inst.export_label,
        deployment_type=inst.deployment_type or "",
    )


def last_change(session: Session, instance_id: int) -> ChangeInfo | None:
    change = session.scalars(
        select(LabelChange)
        .where(LabelChange.instance_id == instance_id)
        .order_by(LabelChange.changed_at.desc(), LabelChange.id.desc())
        .limit(1)
    ).first()
    if change is None:
        return None
    return ChangeInfo(change.changed_by, change.changed_by_name, change.from_label, change.to_label, change.changed_at)


def relabel(
    session: Session,
    *,
    instance_id: int,
    to_label: str,
    expected_version: int | None,
    user_id: str,
    user_name: str | None,
    user_email: str | None,
    admin_ids: Collection[str],
    origin: str,
    message_ref: str | None = None,
    undo: bool = False,
) -> RelabelOutcome:
    """Authorize, then compare-and-set the label; commits on success. `expected_version=None` is refused
    as invalid: every click must say what it saw.

    An Undo back to the export's own label hands the instance back to the sync (label_source='export').
    """
    if to_label not in LABELS:
        return RelabelOutcome("invalid", message=f"{to_label!r} is not a label")
    state = load_state(session, instance_id)
    if state is None:
        return RelabelOutcome("not_found", message="That instance is no longer in the data.")
    if not may_act_on_account(user_id, user_email, state.tam_email, admin_ids):
        return RelabelOutcome(
            "refused",
            instance=state,
            message="Only the account's TAM or a CS Operations admin can relabel this instance.",
        )
    if expected_version is None:
        return RelabelOutcome("invalid", instance=state, message="This button is from an old message.")
    if to_label != "Unknown" and to_label not in applicable_labels(state.deployment_type):
        return RelabelOutcome(
            "invalid",
            instance=state,
            message=f"{state.name} is a {state.deployment_type} namespace: it cannot be a {to_label}.",
        )
    session.rollback()  # end the read transaction: the UPDATE below must be the first statement (SQLite locks)
    if state.label_version != expected_version:
        return _not_applied(session, instance_id, to_label)

    # Every change bumps label_version (sync included), so the label at `expected_version` is `state.label`:
    # if the UPDATE matches, the row still holds what we read, and the history's "from" is true.
    now = datetime.now(UTC)
    to_export = undo and to_label == state.export_label
    result = session.execute(
        update(Instance)
        .where(Instance.id == instance_id, Instance.label_version == expected_version)
        .values(
            label=to_label,
            label_source="export" if to_export else "person",
            label_set_by=None if to_export else user_id,
            label_set_at=None if to_export else now,
            label_version=Instance.label_version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if rows_changed(result) != 1:
        session.rollback()
        return _not_applied(session, instance_id, to_label)

    change = LabelChange(
        instance_id=instance_id,
        from_label=state.label,
        to_label=to_label,
        changed_by=user_id,
        changed_by_name=user_name,
        changed_at=now,
        origin=origin,
        message_ref=message_ref,
    )
    session.add(change)
    session.flush()
    # The account's stored scores follow its labels in the same transaction: no view sees the old ones.
    account_id = session.scalar(select(Instance.account_id).where(Instance.id == instance_id))
    if account_id is not None:
        rescore(session, account_ids=[account_id])
    session.commit()
    after = load_state(session, instance_id)
    session.rollback()
    return RelabelOutcome(
        "applied",
        instance=after,
        change=ChangeInfo(user_id, user_name, state.label, to_label, now),
        previous_label=state.label,
        previous_source=state.label_source,
    )


def _not_applied(session: Session, instance_id: int, to_label: str) -> RelabelOutcome:
    """Someone changed the label since the click's message: say who and what (nothing is written)."""
    current = load_state(session, instance_id)
    before = last_change(session, instance_id)
    session.rollback()
    if current is None:
        return RelabelOutcome("not_found", message="That instance is no longer in the data.")
    status = "already" if current.label == to_label else "stale"
    return RelabelOutcome(status, instance=current, last_change=before)
