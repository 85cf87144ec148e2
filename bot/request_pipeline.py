"""The first thing every HTTP request from Slack goes through, before Bolt sees it.

Order matters and is the whole point of this module:
1. size: a body over `MAX_BODY_BYTES` is refused with 413 before it is read (the declared length is
   checked first; a chunked body without a length is read in pieces and dropped at the limit);
2. signature: `X-Slack-Signature` is checked on the raw bytes, failing closed on a missing, malformed
   or stale header (401). Nothing of an unverified body is parsed, logged or used: no response_url,
   no lookup, no error message sent anywhere;
3. shape: a verified body that is not UTF-8, not the form or JSON Slack sends, or whose `payload` is not a
   JSON object, is answered 400 (never a traceback, never a 500).
Only then is the request handed to Bolt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

log = logging.getLogger("usagebot.requests")

# Slack's largest real requests are interaction payloads carrying a whole message (50 blocks) or view
# (100 blocks of up to 3,000 characters each), form- and JSON-encoded: a few hundred KB at the very most.
# The examples we keep are under 7 KB. 2 MiB is far above anything Slack sends and far below what hurts.
MAX_BODY_BYTES = 2 * 1024 * 1024
# Slack's own rule: a request more than five minutes old (either way) is a replay.
MAX_CLOCK_SKEW_SECONDS = 5 * 60
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Rejection:
    status: int
    reason: str

    @property
    def status_line(self) -> str:
        return {
            400: "400 Bad Request",
            401: "401 Unauthorized",
            413: "413 Content Too Large",
        }[self.status]


TOO_LARGE = Rejection(413, "request body too large")
UNSIGNED = Rejection(401, "invalid or missing signature")
MALFORMED = Rejection(400, "malformed request")


def read_body(environ: Mapping[str, Any], limit: int = MAX_BODY_BYTES) -> bytes | Rejection:
    """The raw body, or 413 without reading more than `limit` + one chunk of it."""
    stream = environ.get("wsgi.input")
    declared = (environ.get("CONTENT_LENGTH") or "").strip()
    chunked = "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
    if declared:
        if not declared.isdigit():
            return MALFORMED
        length = int(declared)
        if length > limit:
            return TOO_LARGE
        return stream.read(length) if (stream is not None and length) else b""
    if not chunked or stream is None:
        # No length and not chunked: HTTP/1.1 says there is no body (reading would wait for the client).
        return b""
    parts: list[bytes] = []
    total = 0
    while True:
        piece = stream.read(_READ_CHUNK)
        if not piece:
            return b"".join(parts)
        total += len(piece)
        if total > limit:
            return TOO_LARGE
        parts.append(piece)


def signature_valid(
    headers: Mapping[str, str], raw: bytes, signing_secret: str | None, *, now: float | None = None
) -> bool:
    """Slack's v0 signature over the raw bytes. Anything unexpected (missing, non-numeric or stale timestamp,
    a signature that is not `v0=` + 64 hex digits) is simply False: this never raises."""
    if not signing_secret:
        return False  # no secret configured: nothing can be verified, so nothing is admitted
    timestamp = (headers.get("x-slack-request-timestamp") or "").strip()
    given = (headers.get("x-slack-signature") or "").strip()
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    if not (given.startswith("v0=") and len(given) == 67 and given.isascii()):
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        return False
    base = b"v0:" + timestamp.encode("ascii") + b":" + raw
    expected = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given.lower())


def parse_verified(raw: bytes, content_type: str) -> dict[str, Any] | Rejection:
    """A verified body as the dict Bolt will see, or 400. Mirrors the shapes Slack sends: JSON (Events API),
    form fields (slash commands), or a form with one `payload` field holding a JSON object (interactions)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return MALFORMED
    if not text:
        return MALFORMED
    try:
        if "json" in content_type.lower() or text.lstrip().startswith("{"):
            body = json.loads(text)
            return body if isinstance(body, dict) and isinstance(body.get("type"), str) else MALFORMED
        fields = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:  # JSONDecodeError and bad form encoding alike
        return MALFORMED
    form = dict(fields)
    if len(form) != len(fields):
        return MALFORMED  # Slack never repeats a field; a repeated one is an attempt to confuse parsers
    if "payload" in form:
        try:
            payload = json.loads(form["payload"])
        except ValueError:
            return MALFORMED
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            return MALFORMED
        return payload
    if "command" in form or "ssl_check" in form:
        return form
    return MALFORMED


def headers_of(environ: Mapping[str, Any]) -> dict[str, str]:
    """Request headers as lowercase names (WSGI keeps them as HTTP_* keys)."""
    out: dict[str, str] = {}
    for key, value in environ.items():
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            out[key.lower().replace("_", "-")] = str(value)
        elif key.startswith("HTTP_"):
            out[key[5:].lower().replace("_", "-")] = str(value)
    return out


@dataclass(frozen=True)
class Verified:
    raw: str  # the body as Bolt wants it (a str in HTTP mode)
    body: dict[str, Any]
    headers: dict[str, str]


def admit(
    environ: Mapping[str, Any], signing_secret: str | None, *, limit: int = MAX_BODY_BYTES
) -> Verified | Rejection:
    """Size, then signature, then shape; the first failure is the answer."""
    raw = read_body(environ, limit)
    if isinstance(raw, Rejection):
        if raw is TOO_LARGE:
            log.warning("refused a request body over %d bytes", limit)
        return raw
    headers = headers_of(environ)
    if not signature_valid(headers, raw, signing_secret):
        # Nothing of the body is logged: it is not known to come from Slack.
        log.warning("refused a request without a valid Slack signature (%d bytes)", len(raw))
        return UNSIGNED
    body = parse_verified(raw, headers.get("content-type", ""))
    if isinstance(body, Rejection):
        log.warning("refused a signed but malformed request (%d bytes)", len(raw))
        return body
    return Verified(raw=raw.decode("utf-8"), body=body, headers=headers)
