"""The HTTP surface itself: signatures, /healthz, and the WebClient's retries against a fake Slack."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import date

from fakes.signing import post, slash_body
from fakes.slack import FakeSlack

from bot.app import make_web_client
from db.models import SyncRun
from db.session import session_scope
from workflows.settings import Settings


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_healthz_reports_database_and_data_as_of(bot_url: str, bot_settings: Settings) -> None:
    status, body = _get(bot_url + "/healthz")
    assert (status, body) == (200, {"status": "ok", "database": "ok", "data_as_of": None})
    with session_scope(bot_settings.database_url) as s:
        s.add(SyncRun(source="test", status="succeeded", as_of_month=date(2026, 10, 1)))
    status, body = _get(bot_url + "/healthz")
    assert body["data_as_of"] == "2026-10"


def test_healthz_503_when_database_unreachable(fake_slack: FakeSlack, tmp_path) -> None:
    from fakes.signing import SIGNING_SECRET
    from fakes.wsgi import serve

    from bot.server import make_wsgi_app
    from workflows.settings import load_settings

    bad = load_settings(
        _env_file=None,
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1",
        slack_bot_token="xoxb-x",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.api_url,
    )
    with serve(make_wsgi_app(bad)) as url:
        status, body = _get(url + "/healthz")
    assert status == 503
    assert body["status"] == "error" and "unreachable" in body["database"]


def test_forged_and_stale_signatures_get_401_and_do_nothing(bot_url: str, fake_slack: FakeSlack) -> None:
    fake_slack.reset_calls()  # the app asked who it is (auth.test) once, at start; nothing since
    body = slash_body("acme", response_url=fake_slack.response_url())
    forged = post(bot_url + "/slack/events", body, secret="not-the-secret")
    stale = post(bot_url + "/slack/events", body, timestamp=int(time.time()) - 6 * 60)
    unsigned = post(bot_url + "/slack/events", body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert [forged.status, stale.status, unsigned.status] == [401, 401, 401]
    time.sleep(0.3)
    assert fake_slack.calls == []


def test_url_verification_challenge(bot_url: str) -> None:
    body = json.dumps(
        {"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}
    )
    reply = post(bot_url + "/slack/events", body, content_type="application/json")
    assert reply.status == 200
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in reply.body


def test_unknown_path_is_404(bot_url: str) -> None:
    try:
        urllib.request.urlopen(bot_url + "/nope", timeout=5)
    except urllib.error.HTTPError as err:
        assert err.code == 404


def test_web_client_waits_out_429_and_retries_5xx(bot_settings: Settings, fake_slack: FakeSlack) -> None:
    client = make_web_client(bot_settings)
    fake_slack.fail("chat.postMessage", status=429, times=2, retry_after=1)
    fake_slack.fail("chat.postMessage", status=503, times=1)
    start = time.monotonic()
    resp = client.chat_postMessage(channel="C0GENERAL1", text="hello")
    assert resp["ok"]
    assert time.monotonic() - start >= 2.0  # honoured Retry-After twice
    assert len(fake_slack.calls_to("chat.postMessage")) == 4
    assert [m["text"] for m in fake_slack.messages["C0GENERAL1"]] == ["hello"]


def test_commands_never_wait_for_auth_test(bot_url: str, fake_slack: FakeSlack) -> None:
    """Acknowledgements must not depend on Slack answering auth.test (Bolt calls it per request by default)."""
    fake_slack.reset_calls()  # the app asked who it is (auth.test) once, at start; nothing since
    fake_slack.add_user("U0TAM0001", "avery", "avery@example.com")
    fake_slack.fail("auth.test", status=500, times=1000)
    reply = post(bot_url + "/slack/events", slash_body("help", response_url=fake_slack.response_url("h")))
    assert reply.status == 200
    assert reply.elapsed < 1.5
    fake_slack.wait_for("response_url")
    assert "/usage acme" in json.dumps(fake_slack.responses()[-1])
    assert fake_slack.calls_to("auth.test") == []
