"""`usagebot metrics import` and `usagebot metrics search` as a person runs them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli
from workflows.metrics_import import SAMPLE_PATH
from workflows.settings import Settings


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_import_then_search_json(settings: Settings) -> None:
    code, out = run("metrics", "import", str(SAMPLE_PATH))
    assert code == 0, out
    assert "active" in out and "removed" in out and "Stored" in out
    assert "Definitions with status broken" in out

    code, out = run("metrics", "search", "merge requests created", "--json", "--limit", "3")
    assert code == 0, out
    hits = json.loads(out)
    assert isinstance(hits, list) and 1 <= len(hits) <= 3
    for hit in hits:
        assert {"key_path", "description", "status", "time_frame", "confidence"} <= set(hit)
        assert isinstance(hit["key_path"], str) and hit["status"] in ("active", "removed", "broken")
        assert isinstance(hit["time_frame"], str) and 0.0 <= hit["confidence"] <= 1.0
    assert [h["confidence"] for h in hits] == sorted((h["confidence"] for h in hits), reverse=True)


def test_search_table(settings: Settings) -> None:
    run("metrics", "import", str(SAMPLE_PATH))
    code, out = run("metrics", "search", "how", "many", "projects", "do", "they", "have")
    assert code == 0
    assert out.startswith("Closest metrics for “how many projects do they have”")
    assert " 1. counts.projects" in out and "in health scoring" in out


def test_reimport_reports_no_changes(settings: Settings) -> None:
    run("metrics", "import", str(SAMPLE_PATH))
    code, out = run("metrics", "import", str(SAMPLE_PATH))
    assert code == 0 and " 0 new, 0 changed," in out


def test_problems_are_listed_and_exit_codes(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text("key_path: [oops\n", encoding="utf-8")
    code, out = run("metrics", "import", str(tmp_path))
    assert code == 1 and "bad.yml: not valid YAML" in out and "no metric definitions found" in out

    code, out = run("metrics", "import", str(tmp_path / "missing"))
    assert code == 1 and "no such file or folder" in out and "Traceback" not in out


def test_search_edge_cases(settings: Settings) -> None:
    code, out = run("metrics", "search", "merge requests")
    assert code == 1 and "no Metrics Dictionary definitions are loaded yet" in out

    run("metrics", "import", str(SAMPLE_PATH))
    assert run("metrics", "search", "   ", "--json") == (0, "[]\n")
    code, out = run("metrics", "search", "")
    assert code == 0 and "Nothing to search for" in out
    code, out = run("metrics", "search", "🙂" * 5000)
    assert code == 0 and "No metric matches" in out and len(out) < 400
    code, out = run("metrics", "search", "x", "--limit", "0")
    assert code == 2  # bad usage: click explains the allowed range
