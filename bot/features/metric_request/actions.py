"""Clicks of the metric request: "Request a metric" on usage answers, then inside the modal
"This is it", "None of these", "Add me to it" and "File a new one".

Every click is acknowledged first; slow work (GitLab) follows, and its result replaces the modal.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.app import Deps, deps_of
from bot.blocks import ids
from bot.errors import REQUEST_GONE, slack_text
from bot.features.metric_request import blocks as render
from bot.features.metric_request.views import open_form
from db.models.requests import MetricRequest
from workflows.gitlab_client import gitlab_factory
from workflows.metric_request import duplicates, filing, form
from workflows.policy import REFUSE_NOT_YOURS, may_act_on_request

log = logging.getLogger("usagebot.metric_request")


def _clicked(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    view_id = str((body.get("view") or {}).get("id") or "")
    action = (body.get("actions") or [{}])[0]
    return view_id, render.decode(action.get("value"))


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
    client: WebClient, deps: Deps, view_id: str, request_id: int, *, nothing_fits: bool = False
) -> None:
    """After "None of these" (or when no metric fits at all): show earlier look-alike requests to join,
    else file this one."""
    lead = f"{render.NOTHING_FITS}\n\n" if nothing_fits else ""
    _show(client, view_id, render.working_view(f"{lead}Checking whether someone already asked for this…"))
    try:
        with deps.sessions() as s:
            project = deps.settings.metric_request_project
            check = duplicates.find_duplicates(s, request_id, project, gitlab_factory(deps.settings))
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


def _own_request(client: WebClient, deps: Deps, user_id: str, view_id: str, request_id: int) -> bool:
    """A request is continued only by the person who made it (a button value can be forged: the request id in
    it is checked against the clicking user, not trusted)."""
    with deps.sessions() as s:
        request = s.get(MetricRequest, request_id)
        owner = request.requester_id if request is not None else None
    if owner is None or may_act_on_request(user_id, {owner}):
        return True
    log.warning("metric request %s: %s clicked a button of someone else's request", request_id, user_id)
    _show(client, view_id, render.problem_view(REFUSE_NOT_YOURS))
    return False


def _own_click(
    client: WebClient, context: BoltContext, body: dict[str, Any]
) -> tuple[str, dict[str, Any], int] | None:
    """The clicked modal, the button's value and its request id when the clicker may go on with that request;
    None when the request is gone or someone else's (the modal already says so)."""
    view_id, value = _clicked(body)
    request_id = _request_id(value)
    if request_id is None:
        _show(client, view_id, render.problem_view(REQUEST_GONE))
        return None
    if not _own_request(client, deps_of(context), context.user_id or "", view_id, request_id):
        return None
    return view_id, value, request_id


def register(app: App) -> None:
    @app.action(ids.REQUEST_METRIC_ACTION)
    def on_request_button(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        ack()
        deps = deps_of(context)
        value = ids.decode_value((body.get("actions") or [{}])[0].get("value"))
        with deps.sessions() as s:
            account = form.account_label(s, value.get("a"))
        channel = context.channel_id
        open_form(client, deps, body["trigger_id"], channel_id=channel, account=account)

    @app.action(render.PICK_ACTION)
    def on_pick(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        ack()
        clicked = _own_click(client, context, body)
        if clicked is None:
            return
        view_id, value, request_id = clicked
        try:
            with deps_of(context).sessions() as s:
                found = form.answer(s, request_id, str(value.get("k") or ""))
        except form.RequestNotFound:
            _show(client, view_id, render.problem_view(REQUEST_GONE))
            return
        _show(
            client,
            view_id,
            render.answered_view(found.card),
        )

    @app.action(render.NONE_ACTION)
    def on_none(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        ack()
        deps = deps_of(context)
        clicked = _own_click(client, context, body)
        if clicked is None:
            return
        view_id, _, request_id = clicked
        check_then_file(client, deps, view_id, request_id)

    @app.action(render.FILE_NEW_ACTION)
    def on_file_new(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        ack()
        clicked = _own_click(client, context, body)
        if clicked is None:
            return
        view_id, _, request_id = clicked
        _show(client, view_id, render.working_view("Filing your request in GitLab…"))
        _file(client, deps_of(context), view_id, request_id)

    @app.action(render.ADD_ME_ACTION)
    def on_add_me(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        ack()
        deps = deps_of(context)
        clicked = _own_click(client, context, body)
        if clicked is None:
            return
        view_id, value, request_id = clicked
        try:
            result = duplicates.join(
                deps.sessions,
                request_id,
                str(value.get("t") or ""),
                gitlab_factory(deps.settings),
                deps.settings.metric_request_project,
            )
        except (form.RequestNotFound, ValueError):
            _show(client, view_id, render.problem_view(REQUEST_GONE))
            return
        _show(client, view_id, render.joined_view(result.title, result.issue_url, result.note_problem))
