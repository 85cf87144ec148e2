"""Sync input that could silently change numbers, crash a load, or leak a secret.

Each test is named after the weakness it closes (issue: hostile input can't act, ping, spoof or leak).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from support.sync_helpers import copy_fixture

from bot.cli import cli
from db.models import SyncRun
from db.session import session_scope
from workflows.secrets import RedactingFilter, redact, safe_url
from workflows.sync import CsvExport, SqlExport, sync_export


def _runs(url: str) -> list[SyncRun]:
    with session_scope(url) as s:
        runs = list(s.scalars(select(SyncRun).order_by(SyncRun.id)))
        s.expunge_all()
        return runs


def _edit_csv(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def test_duplicated_header_column_is_rejected_naming_the_column(db_url: str, tmp_path: Path) -> None:
    """Issue item 6: renaming `license_user_count` to `billable_user_count` synced (the first column of that
    name won) and changed every account's utilization."""
    export = copy_fixture(tmp_path / "export")
    _edit_csv(export / "usage_monthly.csv", ",license_user_count,", ",billable_user_count,")
    result = sync_export(CsvExport(export), db_url)
    assert result.status == "rejected"
    assert any(
        p.startswith("usage_monthly.csv:1: billable_user_count: the column appears 2 times") for p in result.problems
    ), result.problems
    assert _runs(db_url)[-1].status == "rejected"


def test_nul_byte_is_a_problem_at_its_file_and_line_and_the_run_is_recorded(db_url: str, tmp_path: Path) -> None:
    """Issue item 8: a NUL byte in any field crashed a PostgreSQL sync with a raw traceback and no sync_runs
    row. It is a validation problem at file:line on every database."""
    export = copy_fixture(tmp_path / "export")
    _edit_csv(export / "accounts.csv", "Acme", "Ac\x00me")
    _edit_csv(export / "usage_monthly.csv", "gitlab.acme.com", "gitlab.acme\x00.com")
    result = sync_export(CsvExport(export), db_url)
    assert result.status == "rejected"
    nul = [p for p in result.problems if "NUL character" in p]
    assert any(p.startswith("accounts.csv:") and ": account_name: " in p for p in nul) or any(
        p.startswith("accounts.csv:") for p in nul
    ), result.problems
    assert any(p.startswith("usage_monthly.csv:2: hostname:") for p in nul), result.problems
    runs = _runs(db_url)
    assert runs and runs[-1].status == "rejected" and "NUL" in (runs[-1].message or "")


def test_an_unexpected_failure_still_records_a_failed_run(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every failure path leaves a failed sync_runs row (a driver error outside SQLAlchemy's wrapping here)."""
    from workflows.sync import run as sync_run

    def boom(*_a: object, **_k: object) -> int:
        raise ValueError("driver said no")

    monkeypatch.setattr(sync_run.Merger, "finish_instances", boom)
    with pytest.raises(sync_run.SyncFailed, match="driver said no"):
        sync_export(CsvExport(copy_fixture(tmp_path / "export")), db_url)
    runs = _runs(db_url)
    assert runs and runs[-1].status == "failed" and "driver said no" in (runs[-1].message or "")


def _sqlite_source(path: Path) -> str:
    from test_sync_sql import _sqlite_copy_of_fixture

    return _sqlite_copy_of_fixture(path)


def test_password_in_a_query_parameter_is_hidden_in_output_and_in_sync_runs_source(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue item 9: `--from-sql …?password=…` printed the password and stored it in sync_runs.source."""
    url = _sqlite_source(tmp_path / "export.sqlite") + "?password=hunter2&mode=ro&token=tok3n"
    monkeypatch.setenv("DATABASE_URL", db_url)
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(cli, ["sync", "--from-sql", url, "--no-alerts"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output and "tok3n" not in result.output
    assert "hunter2" not in caplog.text and "tok3n" not in caplog.text
    source = _runs(db_url)[-1].source
    assert "hunter2" not in source and "tok3n" not in source and "mode=ro" in source


def test_a_source_that_cannot_be_read_never_shows_its_secrets(db_url: str) -> None:
    url = "postgresql+psycopg://cs:s3cret@127.0.0.1:1/warehouse?connect_timeout=1&password=hunter2"
    from workflows.sync import SourceError

    with pytest.raises(SourceError) as err:
        SqlExport(url)
    assert "s3cret" not in str(err.value) and "hunter2" not in str(err.value)


@given(
    user=st.from_regex(r"[a-z]{1,8}", fullmatch=True),
    secret=st.from_regex(r"Zq9[A-Za-z0-9]{3,13}", fullmatch=True),
    name=st.sampled_from(["password", "PASSWORD", "db_pass", "pwd", "token", "private_key_file_pwd", "api_key"]),
)
@settings(max_examples=100, deadline=None)
def test_secrets_in_any_url_form_are_hidden(user: str, secret: str, name: str) -> None:
    for url in (
        f"postgresql+psycopg://{user}:{secret}@db.example:5432/wh",
        f"snowflake://{user}@acct/db/schema?warehouse=wh&{name}={secret}",
        f"postgresql://{user}:{secret}@h/db?{name}={secret}&sslmode=require",
    ):
        assert secret not in safe_url(url)
        assert secret not in redact(f"cannot open {url}: refused")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "source %s", (f"mysql://{user}:{secret}@h/db",), None)
    RedactingFilter().filter(record)
    assert secret not in record.getMessage()
