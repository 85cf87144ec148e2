"""App Home over real HTTP: signed `app_home_opened` events and Home button clicks posted to the running app,
the bot talking to the fake Slack; assertions on the views it publishes (what the person sees)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fakes.signing import event_body, post
from fakes.slack import FakeSlack
from sqlalchemy import select
from support.home_data import LEVELS, add_account, as_of
from support.home_slack import ADMIN, TAM, TAM_EMAIL, account_ids, account_sections, click, open_home, sections

from bot.app import make_web_client
from bot.blocks.limits import MAX_BLOCKS, MAX_SECTION_TEXT, check_limits
from bot.features.home.blocks import PAGE_SIZE
from bot.features.home.jobs import refresh_home, refresh_home_for_accounts
from db.models import HomeViewer, Instance, LabelChange
from db.session import session_scope
from workflows.portfolio import clear_portfolio_cache
from workflows.settings import Settings


@pytest.fixture(autouse=True)
def _fresh_portfolio_cache() -> None:
    # Each test's database restarts ids and counts, so a remembered portfolio could look current.
    clear_portfolio_cache()


def assert_within_limits(view: dict[str, Any]) -> None:
    assert check_limits(view["blocks"], "home") == []
    assert len(view["blocks"]) <= MAX_BLOCKS["home"]
    assert all(len(t) <= MAX_SECTION_TEXT for t in sections(view))


@pytest.fixture
def tam(fake_slack: FakeSlack) -> str:
    fake_slack.add_user(TAM, "avery.tam", TAM_EMAIL)
    return TAM


def test_tam_with_three_accounts_sees_them_sorted_by_need(
    bot_url: str, bot_settings: Settings, fake_slack: FakeSlack, tam: str
) -> None:
    with session_scope(bot_settings.database_url) as s:
        as_of(s)
        add_account(s, "0016GREEN", "Globex Green", TAM_EMAIL.upper(), "green")  # email case must not matter
        add_account(s, "0016RED", "Acme Corp", TAM_EMAIL, "red", unknown_extra=2)
        add_account(s, "0016YELLOW", "Initech", TAM_EMAIL, "yellow")
        add_account(s, "0016OTHER", "Someone Else's", "other@example.com", "red")

    view = open_home(bot_url, fake_slack, tam, 1)
    assert_within_limits(view)
    assert view["type"] == "home"
    assert account_ids(view) == ["0016RED", "0016YELLOW", "0016GREEN"]  # Red, Yellow, Green; not others' accounts
    red, yellow, green = account_sections(view)
    assert "*Acme Corp*" in red and "product health 🔴 Red (25.0)" in red
    assert "84 of 200 seats (42%)" in red and "license utilization 🔴 Red" in red
    assert "SCM 🔴 Red  ·  CI 🔴 Red  ·  CD 🔴 Red  ·  Security N/A" in red
    assert "❔ 2 Unknown instances" in red
    assert (
        "product health 🟡 Yellow" in yellow and "160 of 200 seats (80%)  ·  license utilization 🟢 Green 80%" in yellow
    )
    assert "SCM 🟡 Yellow  ·  CI 🟡 Yellow  ·  CD 🟡 Yellow" in yellow
    assert "product health 🟢 Green (88.0)" in green and "SCM 🟢 Green" in green and "Unknown" not in green
    header = " ".join(sections(view)[:1]) + json.dumps(view["blocks"][:2])
    assert "3 accounts" in header and "🔴 1 Red" in header and "🟡 1 Yellow" in header and "🟢 1 Green" in header
    assert "❔ 2 Unknown instances" in header and "0 alerts this month" in header and "2026-10" in header
    # Each account offers Summary, Health and Instances, carrying the account id.
    buttons = next(b for b in view["blocks"] if b.get("block_id") == "home_btn:0016RED")["elements"]
    assert [(b["text"]["text"], b["action_id"], b["value"]) for b in buttons] == [
        ("Summary", "home_open:summary", "0016RED"),
        ("Health", "home_open:health", "0016RED"),
        ("Instances", "home_open:instances", "0016RED"),
    ]
    # A plain TAM gets no view switch and no pagination.
    assert not any(b.get("block_id") in ("home_scopes", "home_pages") for b in view["blocks"])

    # The Health button answers in a DM from the bot, with that account's explanation.
    click(bot_url, fake_slack, tam, "home_open:health", "0016RED", 1)
    fake_slack.wait_for("chat.postMessage")
    dm = fake_slack.dm_messages(tam)[-1]
    shown = dm["text"] + json.dumps(dm.get("blocks") or [])
    assert "Acme Corp" in shown and "Health" in shown and "SCM" in shown


def test_150_accounts_paginate_within_slack_limits(
    bot_url: str, bot_settings: Settings, fake_slack: FakeSlack, tam: str
) -> None:
    levels = list(LEVELS)
    with session_scope(bot_settings.database_url) as s:
        as_of(s)
        for i in range(150):
            level = levels[i % 3]
            # Different billable counts within a colour, to check the utilization order too.
            billable = LEVELS[level][0] - (i % 7) if level != "green" else None
            add_account(
                s,
                f"0016A{i:04d}",
                f"Customer {i:03d} " + "x" * 200,
                TAM_EMAIL,
                level,
                unknown_extra=i % 2,
                billable=billable,
            )

    pages: list[dict[str, Any]] = [open_home(bot_url, fake_slack, tam, 1)]
    pages_total = -(-150 // PAGE_SIZE)
    for n in range(2, pages_total + 1):
        nav = next(b for b in pages[-1]["blocks"] if b.get("block_id") == "home_pages")["elements"]
        nxt = next(b for b in nav if b["action_id"] == "home_page_next")
        assert json.loads(nxt["value"]) == {"scope": "mine", "page": n}
        click(bot_url, fake_slack, tam, "home_page_next", nxt["value"], n)
        pages.append(fake_slack.published[tam])

    for view in pages:
        assert_within_limits(view)
    seen = [acc for view in pages for acc in account_ids(view)]
    assert len(seen) == 150 and len(set(seen)) == 150  # every account once, none twice
    assert f"page 1 of {pages_total}" in json.dumps(pages[0]["blocks"][1])
    last_nav = next(b for b in pages[-1]["blocks"] if b.get("block_id") == "home_pages")["elements"]
    assert [b["action_id"] for b in last_nav] == ["home_page_prev"]  # no Next on the last page
    # Sorted by need across pages: all 50 Red first (lowest utilization first), then Yellow, then Green.
    texts = [t for view in pages for t in account_sections(view)]
    colors = [("Red" if "health 🔴" in t else "Yellow" if "health 🟡" in t else "Green") for t in texts]
    assert colors == ["Red"] * 50 + ["Yellow"] * 50 + ["Green"] * 50
    utils = [int(t.split("Seats in use: ")[1].split(" of")[0]) for t in texts[:50]]
    assert utils == sorted(utils)

    # Previous goes back; the person's place is remembered for refreshes.
    prev = next(b for b in last_nav if b["action_id"] == "home_page_prev")
    click(bot_url, fake_slack, tam, "home_page_prev", prev["value"], pages_total + 1)
    assert account_ids(fake_slack.published[tam]) == account_ids(pages[-2])
    with session_scope(bot_settings.database_url) as s:
        row = s.get(HomeViewer, tam)
        assert row is not None and (row.scope, row.page, row.email) == ("mine", pages_total - 1, TAM_EMAIL)


def test_someone_without_accounts_gets_the_guide(bot_url: str, bot_settings: Settings, fake_slack: FakeSlack) -> None:
    fake_slack.add_user("U0SALES01", "sam.sales", "sam@example.com")
    with session_scope(bot_settings.database_url) as s:
        as_of(s)
        add_account(s, "0016RED", "Acme Corp", TAM_EMAIL, "red")
    view = open_home(bot_url, fake_slack, "U0SALES01", 1)
    assert_within_limits(view)
    text = json.dumps(view["blocks"])
    assert "Welcome to usagebot" in text and "/usage ACCOUNT" in text and "sam@example.com" in text
    assert "Acme" not in text and account_ids(view) == []


def test_guest_is_refused(bot_url: str, bot_settings: Settings, fake_slack: FakeSlack) -> None:
    fake_slack.add_user("U0GUEST01", "gus", TAM_EMAIL, is_restricted=True)
    with session_scope(bot_settings.database_url) as s:
        as_of(s)
        add_account(s, "0016RED", "Acme Corp", TAM_EMAIL, "red")
    view = open_home(bot_url, fake_slack, "U0GUEST01", 1)
    assert "Acme" not in json.dumps(view) and "guest accounts" in json.dumps(view)
    assert account_ids(view) == []


def test_relabel_updates_unknown_count_and_colours(
    bot_url: str, bot_settings: Settings, fake_slack: FakeSlack, tam: str
) -> None:
    with session_scope(bot_settings.database_url) as s:
        as_of(s)
        ids = add_account(s, "0016ACME", "Acme Corp", TAM_EMAIL, "green", label="Unknown")
        add_account(s, "0016INIT", "Initech", TAM_EMAIL, "red")
    before = open_home(bot_url, fake_slack, tam, 1)
    acme_before = account_sections(before)[account_ids(before).index("0016ACME")]
    assert "product health ⚪ No data" in acme_before and "❔ 1 Unknown instance" in acme_before
    assert "SCM ⚪ No data" in acme_before and "no Production instance" in acme_before
    assert account_ids(before) == ["0016INIT", "0016ACME"]  # Red before No data

    # The relabel (as workflows.relabel records it), then the hook it calls.
    with session_scope(bot_settings.database_url) as s:
        inst = s.get(Instance, ids[0])
        assert inst is not None
        inst.label, inst.label_source, inst.label_version = "Production", "person", inst.label_version + 1
        s.add(LabelChange(instance_id=inst.id, from_label="Unknown", to_label="Production", changed_by=TAM))
    client = make_web_client(bot_settings)
    assert refresh_home_for_accounts(client, ["0016ACME"], settings=bot_settings) == 1
    after = fake_slack.published[tam]
    acme_after = account_sections(after)[account_ids(after).index("0016ACME")]
    assert (
        "product health 🟢 Green (88.0)" in acme_after and "SCM 🟢 Green  ·  CI 🟢 Green  ·  CD 🟢 Green" in acme_after
    )
    assert "Unknown" not in acme_after and "no Production instance" not in acme_after
    assert "❔ 0 Unknown instances" in sections(after)[0]
    assert account_ids(after) == ["0016INIT", "0016ACME"]  # Red, then Green

    # After a sync: everyone who opened the Home tab is refreshed.
    assert refresh_home(client, settings=bot_settings) == 1
    assert len(fake_slack.calls_to("views.publish")) == 3


def test_admin_switches_to_all_accounts(
    bot_url: str, bot_settings: Settings, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Portfolios this big are remembered until the data changes; the first build shows "Scoring…" meanwhile.
    monkeypatch.setattr("workflows.portfolio.CACHE_MIN_ACCOUNTS", 3)
    fake_slack.add_user(ADMIN, "olive.ops", "olive@example.com")
    with session_scope(bot_settings.database_url) as s:
        as_of(s)
        add_account(s, "0016MINE", "Own Account", "olive@example.com", "green")
        add_account(s, "0016RED", "Acme Corp", TAM_EMAIL, "red", tam_name="Avery Tam")
        add_account(s, "0016YEL", "Initech", "kim@example.com", "yellow", tam_name="Kim Lee")
    view = open_home(bot_url, fake_slack, ADMIN, 1)
    assert account_ids(view) == ["0016MINE"]
    scopes = next(b for b in view["blocks"] if b.get("block_id") == "home_scopes")["elements"]
    assert [(b["action_id"], b.get("style")) for b in scopes] == [
        ("home_view:mine", "primary"),
        ("home_view:all", None),
    ]

    click(bot_url, fake_slack, ADMIN, "home_view:all", "all", 3)
    published = [c.params["view"] for c in fake_slack.calls_to("views.publish")]
    assert "Scoring 3 accounts" in json.dumps(published[1])  # the loading view, then the portfolio
    view = fake_slack.published[ADMIN]
    assert_within_limits(view)
    assert view["blocks"][0]["text"]["text"] == "All accounts"
    assert account_ids(view) == ["0016RED", "0016YEL", "0016MINE"]
    texts = account_sections(view)
    assert "TAM: Avery Tam" in texts[0] and "TAM: Kim Lee" in texts[1]
    assert "3 accounts" in sections(view)[0]
    scopes = next(b for b in view["blocks"] if b.get("block_id") == "home_scopes")["elements"]
    assert [b.get("style") for b in scopes] == [None, "primary"]

    # Again: answered from memory, no loading view.
    click(bot_url, fake_slack, ADMIN, "home_view:all", "all", 4)
    time.sleep(0.2)
    assert len(fake_slack.calls_to("views.publish")) == 4
    assert account_ids(fake_slack.published[ADMIN]) == ["0016RED", "0016YEL", "0016MINE"]

    # A TAM cannot switch to all accounts by forging the button: they get their own view.
    fake_slack.add_user(TAM, "avery.tam", TAM_EMAIL)
    click(bot_url, fake_slack, TAM, "home_view:all", "all", 5)
    assert account_ids(fake_slack.published[TAM]) == ["0016RED"]


def test_manager_sees_their_team(bot_url: str, bot_settings: Settings, fake_slack: FakeSlack) -> None:
    bot_settings.cs_managers = f"mia.manager@example.com:{TAM_EMAIL},kim@example.com"
    fake_slack.add_user("U0MGR0001", "mia", "Mia.Manager@example.com")
    with session_scope(bot_settings.database_url) as s:
        as_of(s)
        add_account(s, "0016RED", "Acme Corp", TAM_EMAIL, "red")
        add_account(s, "0016YEL", "Initech", "kim@example.com", "yellow")
        add_account(s, "0016OUT", "Not The Team", "zed@example.com", "red")
    view = open_home(bot_url, fake_slack, "U0MGR0001", 1)
    assert view["blocks"][0]["text"]["text"] == "Your team's accounts"
    assert account_ids(view) == ["0016RED", "0016YEL"]
    with session_scope(bot_settings.database_url) as s:
        assert s.scalar(select(HomeViewer.scope).where(HomeViewer.user_id == "U0MGR0001")) == "team"


def test_messages_tab_publishes_nothing(bot_url: str, fake_slack: FakeSlack, tam: str) -> None:
    event = {"type": "app_home_opened", "user": tam, "channel": "D0HOME01", "tab": "messages", "event_ts": "1.2"}
    assert post(bot_url + "/slack/events", event_body(event), content_type="application/json").status == 200
    time.sleep(0.3)
    assert fake_slack.calls_to("views.publish") == []


def test_database_down_shows_a_calm_note(fake_slack: FakeSlack) -> None:
    from fakes.signing import SIGNING_SECRET
    from fakes.wsgi import serve

    from bot.server import make_wsgi_app
    from workflows.settings import load_settings

    fake_slack.add_user(TAM, "avery.tam", TAM_EMAIL)
    bad = load_settings(
        _env_file=None,
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1",
        slack_bot_token="xoxb-x",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.api_url,
    )
    with serve(make_wsgi_app(bad)) as url:
        view = open_home(url, fake_slack, TAM, 1)
    assert "can't be loaded right now" in json.dumps(view) and "Traceback" not in json.dumps(view)
