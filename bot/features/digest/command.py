"""`/usage digest`: the caller's own Unknown-instance digest, now, as ephemeral messages.

Routed by `bot.features.usage.command.GLOBAL_SUBCOMMANDS`. It does not count as the monthly delivery
(that stays exactly once per TAM and month).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.features.digest.blocks import render_digest
from bot.listener import UsageContext
from workflows.digest.compose import compose, current_month
from workflows.settings import Settings


def show_own_digest(respond: Any, email: str | None, session: Session, settings: Settings) -> int:
    """Respond with the digest of the TAM `email` (ephemeral); returns the number of messages shown."""
    email = (email or "").strip().lower()
    if not email:
        respond(
            response_type="ephemeral",
            text=":warning: I couldn't read your Slack email, so I can't tell which accounts are yours.",
        )
        return 0
    composition = compose(session, current_month(settings.timezone), tam_email=email)
    if not composition.digests:
        respond(
            response_type="ephemeral",
            text=f":tada: No Unknown instances on the accounts where you ({email}) are the TAM.",
        )
        return 0
    parts = render_digest(composition.digests[0])
    for part in parts:
        respond(response_type="ephemeral", replace_original=False, text=part["text"], blocks=part["blocks"])
    return len(parts)


def digest_subcommand(ctx: UsageContext) -> None:
    """`/usage digest` handler (a `bot.features.usage.command.GlobalHandler`); the guard already ran."""
    person = ctx.person
    show_own_digest(ctx.respond, person.email if person is not None else None, ctx.session, ctx.settings)

