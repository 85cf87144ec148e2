"""`usagebot try`, `usagebot manifest`, and `usagebot serve` as a real subprocess (gunicorn) answering Slack."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml
from click.testing import CliRunner
from fakes.signing import post, slash_body
from fakes.slack import FakeSlack
from support.bot_usage_data import seed

from bot.cli import cli
from workflows.settings import Settings


def test_try_prints_the_same_answer_as_text(settings: Settings) -> None:
    seed(settings.database_url)
    runner = CliRunner()
    out = runner.invoke(cli, ["try", "/usage acme corp health"])
    assert out.exit_code == 0, out.output
    assert "Acme Corp · Health" in out.output and "Data as of 2026-10" in out.output and "Formula" in out.output
    assert "[Share to channel]" in out.output
    amb = runner.invoke(cli, ["try", "/usage acme"])
    assert "Several accounts match" in amb.output and "[Acme Corp]" in amb.output
    odd = runner.invoke(cli, ["try", "/usage '; DROP TABLE accounts; --"])
    assert odd.exit_code == 0 and "couldn't find" in odd.output
    helped = runner.invoke(cli, ["try", "/usage"])
    assert "/usage acme health" in helped.output
    other = runner.invoke(cli, ["try", "/weather"])
    assert other.exit_code == 2 and "only /usage" in other.output


def test_try_as_the_tam_shows_relabel_buttons(settings: Settings) -> None:
    seed(settings.database_url)
    out = CliRunner().invoke(cli, ["try", "--as-user", "tam@example.com", "/usage acme corp instances"])
    assert out.exit_code == 0, out.output
    assert "[Production] [Non-Production] [Obsolete] [Geo Secondary Node]" in out.output


def test_try_without_schema_is_a_clean_failure(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    out = CliRunner().invoke(cli, ["try", "/usage acme"])
    assert out.exit_code == 1 and "usagebot db upgrade" in out.output and "Traceback" not in out.output


def test_manifest(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["manifest", "--url", "https://usagebot.example.com/"])
    assert out.exit_code == 0, out.output
    m = yaml.safe_load(out.output)
    cmd = m["features"]["slash_commands"][0]
    assert cmd["command"] == "/usage" and cmd["url"] == "https://usagebot.example.com/slack/events"
    assert "mine [red ci:red tier:ultimate" in cmd["usage_hint"] and "team" in cmd["usage_hint"]
    assert m["features"]["shortcuts"][0]["callback_id"] == "request_metric"
    scopes = set(m["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "im:write", "users:read", "users:read.email", "files:write"} <= scopes
    assert m["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert m["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    assert m["settings"]["socket_mode_enabled"] is False
    socket_mode = yaml.safe_load(runner.invoke(cli, ["manifest"]).output)
    assert (
        socket_mode["settings"]["socket_mode_enabled"] is True
        and "url" not in socket_mode["features"]["slash_commands"][0]
    )
    bad = runner.invoke(cli, ["manifest", "--url", "ftp://x"])
    assert bad.exit_code == 2


def test_manifest_usage_hint_names_every_view_and_subcommand() -> None:
    """Slack shows the hint as the person types `/usage`: a view or word missing from it is hidden."""
    from bot.features.usage.blocks import VIEWS
    from bot.features.usage.command import ACCOUNT_SUBCOMMANDS, GLOBAL_SUBCOMMANDS, METRIC_WORDS, PORTFOLIO_WORDS

    hint = yaml.safe_load(CliRunner().invoke(cli, ["manifest"]).output)["features"]["slash_commands"][0][
        "usage_hint"
    ]
    words = set(hint.replace("[", " ").replace("]", " ").replace("|", " ").split())
    expected = {v for v in VIEWS if v != "summary"} | set(ACCOUNT_SUBCOMMANDS) | set(GLOBAL_SUBCOMMANDS)
    expected |= set(PORTFOLIO_WORDS) | {METRIC_WORDS[0], "help"}
    assert sorted(expected - words) == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_subprocess_answers_usage(bot_settings: Settings, fake_slack: FakeSlack) -> None:
    seed(bot_settings.database_url)
    fake_slack.add_user("U0TAM0001", "avery", email="tam@example.com")
    port = _free_port()
    exe = Path(sys.executable).with_name("usagebot")
    proc = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--threads", "4"],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:
                    health = json.loads(resp.read())
                break
            except OSError:
                assert proc.poll() is None and time.time() < deadline, "usagebot serve did not start"
                time.sleep(0.2)
        assert health == {"status": "ok", "database": "ok", "data_as_of": "2026-10"}
        reply = post(base + "/slack/events", slash_body("acme corp", response_url=fake_slack.response_url("srv")))
        assert reply.status == 200 and reply.elapsed < 3
        fake_slack.wait_for("response_url", timeout=20)
        answer = fake_slack.responses()[-1]
        assert "Acme Corp · Summary" in json.dumps(answer["blocks"], ensure_ascii=False)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
