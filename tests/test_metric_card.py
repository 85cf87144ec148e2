"""A metric's card: found by key path or in plain words, shown the same in Slack, `usagebot try` and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from bot.cli import cli
from bot.features.metric.blocks import card_text, render_lookup
from bot.features.usage.command import answer_text
from db.session import session_scope
from workflows.metric_card import from_definition, lookup, metrics_url, reported_in
from workflows.metrics_import import SAMPLE_PATH, import_definitions
from workflows.settings import Settings


def _sample(url: str) -> None:
    with session_scope(url) as session:
        import_definitions(session, SAMPLE_PATH)


def test_exact_key_path_in_any_case(db_url: str) -> None:
    _sample(db_url)
    with session_scope(db_url) as session:
        found = lookup(session, "  COUNTS.Merge_Requests ")
    assert found.exact and found.card is not None and found.card.key_path == "counts.merge_requests"
    assert found.others == []


def test_plain_words_find_the_best_fitting_metric(db_url: str) -> None:
    _sample(db_url)
    with session_scope(db_url) as session:
        found = lookup(session, "how many ppl open MRs each month")
    assert not found.exact and found.card is not None
    assert "mr" in found.card.key_path and (found.card.confidence or 0) >= 0.5
    assert len(found.others) <= 3


def test_nothing_fits_is_said_plainly(db_url: str) -> None:
    _sample(db_url)
    with session_scope(db_url) as session:
        found = lookup(session, "mean time to recovery (MTTR) of incidents")
    assert found.card is None and found.others == []
    text = render_lookup(found).blocks[0]["text"]["text"]
    assert "Nothing in the Metrics Dictionary measures" in text and "/usage request-metric" in text


def test_empty_text_and_empty_dictionary(db_url: str) -> None:
    with session_scope(db_url) as session:
        assert lookup(session, "   ").card is None
        empty = lookup(session, "pipelines")
    assert empty.empty_dictionary
    assert "No Metrics Dictionary is loaded" in render_lookup(empty).text


def test_the_card_says_everything_and_escapes_it(db_url: str, tmp_path: Path) -> None:
    hostile = "Counts <!channel> & <https://evil.example|Acme SSO> *bold*"
    folder = tmp_path / "defs"
    folder.mkdir()
    (folder / "x.yml").write_text(
        yaml.safe_dump(
            {
                "key_path": "counts.widget_events",
                "description": hostile,
                "product_group": "<@U123>",
                "status": "removed",
                "milestone_removed": "17.2",
                "time_frame": ["28d", "all"],
                "data_source": "internal_events",
                "tiers": ["premium", "ultimate"],
            }
        ),
        encoding="utf-8",
    )
    with session_scope(db_url) as session:
        import_definitions(session, folder)
    with session_scope(db_url) as session:
        card = lookup(session, "counts.widget_events").card
    assert card is not None
    text = card_text(card)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "<https://evil.example" not in text and "&lt;@U123&gt;" in text
    for fact in ("last 28 days, all time", "premium, ultimate", "removed (no longer reported) in 17.2"):
        assert fact in text
    assert "internal events" in text and "Service Ping (its events are also sent to Snowplow)" in text
    assert f"<{metrics_url('counts.widget_events')}|" in text
    assert reported_in("database") == "Service Ping"


def test_the_request_flow_shows_the_same_card(db_url: str) -> None:
    from bot.features.metric_request.blocks import candidates_view

    _sample(db_url)
    with session_scope(db_url) as session:
        card = lookup(session, "counts.projects").card
        assert card is not None
        view = candidates_view(1, "projects", [card.stored()])
    assert card_text(card, description_max=600) in json.dumps(view, ensure_ascii=False).replace("\\n", "\n")


def test_usage_metric_offline(settings: Settings) -> None:
    _sample(settings.database_url)
    with session_scope(settings.database_url) as session:
        text = answer_text(session, settings, "/usage metric counts.projects")
        assert "counts.projects" in text and "Count of Projects created" in text and "metrics.gitlab.com" in text
        assert "Nothing in the Metrics Dictionary" in answer_text(session, settings, "/usage metric uptime SLA")
        assert "Tell me which metric" in answer_text(session, settings, "/usage metric")


def test_metrics_show_cli(settings: Settings) -> None:
    _sample(settings.database_url)
    result = CliRunner().invoke(cli, ["metrics", "show", "--json", "counts.projects"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["exact"] and data["card"]["key_path"] == "counts.projects"
    assert data["card"]["url"].startswith("https://metrics.gitlab.com/") and data["card"]["reported_in"]
    result = CliRunner().invoke(cli, ["metrics", "show", "customer", "NPS", "score"], catch_exceptions=False)
    assert result.exit_code == 1 and "Nothing in the Metrics Dictionary measures" in result.output


def test_card_from_a_definition_keeps_its_fields(db_url: str) -> None:
    _sample(db_url)
    from db.queries.metrics import get_definition

    with session_scope(db_url) as session:
        definition = get_definition(session, "counts.projects")
        assert definition is not None
        card = from_definition(definition, 0.7)
    assert card.to_json()["confidence"] == 0.7 and card.stored()["time_frames"] == card.time_frames
