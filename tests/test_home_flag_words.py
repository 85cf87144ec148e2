"""The Home tab's flag line: one warning sign, then words (no flag label brings an emoji of its own)."""

from __future__ import annotations

from bot.features.home.blocks import _FLAG_WORDS, flags_text
from scoring.flags import Flag
from workflows.portfolio import PortfolioAccount


def _account(flags: tuple[Flag, ...]) -> PortfolioAccount:
    return PortfolioAccount(
        id="0011000000ABCDEAAA",
        name="Acme Corp",
        tam_name="Tam",
        tam_email="tam@example.com",
        billable_users=10,
        licensed_seats=20,
        utilization=0.5,
        utilization_color="Red",
        health_color="Red",
        health_score=20.0,
        use_cases={},
        unknown_instances=0,
        flags=flags,
        reporting_share=1.0,
    )


def test_every_flag_word_is_plain_text() -> None:
    assert all(word.isascii() for word in _FLAG_WORDS.values())


def test_purchase_intent_line_has_one_sign() -> None:
    text = flags_text(_account((Flag("purchase_intent", "pays for Ultimate"), Flag("stale", "old"))))
    assert text == "⚠️ paid-for capabilities unused, stale data"
