"""Managers' teams for App Home, from the `CS_MANAGERS` setting (pure: settings validation imports it).

Format: `manager_email:tam_email,tam_email;manager2_email:tam_email` (emails, any case, spaces ignored).
A manager may switch App Home to the accounts of every TAM listed for them (and their own).
"""

from __future__ import annotations


class ManagersError(ValueError):
    """CS_MANAGERS is malformed; the message says where and what is expected."""


def parse_managers(text: str | None) -> dict[str, frozenset[str]]:
    """`manager@x:tam1@x,tam2@x;manager2@x:tam3@x` -> {manager: {tams}} (emails lower-cased)."""
    out: dict[str, set[str]] = {}
    for part in (text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        manager, sep, tams = part.partition(":")
        manager = manager.strip().lower()
        emails = {t.strip().lower() for t in tams.split(",") if t.strip()}
        if not sep or "@" not in manager or not emails or not all("@" in e for e in emails):
            raise ManagersError(
                f"cannot read {part[:80]!r}; expected manager_email:tam_email,tam_email;… (email addresses)"
            )
        out.setdefault(manager, set()).update(emails)
    return {m: frozenset(t) for m, t in out.items()}
