"""Renderers and the Slack-limits helper: every block list produced is checked with `check_limits`."""

from __future__ import annotations

import json

import pytest
from support.bot_usage_data import ACME_ID, seed
from support.scoring_helpers import add_account

from bot.blocks import ids
from bot.blocks.format import blocks_to_text, color_text, escape, seats_text, section, sparkline
from bot.blocks.limits import MAX_BLOCKS, check_limits, clip, fit_to_limits, pack_lines
from bot.features.usage.blocks import VIEWS, render_help, render_not_found, render_pick
from bot.features.usage.command import Viewer, account_answer, parse
from bot.guard import Person
from db.models import Instance
from db.session import session_scope
from workflows.settings import Settings

ADMIN = Person("U0ADMIN01", "T0TEAM01", "casey", "casey@example.com", False, False, False)


def test_fit_to_limits_cuts_and_keeps_footer() -> None:
    body = [section(f"line {n} " + "x" * 4000) for n in range(80)]
    footer = [
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "B" * 100}, "action_id": "a", "value": "v"}
            ],
        }
    ]
    out = fit_to_limits(body, footer=footer)
    assert len(out) == MAX_BLOCKS["message"]
    assert out[-1]["type"] == "actions" and len(out[-1]["elements"][0]["text"]["text"]) == 75
    assert "and 32 more not shown" in out[-2]["elements"][0]["text"]
    assert check_limits(out) == []
    assert len(fit_to_limits(body, surface="modal")) == 80  # a modal holds 100


def test_fit_to_limits_refuses_to_cut_ids_and_values() -> None:
    with pytest.raises(ValueError):
        fit_to_limits(
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "x"},
                            "action_id": "a" * 256,
                            "value": "v",
                        }
                    ],
                }
            ]
        )
    with pytest.raises(ValueError):
        fit_to_limits(
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "x"},
                            "action_id": "a",
                            "value": "v" * 2001,
                        }
                    ],
                }
            ]
        )


def test_check_limits_finds_problems() -> None:
    # Built by hand: the `section` primitive itself clips to Slack's limit, the checker must still catch it.
    too_long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    bad = [too_long, {"type": "actions", "elements": []}, *[section("ok")] * 49]
    problems = check_limits(bad)
    assert any("51 blocks" in p for p in problems)
    assert any("3001 > 3000" in p for p in problems)
    assert any("0 actions" in p for p in problems)


def test_pack_lines_and_clip() -> None:
    chunks = pack_lines([f"{n:04d} " + "y" * 95 for n in range(100)], 3000)
    assert all(len(c) <= 3000 for c in chunks) and len(chunks) == 4
    assert "".join(chunks).count("\n") == 100 - len(chunks)
    assert clip("abcdef", 4) == "abc…"


def test_people_numbers_colours_sparklines() -> None:
    assert seats_text(84, 200) == "84 of 200 seats (42%)"
    assert seats_text(1, 1) == "1 of 1 seat (100%)"
    assert seats_text(None, 200) == "no billable users reported, 200 seats"
    assert [color_text(c) for c in ("Red", "Yellow", "Green", "No data", "N/A")] == [
        "🔴 Red",
        "🟡 Yellow",
        "🟢 Green",
        "⚪ No data",
        "N/A",
    ]
    # A fixed scale: 0..1 for ratios, 0..100 for scores; a constant line stays at its level.
    assert sparkline([i / 7 for i in range(8)]) == "▁▂▃▄▅▆▇█"
    assert sparkline([None, 1.0, None]) == "·█·"
    assert sparkline([0.82, 0.84]) == "▇▇"
    assert sparkline([50.0, 50.0, 50.0], top=100) == "▅▅▅"
    assert sparkline([2.5]) == "█"  # more users than seats: a full bar
    assert escape("<@U1> & <!here>") == "&lt;@U1&gt; &amp; &lt;!here&gt;"


