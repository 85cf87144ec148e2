"""`/usage <account> [view]`: parse → guard → resolve the account → report → render → respond (ephemeral).

Two halves:
- `parse`, `account_answer` and `answer_text`: no Slack, used by the Slack handler AND by `usagebot try`.
- `register(app)`: the Bolt listener. It acks at once and does the work in a lazy listener (after the ack).

Subcommands other features answer are listed in `GLOBAL_SUBCOMMANDS` / `ACCOUNT_SUBCOMMANDS` as
"module:function", imported when first used: adding one is one line there (and its word in `GLOBAL_NAMES`
or `ALIASES`). A global handler is `(ctx: UsageContext) -> None`; an account handler is
`(ctx, account: AccountRef) -> None`; both answer with `ctx.show(...)` (or open a view with `ctx.client`;
`ctx.trigger_id` is there, and the handler runs right after the ack, inside the 3-second window).
"""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from importlib import import_module
from typing import Any, Literal

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot import guard
from bot.blocks import ids
from bot.blocks.format import blocks_to_text, escape
from bot.errors import slack_text
from bot.features.usage.blocks import (
    RENDERERS,
    VIEWS,
    Answer,
    ViewOptions,
    message,
    render_help,
    render_not_found,
    render_pick,
)
from bot.listener import UsageContext, acked_then
from db.queries.accounts import AccountRef, Resolution, resolve_account
from workflows.settings import Settings

log = logging.getLogger("usagebot.usage")
_MONTH_WORD = re.compile(r"^(\d{4})-(\d{1,2})$")

MAX_TEXT = 200  # characters of command text we read; longer input gets a friendly refusal
ALIASES: dict[str, str] = {
    "summary": "summary",
    "overview": "summary",
    "utilization": "utilization",
    "utilisation": "utilization",
    "util": "utilization",
    "licenses": "utilization",
    "health": "health",
    "adoption": "adoption",
    "adopt": "adoption",
    "features": "adoption",
    "instances": "instances",
    "instance": "instances",
    "namespaces": "instances",
    "versions": "versions",
    "version": "versions",
    "trends": "trends",
    "trend": "trends",
    "report": "report",
}
GLOBAL_NAMES: dict[str, str] = {
    "help": "help",
    "?": "help",
    "request-metric": "request-metric",
    "request_metric": "request-metric",
    "digest": "digest",
}
# `/usage mine [filters]`, `/usage team [filters]`: a list of accounts instead of one
# (bot/features/portfolio/command.py).
PORTFOLIO_WORDS = ("mine", "team")
# `/usage metric TEXT-or-key_path`: a Metrics Dictionary definition's card (bot/features/metric/command.py).
METRIC_WORDS = ("metric", "metrics")


# ---------------------------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class UsageRequest:
    kind: Literal["help", "global", "account", "portfolio", "metric", "too_long"]
    query: str = ""  # the account text (account kind)
    view: str = "summary"  # a view in VIEWS, "report", or the global subcommand's name
    length: int = 0  # of the raw text, for the too-long answer
    month: str | None = None  # a YYYY-MM word, as typed
    ignored: tuple[str, ...] = ()  # words after the view word
    unknown_view: str | None = None  # a last word that looks like a misspelt view
    suggested_view: str | None = None  # the view it looks like
    whole: str = ""  # every word but the month: in case it is an account's full name


_MARKUP = re.compile(r"<(?:[@#!][^|>]*\|)?([^|>]*)(?:\|([^>]*))?>")


def _clean(text: str) -> str:
    # Slack escapes &<> and wraps mentions/links in <…|label>: read the label, drop control characters.
    text = _MARKUP.sub(lambda m: m.group(2) or m.group(1), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in " \t")
    return " ".join(text.split())


