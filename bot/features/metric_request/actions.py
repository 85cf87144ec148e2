"""Clicks of the metric request: "Request a metric" on usage answers, then inside the modal
"This is it", "None of these", "Add me to it" and "File a new one".

Every click is acknowledged first; slow work (GitLab) follows, and its result replaces the modal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot.app import Deps
from bot.blocks import ids
from bot.errors import REQUEST_GONE, slack_text
from bot.features.metric_request import blocks as render
from bot.features.metric_request.views import open_form
from bot.listener import UsageContext, acked_then
from db.models.requests import MetricRequest
from workflows.gitlab_client import gitlab_factory
from workflows.metric_request import duplicates, filing, form
from workflows.policy import REFUSE_NOT_YOURS, may_act_on_request

log = logging.getLogger("usagebot.metric_request")


def _show(client: WebClient, view_id: str, view: dict[str, Any]) -> None:
    try:
        client.views_update(view_id=view_id, view=view)
    except SlackApiError as exc:  # the person closed the modal: the work is done and recorded anyway
        log.info("could not update the metric request modal: %s", exc.response.get("error"))


def _file(client: WebClient, deps: Deps, view_id: str, request_id: int) -> None:
    settings = deps.settings
    try:
        outcome = filing.file_request(deps.sessions, settings, request_id, gitlab_factory(settings), client)
    except filing.AlreadyDecided as exc:
        _show(client, view_id, render.problem_view(slack_text(exc)))
        return
    if outcome.status == "filed" and outcome.issue_url:
        _show(client, view_id, render.filed_view(outcome.issue_url, outcome.issue_iid, outcome.found_existing))
    elif outcome.status == "busy":
        _show(client, view_id, render.busy_view())
    else:
        _show(client, view_id, render.pending_view(outcome.reason))


def check_then_file(
    client: WebClient, session: Session, deps: Deps, view_id: str, request_id: int, *, nothing_fits: bool = False
) -> None:
    """After "None of these" (or when no metric fits at all): show earlier look-alike requests to join,
    else file this one."""
    lead = f"{render.NOTHING_FITS}\n\n" if nothing_fits else ""
    _show(client, view_id, render.working_view(f"{lead}Checking whether someone already asked for this…"))
    try:
        project = deps.settings.metric_request_project
        check = duplicates.find_duplicates(session, request_id, project, gitlab_factory(deps.settings))
    except form.RequestNotFound:
        _show(client, view_id, render.problem_view(REQUEST_GONE))
        return
    if check.duplicates:
        _show(client, view_id, render.duplicates_view(request_id, check.duplicates, check.gitlab_problem))
        return
    _show(client, view_id, render.working_view(f"{lead}Filing your request in GitLab…"))
    _file(client, deps, view_id, request_id)


def _request_id(value: dict[str, Any]) -> int | None:
    try:
        return int(value["r"])
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Clicked:
    """A click inside the request's modal, by the person who made the request."""

    view_id: str
    value: dict[str, Any]
    request_id: int


def _own_click(ctx: UsageContext) -> Clicked | None:
    """The clicked modal, the button's value and its request id when the clicker may go on with that request;
    None when the request is gone or someone else's (the modal already says so). A request is continued only
    by the person who made it (a button value can be forged: the request id in it is checked against the
    clicking user, not trusted)."""
    view_id = str((ctx.body.get("view") or {}).get("id") or "")
    value = render.decode(ctx.action.get("value"))
    request_id = _request_id(value)
    if request_id is None:
        _show(ctx.client, view_id, render.problem_view(REQUEST_GONE))
        return None
    request = ctx.session.get(MetricRequest, request_id)
    owner = request.requester_id if request is not None else None
    if owner is None or may_act_on_request(ctx.user_id, {owner}):
        return Clicked(view_id, value, request_id)
    log.warning("metric request %s: %s clicked a button of someone else's request", request_id, ctx.user_id)
    _show(ctx.client, view_id, render.problem_view(REFUSE_NOT_YOURS))
    return None


def on_request_button(ctx: UsageContext) -> None:
    """"Request a metric" on a usage answer: the form, with the account filled in."""
    value = ids.decode_value(ctx.action.get("value"))
    account = form.account_label(ctx.session, value.get("a"))
    open_form(ctx, channel_id=ctx.channel_id, account=account)


def on_pick(ctx: UsageContext) -> None:
    """"This is it": the request is answered by an existing metric."""
    clicked = _own_click(ctx)
    if clicked is None:
        return
    try:
        found = form.answer(ctx.session, clicked.request_id, str(clicked.value.get("k") or ""))
    except form.RequestNotFound:
        _show(ctx.client, clicked.view_id, render.problem_view(REQUEST_GONE))
        return
    _show(ctx.client, clicked.view_id, render.answered_view(found.card))


def on_none(ctx: UsageContext) -> None:
    """"None of these": look-alike requests to join, else file it."""
    clicked = _own_click(ctx)
    if clicked is not None:
        check_then_file(ctx.client, ctx.session, ctx.deps, clicked.view_id, clicked.request_id)


def on_file_new(ctx: UsageContext) -> None:
    """"File a new one" (none of the look-alikes is it)."""
    clicked = _own_click(ctx)
    if clicked is None:
        return
    _show(ctx.client, clicked.view_id, render.working_view("Filing your request in GitLab…"))
    _file(ctx.client, ctx.deps, clicked.view_id, clicked.request_id)


def on_add_me(ctx: UsageContext) -> None:
    """"Add me to it": a +1 on an earlier request's issue instead of a new one."""
    clicked = _own_click(ctx)
    if clicked is None:
        return
    deps = ctx.deps
    try:
        result = duplicates.join(
            deps.sessions,
            clicked.request_id,
            str(clicked.value.get("t") or ""),
            gitlab_factory(deps.settings),
            deps.settings.metric_request_project,
        )
    except (form.RequestNotFound, ValueError):
        _show(ctx.client, clicked.view_id, render.problem_view(REQUEST_GONE))
        return
    _show(ctx.client, clicked.view_id, render.joined_view(result.title, result.issue_url, result.note_problem))


def register(app: App) -> None:
    app.action(ids.REQUEST_METRIC_ACTION)(**acked_then("request metric", on_request_button))
    app.action(render.PICK_ACTION)(**acked_then("request pick", on_pick))
    app.action(render.NONE_ACTION)(**acked_then("request none", on_none))
    app.action(render.FILE_NEW_ACTION)(**acked_then("request file new", on_file_new))
    app.action(render.ADD_ME_ACTION)(**acked_then("request add me", on_add_me))
