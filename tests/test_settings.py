from __future__ import annotations

import subprocess
import sys

import pytest

from workflows.settings import SettingsError, load_settings


def test_defaults_match_interfaces() -> None:
    s = load_settings(_env_file=None)
    assert s.database_url == "sqlite:///usagebot.db"
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.metric_request_project == "gitlab-org/product-analytics"
    assert s.data_quality_project == "gitlab-data/analytics"
    assert s.data_quality_epic == "gitlab-data&216"
    assert s.timezone == "UTC"
    assert s.scoring_rules == "gitlab-current"
    assert s.digest_cron is None
    assert s.admin_ids == frozenset()


@pytest.mark.parametrize(
    ("env", "name", "expected"),
    [
        ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE", "IANA time zone"),
        ({"DIGEST_CRON": "every monday"}, "DIGEST_CRON", "5-field cron"),
        ({"DIGEST_CRON": "0 9 1 * * *"}, "DIGEST_CRON", "5-field cron"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN", "xoxb-"),
        ({"SLACK_APP_TOKEN": "xoxb-nope"}, "SLACK_APP_TOKEN", "xapp-"),
        ({"SLACK_API_URL": "not a url"}, "SLACK_API_URL", "http(s) URL"),
        ({"DATABASE_URL": "::nonsense::"}, "DATABASE_URL", "SQLAlchemy URL"),
    ],
)
def test_malformed_setting_is_named(monkeypatch: pytest.MonkeyPatch, env: dict, name: str, expected: str) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None)
    assert f"{name}:" in str(err.value)
    assert expected in str(err.value)


def test_secret_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-SUPERSECRET-123")
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None)
    assert "SUPERSECRET" not in str(err.value)
    ok = load_settings(_env_file=None, slack_bot_token="xoxb-SUPERSECRET-9")
    assert "SUPERSECRET" not in repr(ok)
    assert "SUPERSECRET" not in str(ok.model_dump())


def test_missing_required_setting_is_named() -> None:
    s = load_settings(_env_file=None)
    with pytest.raises(SettingsError) as err:
        s.require("slack_bot_token", "slack_signing_secret")
    assert "SLACK_BOT_TOKEN: missing" in str(err.value)
    assert "SLACK_SIGNING_SECRET: missing" in str(err.value)


def test_cli_reports_bad_setting_without_traceback(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", "TIMEZONE": "Nowhere/Else", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert proc.returncode == 1
    assert "TIMEZONE" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_admin_ids_parsed() -> None:
    s = load_settings(_env_file=None, cs_ops_admins=" U1, U2 ,,U3")
    assert s.admin_ids == frozenset({"U1", "U2", "U3"})


def test_slack_api_url_gets_its_trailing_slash() -> None:
    assert load_settings(_env_file=None, slack_api_url="http://127.0.0.1:9/api").slack_api_url == (
        "http://127.0.0.1:9/api/"
    )
    assert load_settings(_env_file=None, slack_api_url="http://127.0.0.1:9/api/").slack_api_url == (
        "http://127.0.0.1:9/api/"
    )