def parse(text: str | None) -> UsageRequest:
    raw = text or ""
    if len(raw) > MAX_TEXT * 5:  # no need to even clean 10,000 characters
        return UsageRequest("too_long", length=len(raw))
    cleaned = _clean(raw)
    if not cleaned:
        return UsageRequest("help")
    if len(cleaned) > MAX_TEXT:
        return UsageRequest("too_long", length=len(cleaned))
    words = cleaned.split(" ")
    first = words[0].lower()
    if first in GLOBAL_NAMES and len(words) == 1:
        name = GLOBAL_NAMES[first]
        return UsageRequest("help") if name == "help" else UsageRequest("global", view=name)
    if first in METRIC_WORDS:
        return UsageRequest("metric", query=" ".join(words[1:]), view="metric")
    if first in PORTFOLIO_WORDS:
        return UsageRequest("portfolio", query=" ".join(words[1:]), view=first)
    # A month (YYYY-MM) after the account picks the month shown.
    month = next((w for w in words[1:] if _MONTH_WORD.match(w)), None)
    if month is not None:
        words = [w for w in words if w != month]
    # The view is the last view word after the account; words after it are ignored (and said so).
    for k in range(len(words) - 1, 0, -1):
        if words[k].lower() in ALIASES:
            return UsageRequest(
                "account",
                query=" ".join(words[:k]),
                view=ALIASES[words[k].lower()],
                month=month,
                ignored=tuple(words[k + 1 :]),
                whole=" ".join(words),
            )
    if len(words) > 1:
        close = difflib.get_close_matches(words[-1].lower(), list(ALIASES), n=1, cutoff=0.75)
        if close:
            return UsageRequest(
                "account",
                query=" ".join(words[:-1]),
                month=month,
                unknown_view=words[-1],
                suggested_view=ALIASES[close[0]],
                whole=" ".join(words),
            )
    return UsageRequest("account", query=" ".join(words), view="summary", month=month, whole=" ".join(words))


VIEW_WORDS_HELP = ", ".join(VIEWS)  # every view, from the routing itself, so a new one is never left out


@dataclass(frozen=True)
class Interpretation:
    """What a `/usage` account text asks for, after looking the account up: one account and view to show
    (with a note on anything ignored), or the answer to give instead (pick one, not found, did you mean,
    a month outside the data)."""

    account: AccountRef | None = None
    view: str = "summary"
    month: date | None = None
    note: str | None = None
    answer: Answer | None = None


def interpret(session: Session, req: UsageRequest) -> Interpretation:
    """The one reading of an account request, for Slack and `usagebot try` alike."""
    from workflows.months import MonthOutsideData, check_month

    month: date | None = None
    if req.month is not None:
        m = _MONTH_WORD.match(req.month)
        assert m is not None
        if not 1 <= int(m.group(2)) <= 12:
            return Interpretation(answer=message(f"“{escape(req.month)}” is not a month; write it as YYYY-MM."))
        try:
            month = check_month(session, date(int(m.group(1)), int(m.group(2)), 1))
        except MonthOutsideData as exc:
            return Interpretation(answer=message(slack_text(exc)))
    if (req.ignored or req.unknown_view) and req.whole:
        # The whole text may be an account's own name ("Foo Health Partners"): that wins.
        whole = resolve_account(session, req.whole)
        if whole.kind == "one" and whole.how in ("id", "exact", "prefix"):
            return Interpretation(whole.account, "summary", month)
    if req.unknown_view:
        command = f"/usage {req.query} {req.suggested_view}"
        return Interpretation(
            answer=message(
                f"I don't know the view “{escape(req.unknown_view)}”: did you mean *{req.suggested_view}*? "
                f"Try `{escape(command)}`. Views: {VIEW_WORDS_HELP}."
            )
        )
    res = resolve_account(session, req.query)
    other = resolution_answer(res, req.query, req.view)
    if other is not None:
        return Interpretation(answer=other)
    note = None
    if req.ignored:
        words = " ".join(req.ignored)
        note = (
            f"I ignored “{escape(words)}”: `/usage` takes an account, one view ({VIEW_WORDS_HELP}) "
            "and optionally a month (YYYY-MM)."
        )
    return Interpretation(res.account, req.view, month, note)


def with_note(answer: Answer, note: str | None) -> Answer:
    """The answer with a short note under its heading (what was ignored), still within Slack's limits."""
    if not note:
        return answer
    from bot.blocks.format import context

    blocks = list(answer.blocks)
    at = 2 if len(blocks) >= 2 and blocks[0].get("type") == "header" else 0
    blocks.insert(at, context(f":information_source: {note}"))
    if len(blocks) > 50:
        del blocks[-2]  # the limit is 50 blocks: drop the last body block, keep the footer buttons
    return Answer(answer.text, blocks, chart=answer.chart, ok=answer.ok)


# ---------------------------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class Viewer:
    """Who is asking, as far as the answer is concerned."""

    person: guard.Person | None = None
    admin_ids: frozenset[str] = frozenset()
    interactive: bool = True


def _options(session: Session, report: Any, viewer: Viewer, rules: Any) -> ViewOptions:
    from db.queries.accounts import label_versions

    may = guard.may_relabel(viewer.person, report.account.tam_email, viewer.admin_ids)
    unknown = [i.instance.id for i in report.instances if i.instance.label == "Unknown"]
    return ViewOptions(
        may_relabel=may,
        label_versions=label_versions(session, unknown) if may else {},
        interactive=viewer.interactive,
    )


