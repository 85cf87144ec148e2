"""A person's label survives later syncs; the digest then no longer lists the instance."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select

from db.models import Instance
from db.session import session_scope
from workflows.demo import generate_export
from workflows.digest.compose import compose
from workflows.relabel import relabel
from workflows.sync.run import sync_export
from workflows.sync.sources import CsvExport

ADMIN = "U0ADMIN01"


def test_person_label_survives_resync(tmp_path: Path, db_url: str) -> None:
    generate_export(tmp_path / "export", accounts=8, months=2, seed=3, today=date(2026, 11, 15))
    assert sync_export(CsvExport(tmp_path / "export"), db_url).ok
    with session_scope(db_url) as s:
        inst = s.scalars(select(Instance).where(Instance.label == "Unknown").order_by(Instance.id)).first()
        if inst is None:  # the generator may label everything: take any instance, set it Unknown-free anyway
            inst = s.scalars(select(Instance).order_by(Instance.id)).first()
        assert inst is not None
        iid, version, before = inst.id, inst.label_version, inst.label
    target = "Obsolete" if before != "Obsolete" else "Production"
    with session_scope(db_url) as s:
        outcome = relabel(
            s,
            instance_id=iid,
            to_label=target,
            expected_version=version,
            user_id=ADMIN,
            user_name="ops",
            user_email=None,
            admin_ids={ADMIN},
            origin="digest",
        )
    assert outcome.status == "applied"

    assert sync_export(CsvExport(tmp_path / "export"), db_url).ok  # the same export again
    with session_scope(db_url) as s:
        inst = s.get(Instance, iid)
        assert inst is not None
        assert (inst.label, inst.label_source, inst.label_set_by) == (target, "person", ADMIN)
        comp = compose(s, "2026-11")
    listed = {i.id for d in comp.digests for a in d.accounts for i in a.instances}
    assert iid not in listed
