"""An instance's version reads the same in `usagebot report` and in Slack: 'v17.2.0 (…behind…)' or 'version n/a'."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli
from bot.features.usage.command import Viewer, answer_text
from db.queries.accounts import clear_cache
from db.session import session_scope
from workflows.demo import generate_export
from workflows.settings import Settings
from workflows.sync import CsvExport, sync_export


def test_a_namespace_without_a_version_reads_version_n_a_everywhere(settings: Settings, tmp_path: Path) -> None:
    clear_cache()
    generate_export(tmp_path / "export", accounts=3, months=2, seed=7, today=date(2026, 11, 27))
    assert sync_export(CsvExport(tmp_path / "export"), settings.database_url).ok
    result = CliRunner().invoke(cli, ["report", "Acme Corp"])
    assert result.exit_code == 0, result.output
    namespace_lines = [line for line in result.output.splitlines() if "· GitLab.com ·" in line]
    assert namespace_lines, result.output  # Acme Corp has a GitLab.com namespace in the demo
    assert all("· version n/a ·" in line for line in namespace_lines), namespace_lines
    assert "v?" not in result.output
    with session_scope(settings.database_url) as s:
        slack = answer_text(s, settings, "/usage acme corp instances", Viewer(admin_ids=frozenset()))
    assert "version n/a" in slack and "v?" not in slack