def account_answer(
    session: Session,
    settings: Settings,
    account_id: str,
    view: str,
    viewer: Viewer,
    *,
    shared_by: str | None = None,
    with_chart: bool = True,
    month: date | None = None,
) -> Answer:
    """The answer for one known account and view (the same for Slack and `usagebot try`)."""
    from workflows.months import MonthOutsideData
    from workflows.report import AccountNotFound, build_account_report, rules_for

    rules = rules_for(settings.scoring_rules)
    try:
        report = build_account_report(session, account_id, month, rules=rules)
    except AccountNotFound as exc:
        return render_not_found(account_id, exc.suggestions)
    except MonthOutsideData as exc:
        return message(slack_text(exc))
    opts = _options(session, report, viewer, rules)
    if shared_by:
        opts = ViewOptions(opts.may_relabel, opts.label_versions, interactive=False, shared_by=shared_by)
    if view in ("trends", "adoption"):
        chart = None
        if with_chart:
            from bot.features.usage.chart import adoption_png, trends_png

            draw = adoption_png if view == "adoption" else trends_png

            def chart() -> bytes:
                return draw(report)

        from bot.features.usage.blocks import render_adoption, render_trends

        return (render_adoption if view == "adoption" else render_trends)(report, opts, chart=chart)
    return RENDERERS.get(view, RENDERERS["summary"])(report, opts)


def resolution_answer(res: Resolution, query: str, view: str) -> Answer | None:
    """The answer when the text did not name exactly one account, else None."""
    if res.kind == "many":
        return render_pick(query, [(c.id, c.name) for c in res.candidates], view)
    if res.kind == "none":
        return render_not_found(
            query, res.nearest, view, [(a.id, a.name) for a in res.nearest_accounts], any_accounts=res.any_accounts
        )
    return None


def too_long_answer(req: UsageRequest) -> Answer:
    return render_help(
        f":straight_ruler: That's {req.length:,} characters. `/usage` takes an account name or id "
        f"(at most {MAX_TEXT} characters) and optionally a view."
    )


def answer_text(session: Session, settings: Settings, text: str, viewer: Viewer | None = None) -> str:
    """`usagebot try`: the answer to a `/usage` text, as terminal text."""
    viewer = viewer or Viewer(admin_ids=settings.admin_ids, interactive=True)
    text = text.strip()
    if text.startswith("/usage"):
        text = text.removeprefix("/usage")
    req = parse(text)
    if req.kind == "help":
        answer = render_help()
    elif req.kind == "too_long":
        answer = too_long_answer(req)
    elif req.kind == "global":
        answer = message(f"`/usage {req.view}` works in Slack only (it opens a dialog or sends a DM).")
    elif req.kind == "portfolio":
        answer = _portfolio_offline(session, settings, req, viewer)
    elif req.kind == "metric":
        from bot.features.metric.command import metric_answer

        answer = metric_answer(session, req.query)
    else:
        found = interpret(session, req)
        if found.answer is not None:
            answer = found.answer
        elif found.view == "report":
            answer = message(f"`/usage {req.query} report` opens a dialog in Slack.")
        else:
            assert found.account is not None
            answer = account_answer(
                session, settings, found.account.id, found.view, viewer, with_chart=False, month=found.month
            )
            answer = with_note(answer, found.note)
    return blocks_to_text(answer.blocks, answer.text)


def _portfolio_offline(session: Session, settings: Settings, req: UsageRequest, viewer: Viewer) -> Answer:
    """`usagebot try --as-user EMAIL "/usage mine"`: the list for that email, as the Slack command gives it."""
    from bot.features.portfolio.command import portfolio_answer
    from workflows.portfolio import Viewer as PortfolioViewer
    from workflows.portfolio import parse_managers

    person = viewer.person
    if person is None or not person.email:
        return message(
            f"`/usage {req.view}` lists the accounts of whoever types it: add `--as-user EMAIL`, "
            f"or use `usagebot portfolio EMAIL {req.query}`."
        )
    email = person.email.strip().lower()
    who = PortfolioViewer(
        user_id=person.id,
        email=email,
        is_admin=person.id in settings.admin_ids,
        team=parse_managers(settings.cs_managers).get(email, frozenset()),
    )
    return portfolio_answer(session, settings, who, req.view, req.query.split())


# ---------------------------------------------------------------------------------------------- Slack


