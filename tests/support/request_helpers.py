"""Helpers for the metric request tests: a bot wired to FakeSlack and FakeGitLab, and Slack payloads."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.gitlab import TOKEN, FakeGitLab
from fakes.signing import block_action_payload, interaction_body, post
from fakes.slack import TEAM_ID, FakeSlack
from fakes.wsgi import serve
from pydantic import SecretStr

from db.session import session_scope
from workflows import metric_search
from workflows.metrics_import import import_definitions
from workflows.settings import Settings

METRICS = Path(__file__).parent.parent / "fixtures" / "request_metrics"
PROJECT = "gitlab-org/product-analytics"
PM = "pa-pm"
TAM = "U0TAM0001"


@pytest.fixture(scope="session")
def _gitlab_server() -> Iterator[FakeGitLab]:
    # One server for the run (starting and stopping one costs about half a second per test).
    with FakeGitLab() as fake:
        yield fake


@pytest.fixture
def fake_gitlab(_gitlab_server: FakeGitLab) -> FakeGitLab:
    """The fake GitLab, emptied: fresh projects, no requests, no injected faults left by another test."""
    fake = _gitlab_server
    fake.projects.clear()
    for path in ("gitlab-org/product-analytics", "gitlab-data/analytics"):
        fake.add_project(path)
    fake.requests.clear()
    fake._faults.clear()  # our own test fake; it has no public reset
    return fake


@pytest.fixture
def req_settings(
    bot_settings: Settings, fake_gitlab: FakeGitLab, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """The bot's settings plus GitLab (the fake) and the PM; metrics imported from the test fixture;
    three TAMs in Slack (the guard refuses people Slack does not know)."""
    for user_id, name in ((TAM, "avery"), ("U0TAM0002", "blake"), ("U0TAM0003", "casey")):
        fake_slack.add_user(user_id, name, f"{name}@example.com")
    for k, v in {"GITLAB_URL": fake_gitlab.url, "GITLAB_TOKEN": TOKEN, "PRODUCT_ANALYTICS_PM": PM}.items():
        monkeypatch.setenv(k, v)
    settings = bot_settings.model_copy(
        update={"gitlab_url": fake_gitlab.url, "gitlab_token": SecretStr(TOKEN), "product_analytics_pm": PM}
    )
    with session_scope(settings.database_url) as s:
        import_definitions(s, METRICS)
    metric_search.invalidate()
    yield settings
    metric_search.invalidate()


@pytest.fixture
def app_url(req_settings: Settings) -> Iterator[str]:
    from bot.server import make_wsgi_app

    with serve(make_wsgi_app(req_settings)) as url:
        yield url


def events(url: str) -> str:
    return url + "/slack/events"


def shortcut_body(user_id: str = TAM, callback_id: str = "request_metric") -> str:
    return interaction_body(
        {
            "type": "shortcut",
            "token": "verification_token",
            "action_ts": f"{time.time():.6f}",
            "team": {"id": TEAM_ID, "domain": "test"},
            "user": {"id": user_id, "username": "avery", "team_id": TEAM_ID},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": "111.222.trigger",
        }
    )


def open_modal(url: str, fake: FakeSlack, user_id: str = TAM) -> tuple[str, dict[str, Any]]:
    """Open the form through the global shortcut; the view id and the view Slack was asked to show."""
    before = len(fake.calls_to("views.open"))
    assert post(events(url), shortcut_body(user_id)).status == 200
    call = fake.wait_for("views.open", before + 1)[-1]
    view = call.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    view_id = next(v["id"] for v in reversed(list(fake.views.values())) if v.get("callback_id") == "metric_request")
    return view_id, view


def submission_body(
    view_id: str,
    what: str,
    *,
    user_id: str = TAM,
    user_name: str = "avery",
    area: str | None = None,
    kind: str | None = None,
    why: str | None = None,
    account: str | None = None,
    metadata: str = '{"c":"C0GENERAL1","a":null}',
) -> str:
    """A view_submission shaped like the shared real captures (state.values per block and action)."""

    def select(value: str | None) -> dict[str, Any]:
        if value is None:
            return {"type": "static_select", "selected_option": None}
        return {
            "type": "static_select",
            "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
        }

    values = {
        "mr_what": {"value": {"type": "plain_text_input", "value": what}},
        "mr_area": {"value": select(area)},
        "mr_kind": {"value": select(kind)},
        "mr_why": {"value": {"type": "plain_text_input", "value": why}},
        "mr_account": {"value": {"type": "plain_text_input", "value": account}},
    }
    return interaction_body(
        {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": "test"},
            "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": TEAM_ID},
            "api_app_id": "A0APP0001",
            "token": "verification_token",
            "trigger_id": "333.444.trigger",
            "view": {
                "id": view_id,
                "team_id": TEAM_ID,
                "type": "modal",
                "callback_id": "metric_request",
                "private_metadata": metadata,
                "state": {"values": values},
                "hash": f"h{view_id}",
                "blocks": [],
            },
            "response_urls": [],
            "is_enterprise_install": False,
        }
    )


def view_click_body(view_id: str, action_id: str, value: dict[str, Any], *, user_id: str = TAM) -> str:
    """A button click inside a modal (container type view, no channel or message)."""
    payload = block_action_payload(
        action_id, json.dumps(value), user_id=user_id, container={"type": "view", "view_id": view_id}
    )
    payload.pop("channel", None)
    payload.pop("message", None)
    payload.pop("response_url", None)
    payload["view"] = {"id": view_id, "type": "modal", "callback_id": "metric_request_step", "hash": f"h{view_id}"}
    return interaction_body(payload)


def last_view(fake: FakeSlack, view_id: str) -> dict[str, Any]:
    return fake.views[view_id]


def view_text(view: dict[str, Any]) -> str:
    return json.dumps(view.get("blocks") or [], ensure_ascii=False)


def wait_view(fake: FakeSlack, view_id: str, needle: str, timeout: float = 10.0) -> str:
    """The modal's blocks as text once they contain `needle` (updates land after the click is acked)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = view_text(fake.views.get(view_id) or {})
        if needle in text:
            return text
        time.sleep(0.02)
    raise AssertionError(f"view {view_id} never showed {needle!r}; it shows {view_text(fake.views.get(view_id) or {})}")


def candidates_shown(fake: FakeSlack, view_id: str) -> dict[str, Any]:
    """The modal once the search filled it in (the submission itself only shows "Looking…")."""
    wait_view(fake, view_id, '"mr_none"')
    return fake.views[view_id]


def request_id_of(view: dict[str, Any]) -> int:
    none = next(b for b in view["blocks"] if b.get("block_id") == "mr_none")
    return int(json.loads(none["elements"][0]["value"])["r"])
