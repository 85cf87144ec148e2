"""Account resolution: id, exact name, unique prefix, fuzzy; several → candidates; none → nearest names."""

from __future__ import annotations

import pytest
from support.scoring_helpers import add_account

from db.models import SyncRun
from db.queries.accounts import clear_cache, resolve_account
from db.session import session_scope


@pytest.fixture
def names(db_url: str) -> str:
    clear_cache()
    with session_scope(db_url) as s:
        add_account(s, "0016100001AAAAA", "ACME Corporation")
        add_account(s, "0016100001BBBBB", "Globex Corporation")
        add_account(s, "0016100001CCCCC", "Initech")
        add_account(s, "0016100001DDDDD", "Initrode Systems")
        add_account(s, "0016100001EEEEE", "Société Générale d'Exemple")
    return db_url


def _resolve(url: str, text: str):  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        return resolve_account(s, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0016100001BBBBB", "Globex Corporation"),  # CRM id
        ("  globex corporation ", "Globex Corporation"),  # exact name, any case
        ("societe generale d exemple", "Société Générale d'Exemple"),  # accents and punctuation ignored
        ("acme", "ACME Corporation"),  # unique prefix
        ("glbex corp", "Globex Corporation"),  # fuzzy
        ("initech", "Initech"),  # exact wins over the prefix of another name
    ],
)
def test_one_account(names: str, text: str, expected: str) -> None:
    res = _resolve(names, text)
    assert res.kind == "one" and res.account is not None and res.account.name == expected


def test_several_candidates(names: str) -> None:
    res = _resolve(names, "init")
    assert res.kind == "many"
    assert [c.name for c in res.candidates] == ["Initech", "Initrode Systems"]


@pytest.mark.parametrize("text", ["zzqqxx", "", "   ", "%", "_", "'; DROP TABLE accounts; --", "🎉", "x" * 5000])
def test_none_and_no_unrelated_suggestions(names: str, text: str) -> None:
    res = _resolve(names, text)
    assert res.kind == "none"
    assert res.nearest == ()  # nothing is close: no list of unrelated names


def test_none_suggests_only_close_names(names: str) -> None:
    res = _resolve(names, "initrodd sistems")
    assert res.kind in ("one", "many") or "Initrode Systems" in res.nearest


def test_name_cache_refreshes_when_data_changes(names: str) -> None:
    assert _resolve(names, "umbrela corp").kind == "none"
    with session_scope(names) as s:
        add_account(s, "0016100001FFFFF", "Umbrella Corp")
        s.add(SyncRun(source="test", status="succeeded"))
    res = _resolve(names, "umbrela corp")
    assert res.kind == "one" and res.account is not None and res.account.id == "0016100001FFFFF"