def viewer_of(ctx: UsageContext) -> Viewer:
    return Viewer(person=ctx.person, admin_ids=ctx.deps.settings.admin_ids)


GlobalHandler = Callable[[UsageContext], None]
AccountHandler = Callable[[UsageContext, AccountRef], None]


# `/usage` words other features answer: name -> "module:function", imported when first used (no import
# cycle, and no registration step whose order could matter: this table is the whole routing).
GLOBAL_SUBCOMMANDS: dict[str, str] = {
    "request-metric": "bot.features.metric_request.views:from_command",
    "digest": "bot.features.digest.command:digest_subcommand",
}
ACCOUNT_SUBCOMMANDS: dict[str, str] = {
    "report": "bot.features.data_quality.actions:report_subcommand",
}


def _handler(target: str) -> Callable[..., None]:
    module, _, name = target.partition(":")
    handler: Callable[..., None] = getattr(import_module(module), name)
    return handler


def global_handler(name: str) -> GlobalHandler:
    return _handler(GLOBAL_SUBCOMMANDS[name])


def account_handler(view: str) -> AccountHandler | None:
    target = ACCOUNT_SUBCOMMANDS.get(view)
    return _handler(target) if target is not None else None


def show_account(
    ctx: UsageContext,
    account: AccountRef,
    view: str,
    *,
    replace_original: bool = False,
    month: date | None = None,
    note: str | None = None,
) -> None:
    """Run `view` for a known account and show it; upload the trends chart to the person's DM."""
    handler = account_handler(view)
    if handler is not None:
        handler(ctx, account)
        return
    answer = account_answer(ctx.session, ctx.deps.settings, account.id, view, viewer_of(ctx), month=month)
    answer = with_note(answer, note)
    ctx.show(answer, replace_original=replace_original)
    if answer.chart is not None:
        upload_chart(ctx.client, answer.chart, account.name, user_id=ctx.user_id)


def show_portfolio(
    ctx: UsageContext, scope_word: str, words: list[str], page: int = 1, *, replace: bool = False
) -> None:
    """`/usage mine|team [filters]` (after the guard): the page of the person's listing."""
    from bot.features.home.events import viewer_for
    from bot.features.portfolio.command import portfolio_answer

    viewer, refusal = viewer_for(ctx.client, ctx.deps.settings, ctx.user_id)
    if viewer is None:
        ctx.show(message(refusal or guard.REFUSE_UNKNOWN))
        return
    answer = portfolio_answer(ctx.session, ctx.deps.settings, viewer, scope_word, words, page)
    ctx.show(answer, replace_original=replace)


def upload_chart(
    client: WebClient,
    png: Callable[[], bytes],
    account_name: str,
    *,
    user_id: str | None = None,
    channel: str | None = None,
) -> None:
    """The trends PNG (drawn now, after the answer is shown) into the person's DM with the bot, or `channel`."""
    from slack_sdk.errors import SlackApiError

    try:
        if channel is None:
            channel = client.conversations_open(users=user_id)["channel"]["id"]
        client.files_upload_v2(
            channel=channel,
            content=png(),
            filename="usage-trends.png",
            title=f"{account_name}: last 12 months",
        )
    except SlackApiError as exc:  # the message itself has the sparklines; a missing chart is not fatal
        log.warning("chart upload failed: %s", exc.response.get("error"))
    except Exception:  # network trouble after retries: same, but keep the details for the log
        log.warning("chart upload failed", exc_info=True)


def run_usage(ctx: UsageContext) -> None:
    req = parse(ctx.body.get("text"))
    if req.kind == "help":
        ctx.show(render_help())
        return
    if req.kind == "too_long":
        ctx.show(too_long_answer(req))
        return
    # The person and the channel were checked by the guard middleware before this listener ran.
    if req.kind == "global":
        global_handler(req.view)(ctx)
        return
    if req.kind == "portfolio":
        show_portfolio(ctx, req.view, req.query.split())
        return
    if req.kind == "metric":
        from bot.features.metric.command import show_metric

        show_metric(ctx, req.query)
        return
    found = interpret(ctx.session, req)
    if found.answer is not None:
        ctx.show(found.answer)
        return
    assert found.account is not None
    show_account(ctx, found.account, found.view, month=found.month, note=found.note)


def register(app: App) -> None:
    app.command("/usage")(**acked_then("/usage", run_usage))


__all__ = [
    "ACCOUNT_SUBCOMMANDS",
    "GLOBAL_SUBCOMMANDS",
    "account_answer",
    "answer_text",
    "ids",
    "parse",
    "register",
    "show_account",
]
