"""The metric request modal: opening it (slash command, global shortcut, button), its submission,
and the product-area options of the external select.

The modal opens first (a trigger_id expires after 3 seconds); the search runs on submit and its
candidates replace the form (`response_action: update`). Validation errors stay in the form.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.app import deps_of, discard, session_of, user_name_of
from bot.features.metric_request import blocks as render
from bot.listener import UsageContext, acked_then
from workflows.metric_request import form

log = logging.getLogger("usagebot.metric_request")


def open_form(ctx: UsageContext, *, channel_id: str | None = None, account: str | None = None) -> None:
    """Open the request modal at once (one quick query for the product groups, then views.open)."""
    areas = form.product_areas(ctx.session)
    ctx.client.views_open(
        trigger_id=ctx.trigger_id, view=render.form_view(areas, account=account, channel=channel_id)
    )
    # While the person types, build the search index if this process has not yet (seconds, once).
    form.warm_search(ctx.deps.sessions)


def from_command(ctx: UsageContext) -> None:
    """`/usage request-metric` (runs right after the ack; `/usage` has already refused guests)."""
    open_form(ctx, channel_id=ctx.channel_id)


def on_shortcut(ctx: UsageContext) -> None:
    """The global shortcut: the empty form."""
    open_form(ctx)


def register(app: App) -> None:
    # `/usage request-metric` reaches `from_command` through bot.features.usage.command.GLOBAL_SUBCOMMANDS.
    app.shortcut(render.SHORTCUT)(**acked_then("request shortcut", on_shortcut))

    # A submission's ack carries its answer (errors, or the "looking" view): a plain listener.
    @app.view(render.CALLBACK_FORM)
    def on_submit(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        deps = deps_of(context)
        view = body.get("view") or {}
        values = render.read_form(((view.get("state") or {}).get("values")) or {})
        request_form = form.RequestForm(
            what=values.get("what") or "",
            product_group=values.get("product_group"),
            count_kind=values.get("count_kind"),
            why=values.get("why"),
            account=values.get("account"),
        )
        errors = form.validate(request_form)
        if errors:
            ack(response_action="errors", errors=render.form_errors(errors))
            return
        # Answer Slack at once; the search (a cold index takes seconds) fills the modal right after.
        ack(response_action="update", view=render.working_view("Looking for existing metrics…"))
        meta = render.decode(view.get("private_metadata"))
        user_id, user_name = context.user_id or "", user_name_of(body)
        # The view id is the submission's identity: a double submit of the same view is one request.
        view_id = str(view.get("id") or "")
        key = f"view:{view_id or body.get('trigger_id')}"
        session = session_of(context)
        try:
            request = form.start_request(
                session,
                key=key,
                requester_id=user_id,
                requester_name=user_name,
                form=request_form,
                channel_id=meta.get("c"),
            )
            request_id, status, candidates = request.id, request.status, list(request.candidates)
            view_out = render.candidates_view(request.id, request.what, candidates)
            if not candidates and status == "draft":
                # No metric fits: say so plainly and go straight on to filing (after the look-alike check).
                from bot.features.metric_request.actions import check_then_file

                check_then_file(client, session, deps, view_id, request_id, nothing_fits=True)
                return
        except Exception:
            discard(context)
            log.exception("metric request submission failed: user=%s view=%s", user_id, view_id)
            view_out = render.problem_view("Sorry, something went wrong on our side; please try again in a minute.")
        try:
            client.views_update(view_id=view_id, view=view_out)
        except SlackApiError as exc:  # the person closed the modal; the request is stored anyway
            log.info("could not show the candidates: %s", exc.response.get("error"))

    # The options' ack carries them: a plain listener.
    @app.options(render.AREA_OPTIONS_ACTION)
    def on_area_options(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        areas = form.product_areas(session_of(context))
        ack(options=render.area_options(areas, str(body.get("value") or "")))
