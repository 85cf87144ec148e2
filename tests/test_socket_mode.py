"""`usagebot serve --socket` as a real subprocess against a local WebSocket server playing Slack's side:
apps.connections.open (on the fake Slack) hands out its ws:// URL, then a `/usage` command and a button click
arrive as Socket Mode envelopes; each is acknowledged at once and answered through its response_url."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from fakes.signing import block_action_payload, slash_body
from fakes.slack import FakeSlack
from fakes.socket_mode import FakeSocketMode
from support.home_data import add_account, as_of

from db.session import session_scope
from workflows.settings import Settings

TAM = "U0TAM0001"
TAM_EMAIL = "avery.tam@example.com"


def _answer(fake: FakeSlack, key: str, timeout: float = 30.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = [c.params for c in fake.calls_to("response_url") if c.path.endswith("/" + key)]
        if got:
            return got[-1]
        time.sleep(0.05)
    raise AssertionError(f"no answer on {key}: {fake.summary()}")


@pytest.mark.slow
def test_serve_socket_mode_acks_and_answers_a_command_and_a_click(
    bot_settings: Settings, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(bot_settings.database_url) as s:
        as_of(s)
        add_account(s, "0016RED", "Acme Corp", TAM_EMAIL, "red")
        add_account(s, "0016GREEN", "Globex", TAM_EMAIL, "green")
    fake_slack.add_user(TAM, "avery", email=TAM_EMAIL)
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A0APP0001-test")
    exe = Path(sys.executable).with_name("usagebot")
    with FakeSocketMode() as ws:
        fake_slack.socket_url = ws.url
        proc = subprocess.Popen(
            [str(exe), "serve", "--socket"],
            env=os.environ.copy(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            ws.wait_connected()
            opened = fake_slack.calls_to("apps.connections.open")
            assert opened and opened[0].token == "xapp-1-A0APP0001-test"  # the app-level token, not the bot's

            command = dict(parse_qsl(slash_body("mine", user_id=TAM, response_url=fake_slack.response_url("sm1"))))
            envelope = ws.send("slash_commands", command)
            ack, seconds = ws.wait_ack(envelope)
            assert ack["envelope_id"] == envelope and seconds < 3.0  # acknowledged within Slack's 3 seconds
            listing = _answer(fake_slack, "sm1")
            blocks = listing["blocks"]
            ids = [b["block_id"] for b in blocks if b.get("block_id", "").startswith("usage_list_acct:")]
            assert ids == ["usage_list_acct:0016RED", "usage_list_acct:0016GREEN"]  # worst first
            button = next(b["accessory"] for b in blocks if b.get("block_id") == "usage_list_acct:0016RED")

            click = block_action_payload(
                button["action_id"], button["value"], user_id=TAM, response_url=fake_slack.response_url("sm2")
            )
            envelope = ws.send("interactive", click)
            ack, seconds = ws.wait_ack(envelope)
            assert ack["envelope_id"] == envelope and seconds < 3.0
            summary = _answer(fake_slack, "sm2")
            text = json.dumps(summary["blocks"], ensure_ascii=False)
            assert "Acme Corp" in text and "Summary" in text and summary.get("replace_original") is False
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            assert "Traceback" not in err, err[-3000:]
