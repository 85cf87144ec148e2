"""Differential test: the engine (through the sync and `report`) against an independent reading of docs/scoring.md.

The oracle (`tests/support/scoring_oracle.py`) reads the raw CSV export and shares no code with `scoring/`,
so any disagreement is a misreading in one of them, or a value changed by the sync on the way in.
Every account of generated exports is compared, in every month, on all six measures, the overall
score, the reporting share and the primary instances.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from support.scoring_oracle import Oracle, disagreements

from db.session import session_scope
from workflows.demo import generate_export
from workflows.report import build_account_report, report_to_json
from workflows.sync.run import sync_export
from workflows.sync.sources import CsvExport


def _months(oracle: Oracle) -> list[date]:
    return sorted({r.month for rows in oracle.rows.values() for r in rows})


@pytest.mark.parametrize("seed", [7, 11, 2024])
def test_every_account_and_month_agrees_with_the_oracle(db_url: str, tmp_path: Path, seed: int) -> None:
    folder = tmp_path / "export"
    generate_export(folder, accounts=24, months=8, seed=seed, today=date(2026, 11, 15))
    assert sync_export(CsvExport(folder), db_url).ok
    oracle = Oracle(folder)
    found: list[str] = []
    checked = 0
    with session_scope(db_url) as session:
        for month in _months(oracle)[-4:]:
            for account_id in sorted(oracle.accounts):
                got = report_to_json(build_account_report(session, account_id, month=month, rules="gitlab-current"))
                want = oracle.account(account_id, month)
                found += disagreements(got, want, f"{account_id} {month:%Y-%m}")
                checked += 1
    assert checked == 4 * len(oracle.accounts)
    assert not found, f"{len(found)} disagreements:\n" + "\n".join(found[:30])
