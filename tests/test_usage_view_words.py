"""What `/usage` says about view words lists every view there is (the list is the routing's, not a copy)."""

from __future__ import annotations

import re

from support.scoring_helpers import add_account

from bot.features.usage.blocks import VIEWS
from bot.features.usage.command import Viewer, answer_text
from db.queries.accounts import clear_cache
from db.session import session_scope
from workflows.settings import Settings


def _try(settings: Settings, text: str) -> str:
    with session_scope(settings.database_url) as s:
        return answer_text(s, settings, text, Viewer(admin_ids=frozenset()))


def _listed(out: str, before: str) -> set[str]:
    match = re.search(re.escape(before) + r"\s*\(?([a-z, ]+)", out)
    assert match, out
    return {w.strip() for w in match.group(1).split(",")}


def test_the_views_named_in_replies_are_every_view(settings: Settings) -> None:
    with session_scope(settings.database_url) as s:
        add_account(s, "001610000000000000", "Acme Corp")
    clear_cache()
    assert _listed(_try(settings, "/usage acme corp helth"), "Views:") == set(VIEWS)
    assert _listed(_try(settings, "/usage acme corp health please"), "one view") == set(VIEWS)
