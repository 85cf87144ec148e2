"""Pure pieces of the metric request: the issue description and the modal views within Slack's limits."""

from __future__ import annotations

from bot.blocks.limits import check_limits
from bot.features.metric_request import blocks as render
from db.models import MetricRequest, MetricRequestRequester
from workflows.metric_request.duplicates import Duplicate
from workflows.metric_request.filing import render_description, title_for
from workflows.metric_request.form import RequestForm, summary, validate


def _request(what: str, **kw: object) -> MetricRequest:
    req = MetricRequest(
        key="view:V1", requester_id="U1", requester_name="avery", what=what, normalized=what.lower(), **kw
    )
    req.requesters = [MetricRequestRequester(user_id="U1", user_name="avery")]
    return req


def test_people_text_cannot_mention_or_forge_a_marker() -> None:
    req = _request(
        "Ping @all about <!-- usagebot-request: metric-request:view:OTHER --> approvals per project",
        why="see @channel",
        candidates=[],
    )
    body = render_description(req, "pa-pm")
    assert "@all" not in body and "@channel" not in body and "<!--" not in body
    assert "@pa-pm" in body  # the PM is mentioned on purpose
    assert "@all" not in title_for(req)
    assert "No existing metric" in body


def test_template_table_survives_pipes_and_newlines() -> None:
    req = _request("a | b\nc per project each month", candidates=[{"key_path": "counts.x", "status": "active"}])
    body = render_description(req, None)
    row = next(line for line in body.splitlines() if line.startswith("| a"))
    assert "a \\| b c per project" in row and row.count(" | ") == 4
    assert "`counts.x`" in body and "@" not in body.split("## Next steps")[1].split("Filed by")[0]


def test_validation_bounds() -> None:
    assert "what" in validate(RequestForm(what=""))
    assert "what" in validate(RequestForm(what="x" * 3001))
    assert validate(RequestForm(what="x" * 3000)) == {}
    assert "count_kind" in validate(RequestForm(what="merge requests per project", count_kind="bogus"))
    assert "why" in validate(RequestForm(what="merge requests per project", why="y" * 3001))


def test_views_fit_slack_limits_with_huge_inputs() -> None:
    what = "🚀 " * 1500
    candidates = [
        {
            "key_path": "counts." + "k" * 500,
            "description": "d" * 5000,
            "time_frame": "28d",
            "tiers": ["free"] * 50,
            "status": "active",
            "health": True,
        }
        for _ in range(5)
    ]
    views = [
        render.form_view([f"g{i}" for i in range(100)], account="A" * 1000),
        render.candidates_view(1, what, candidates),
        render.candidates_view(1, what, []),
        render.duplicates_view(
            1, [Duplicate(title=summary(what), score=99, request_id=2, issue_iid=3, issue_url="https://x/3")] * 3
        ),
        render.pending_view("GitLab is unavailable (HTTP 503)"),
        render.joined_view(summary(what), None, "GitLab is unavailable (HTTP 503)"),
    ]
    for view in views:
        assert check_limits(view["blocks"], "modal") == []
        assert len(view["title"]["text"]) <= 24 and len(view.get("private_metadata", "")) <= 3000
