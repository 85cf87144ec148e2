"""Secrets never leave in a URL: the one rule for hiding them in messages, logs and stored rows.

A URL can carry a secret in its user info (`postgresql://user:pw@host/db`) and in query parameters
(`snowflake://u@acct/db?password=…`, `…?private_key_file_pwd=…`, `…?token=…`). `safe_url` shows a URL
without them; `redact` does the same for every URL inside a longer text (an exception message, a log line).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

HIDDEN = "***"
# Query parameter names that hold secrets (any case, anywhere in the name: db_password, private_key_pwd…).
_SECRET_PARAM = re.compile(r"pass|pwd|secret|token|key|credential|auth|signature|sig$", re.IGNORECASE)
# scheme://… up to whitespace or a closing quote/bracket: URLs inside free text.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>()\[\]{}]+")


def safe_url(url: str) -> str:
    """The URL with the password of its user info and the values of secret-looking query parameters hidden."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{HIDDEN}@{host}" if ":" in userinfo else f"{userinfo}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = "&".join(
            f"{quote(k, safe='')}={HIDDEN if _SECRET_PARAM.search(k) else quote(v, safe='/:,')}" for k, v in pairs
        )
    if netloc == parts.netloc and query == parts.query:
        return url  # nothing secret in it: exactly as given
    # Assembled by hand: urlunsplit drops an empty authority ("sqlite:////abs/path" must keep its slashes).
    out = f"{parts.scheme}://{netloc}{parts.path}" if "://" in url else urlunsplit(
        (parts.scheme, netloc, parts.path, "", "")
    )
    return out + (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")


def redact(text: str) -> str:
    """`text` with every URL in it made safe (see `safe_url`)."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: safe_url(m.group(0)), text)


class RedactingFilter(logging.Filter):
    """A logging filter: URLs in a record's message and arguments are made safe before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "://" in record.msg:
            record.msg = redact(record.msg)
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            if any(isinstance(a, str) and "://" in a for a in args):
                cleaned = tuple(redact(a) if isinstance(a, str) else a for a in args)
                record.args = cleaned if isinstance(record.args, tuple) else cleaned[0]  # type: ignore[assignment]
        return True


def install_log_redaction() -> None:
    """Every handler of the root logger drops secrets from URLs (idempotent)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