def test_button_values_round_trip() -> None:
    value = ids.encode_value(i=7, f="Unknown", n=3, a=ACME_ID, o="usage", x=None)
    assert json.loads(value) == {"i": 7, "f": "Unknown", "n": 3, "a": ACME_ID, "o": "usage"}
    assert ids.decode_value(value)["i"] == 7
    assert ids.decode_value("garbage") == {} and ids.decode_value("[1]") == {} and ids.decode_value(None) == {}


def test_every_view_of_a_huge_account_fits(settings: Settings) -> None:
    seed(settings.database_url, acme_instances=150, unknown=150)
    long = "h" * 225  # hostname is String(255)
    with session_scope(settings.database_url) as s:
        for inst in s.query(Instance).filter(Instance.account_id == ACME_ID):
            inst.hostname = f"{inst.id}-{long}.example.com"
        add_account(s, "0016100001LONG1", "L" * 255)
    with session_scope(settings.database_url) as s:
        for view in VIEWS:
            for viewer in (Viewer(person=ADMIN, admin_ids=frozenset({"U0ADMIN01"})), Viewer()):
                answer = account_answer(s, settings, ACME_ID, view, viewer, with_chart=False)
                assert check_limits(answer.blocks) == [], view
                assert "Acme Corp" in blocks_to_text(answer.blocks)
            shared = account_answer(s, settings, ACME_ID, view, Viewer(), shared_by="U0TAM0001", with_chart=False)
            assert check_limits(shared.blocks) == [] and not any(b["type"] == "actions" for b in shared.blocks)
        admin_view = account_answer(
            s, settings, ACME_ID, "instances", Viewer(person=ADMIN, admin_ids=frozenset({"U0ADMIN01"}))
        )
        relabel_rows = [b for b in admin_view.blocks if str(b.get("block_id", "")).startswith("relabel:")]
        assert 0 < len(relabel_rows) <= 15
        assert "more Unknown" in blocks_to_text(admin_view.blocks)
        long_name = account_answer(s, settings, "0016100001LONG1", "summary", Viewer(), with_chart=False)
        assert check_limits(long_name.blocks) == []


def test_pick_not_found_help_fit() -> None:
    many = [(f"id{n}", "N" * 300) for n in range(30)]
    for answer in (
        render_pick("q" * 5000, many, "health"),
        render_not_found("<!channel>" * 500, ["x" * 500] * 5),
        render_help(),
    ):
        assert check_limits(answer.blocks) == []
        assert "<!channel>" not in json.dumps(answer.blocks)


@pytest.mark.parametrize(
    ("text", "kind", "query", "view"),
    [
        ("", "help", "", "summary"),
        ("help", "help", "", "summary"),
        ("acme", "account", "acme", "summary"),
        ("Acme Corp Health", "account", "Acme Corp", "health"),
        ("acme utilisation", "account", "acme", "utilization"),
        ("health", "account", "health", "summary"),  # a lone view word is a name to look up
        ("request-metric", "global", "", "request-metric"),
        ("digest", "global", "", "digest"),
        ("acme report", "account", "acme", "report"),
        ("<@U123|avery> acme", "account", "avery acme", "summary"),
        ("  acme \t\n trends ", "account", "acme", "trends"),
        ("x" * 201, "too_long", "", "summary"),
        ("x" * 10_000, "too_long", "", "summary"),
    ],
)
def test_parse(text: str, kind: str, query: str, view: str) -> None:
    req = parse(text)
    assert (req.kind, req.query, req.view) == (kind, query, view)


def test_reporting_share_shown_only_below_100_percent(settings: Settings) -> None:
    seed(settings.database_url, acme_instances=2, unknown=2)  # no Production instance: nothing reports
    with session_scope(settings.database_url) as s:
        for view in VIEWS:
            text = blocks_to_text(account_answer(s, settings, ACME_ID, view, Viewer(), with_chart=False).blocks)
            assert "reporting share 0%" in text and "Data as of 2026-10" in text, view
        from support.bot_usage_data import GLOBEX_ID

        full = blocks_to_text(account_answer(s, settings, GLOBEX_ID, "summary", Viewer(), with_chart=False).blocks)
        assert "reporting share" not in full and "Data as of 2026-10" in full
