"""One reading of what people type, for Slack and the CLI alike: accounts, views, months.

Runs on the demo export synced into the test database (SQLite, or PostgreSQL under TEST_DATABASE_URL).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.scoring_helpers import add_account

from bot.cli import cli
from bot.features.usage.command import Viewer, answer_text
from db.queries.accounts import clear_cache, resolve_account, salesforce_id_forms, salesforce_suffix
from db.session import session_scope
from workflows.demo import generate_export
from workflows.settings import Settings
from workflows.sync import CsvExport, sync_export

TODAY = date(2026, 11, 27)  # the demo's data runs from 2025-10 to 2026-10


@pytest.fixture
def demo(settings: Settings, tmp_path: Path) -> Settings:
    clear_cache()
    generate_export(tmp_path / "export", accounts=14, months=13, seed=7, today=TODAY)
    assert sync_export(CsvExport(tmp_path / "export"), settings.database_url).ok
    return settings


def _try(settings: Settings, text: str) -> str:
    with session_scope(settings.database_url) as s:
        return answer_text(s, settings, text, Viewer(admin_ids=frozenset()))


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_salesforce_ids_in_any_case_and_their_15_character_form(settings: Settings) -> None:
    id15 = "0016100001AbCdE"
    id18 = id15 + salesforce_suffix(id15)
    assert len(id18) == 18 and id18.startswith(id15)
    with session_scope(settings.database_url) as s:
        add_account(s, id18, "Cased Corp")
    clear_cache()
    with session_scope(settings.database_url) as s:
        for text in (id18, id18.lower(), id18.upper(), id15):
            res = resolve_account(s, text)
            assert res.kind == "one" and res.account is not None and res.account.id == id18, text
        # The 15-character form is case-sensitive: another case is another id.
        assert resolve_account(s, id15.lower()).kind != "one" or id15.lower() in salesforce_id_forms(id15.lower())
    assert id15 in salesforce_id_forms(id18.lower())


def test_cli_and_slack_find_the_same_account(demo: Settings) -> None:
    code, out = _run("report", "acme cor")
    assert code == 0 and out.startswith("Acme Corp (")
    assert "Acme Corp · Summary" in _try(demo, "/usage acme cor")
    code, out = _run("report", "acme")
    assert code == 1 and "Acme Corp" in out and "Acme Analytics GmbH" in out  # ambiguous: both, with ids
    pick = _try(demo, "/usage acme")
    assert "Acme Corp" in pick and "Acme Analytics GmbH" in pick and "Which one?" in pick


def test_suggestions_only_when_close(demo: Settings) -> None:
    out = _try(demo, "/usage globex")
    assert "couldn't find an account" in out and "Did you mean" not in out and "no accounts loaded" not in out
    code, text = _run("report", "globex")
    assert code == 1 and "Did you mean" not in text


def test_unknown_view_words_and_ignored_words_are_said(demo: Settings) -> None:
    out = _try(demo, "/usage acme corp helth")
    assert "did you mean health?" in out and "Summary" not in out
    out = _try(demo, "/usage acme corp health please")
    assert "Acme Corp · Health" in out and "I ignored “please”" in out


def test_months_outside_the_data_are_refused_everywhere(demo: Settings) -> None:
    code, out = _run("report", "Acme Corp", "--month", "2027-05")
    assert code == 1 and "2025-10" in out and "2026-10" in out
    code, out = _run("report", "Acme Corp", "--month", "2026-09", "--json")
    assert code == 0 and '"month": "2026-09"' in out
    out = _try(demo, "/usage acme corp health 2027-05")
    assert "no usage data for 2027-05" in out and "2025-10 to 2026-10" in out
    assert "month shown 2026-09" in _try(demo, "/usage acme corp 2026-09")
    code, out = _run("alerts", "--dry-run", "--month", "2026-11")
    assert code == 1 and "2026-10" in out
    code, out = _run("alerts", "--dry-run", "--month", "2025-10")  # the month before has no data
    assert code == 0 and "nothing to compare" in out and "stopped reporting" not in out
    code, out = _run("digest", "--dry-run", "--month", "2030-01")
    assert code == 1 and "2025-10" in out


def test_digest_for_an_unknown_tam_says_so_and_dry_run_counts_what_it_lists(demo: Settings) -> None:
    code, out = _run("digest", "--dry-run", "--tam", "nobody@example.com")
    assert code == 1 and "No account has the TAM 'nobody@example.com'" in out
    code, out = _run("digest", "--dry-run", "--tam", "alex.rivera@example.com")
    assert code == 0
    assert "would message 1 TAM" in out and "0 TAMs messaged" not in out


def test_an_empty_database_says_to_run_db_upgrade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    generate_export(tmp_path / "export", accounts=2, months=2, seed=1, today=TODAY)
    code, out = _run("sync", str(tmp_path / "export"), "--no-alerts")
    assert code == 1 and "usagebot db upgrade" in out
    code, out = _run("db", "upgrade")
    assert code == 0 and "Created the database schema" in out
    code, out = _run("db", "upgrade")
    assert code == 0 and "up to date" in out


def test_labels_are_offered_only_where_they_apply() -> None:
    from bot.blocks.ids import relabel_targets
    from workflows.relabel import applicable_labels

    assert "Geo Secondary Node" not in relabel_targets("GitLab.com")
    assert "Geo Secondary Node" not in applicable_labels("GitLab.com")
    assert "Geo Secondary Node" in relabel_targets("Self-Managed")
    assert set(relabel_targets("GitLab.com")) == {"Production", "Non-Production", "Obsolete"}


def test_instances_view_offers_no_geo_button_to_a_namespace(demo: Settings) -> None:
    from bot.features.usage.blocks import ViewOptions, render_instances
    from workflows.report import build_account_report

    with session_scope(demo.database_url) as s:
        for account_id in ("001610000000000000", "001610000000000003", "001610000000000005"):
            report = build_account_report(s, account_id, rules="gitlab-current")
            answer = render_instances(report, ViewOptions(may_relabel=True))
            saas = {str(i.instance.id) for i in report.instances if i.instance.deployment_type == "GitLab.com"}
            for block in answer.blocks:
                if block.get("type") == "actions" and str(block.get("block_id", "")).split(":")[-1] in saas:
                    labels = {e["text"]["text"] for e in block["elements"]}
                    assert "Geo Secondary Node" not in labels
