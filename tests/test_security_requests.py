"""The request pipeline: size, then signature on the raw bytes, then shape; only then Bolt.

Each test is named after the weakness it closes (issue: hostile input can't act, ping, spoof or leak).
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import socket
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from fakes.signing import SIGNING_SECRET, interaction_body, post, signed_headers, slash_body
from fakes.slack import FakeSlack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.request_pipeline import MAX_BODY_BYTES, TOO_LARGE, read_body, signature_valid
from workflows.settings import Settings

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def black_hole() -> Any:
    """A TCP port that accepts connections into its backlog and never answers (a stalling response_url)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock
    sock.close()


def _connections(sock: socket.socket) -> int:
    sock.settimeout(0.3)
    count = 0
    try:
        while True:
            conn, _ = sock.accept()
            conn.close()
            count += 1
    except OSError:
        return count


def test_unsigned_request_never_posts_to_its_response_url_nor_stalls_workers(
    bot_url: str, fake_slack: FakeSlack, black_hole: socket.socket
) -> None:
    """Issue item 1: `X-Slack-Request-Timestamp: abc` made the verifier raise, and the error handler then
    POSTed to the unverified body's response_url (any host) and hung there."""
    fake_slack.add_user("U0TAM0001", "avery", "avery@example.com")
    port = black_hole.getsockname()[1]
    body = slash_body("acme", response_url=f"http://127.0.0.1:{port}/hook")
    hostile = {"Content-Type": FORM, "X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=" + "0" * 64}
    replies = [post(bot_url + "/slack/events", body, headers=hostile, timeout=5) for _ in range(8)]
    assert {r.status for r in replies} == {401}
    good = post(bot_url + "/slack/events", slash_body("help", response_url=fake_slack.response_url("ok")))
    assert good.status == 200 and good.elapsed < 1.5
    fake_slack.wait_for("response_url")
    assert _connections(black_hole) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Slack-Request-Timestamp": "abc"},
        {"X-Slack-Request-Timestamp": "1e9", "X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": "-5", "X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": "9" * 40, "X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": "NOW", "X-Slack-Signature": "v1=abc"},
        {"X-Slack-Request-Timestamp": "NOW"},
        {"X-Slack-Request-Timestamp": "NOW", "X-Slack-Signature": "v0=zz"},
        {"X-Slack-Request-Timestamp": "NOW", "X-Slack-Signature": "v0=" + "é" * 64},
    ],
    ids=["none", "ts-abc", "ts-float", "ts-negative", "ts-huge", "sig-v1", "sig-missing", "sig-short", "sig-unicode"],
)
def test_missing_or_malformed_signature_headers_fail_closed_with_401(
    bot_url: str, fake_slack: FakeSlack, headers: dict[str, str]
) -> None:
    fake_slack.reset_calls()  # auth.test, once at start
    body = slash_body("acme", response_url=fake_slack.response_url())
    hdrs = {"Content-Type": FORM, **{k: v.replace("NOW", str(int(time.time()))) for k, v in headers.items()}}
    # urllib refuses non-latin-1 header values; send raw bytes as a client could.
    conn = http.client.HTTPConnection(*urlsplit(bot_url).netloc.split(":"), timeout=5)
    conn.putrequest("POST", "/slack/events")
    for k, v in hdrs.items():
        conn.putheader(k, v.encode("utf-8"))
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body.encode())
    assert conn.getresponse().status == 401
    conn.close()
    time.sleep(0.2)
    assert fake_slack.calls == []


def test_signature_check_never_raises_on_any_header_values() -> None:
    @given(ts=st.text(max_size=30), sig=st.text(max_size=80), body=st.binary(max_size=64))
    @settings(max_examples=200, deadline=None)
    def check(ts: str, sig: str, body: bytes) -> None:
        headers = {"x-slack-request-timestamp": ts, "x-slack-signature": sig}
        assert signature_valid(headers, body, SIGNING_SECRET) is False

    check()


def test_body_over_the_limit_is_refused_with_413_before_it_is_read(bot_url: str, fake_slack: FakeSlack) -> None:
    """Issue item 5: a 400 MB unsigned POST was read whole (1.2 GB of memory) before the 401."""
    fake_slack.reset_calls()  # auth.test, once at start
    host, port = urlsplit(bot_url).netloc.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.putrequest("POST", "/slack/events")
    conn.putheader("Content-Type", FORM)
    conn.putheader("Content-Length", str(400 * 1024 * 1024))
    conn.endheaders(b"payload=")  # the rest is never sent: the answer must not wait for it
    start = time.monotonic()
    reply = conn.getresponse()
    assert reply.status == 413
    assert time.monotonic() - start < 2
    conn.close()
    assert fake_slack.calls == []


class _Endless(io.RawIOBase):
    """A chunked request body without end; counts what was read."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        n = 65536 if size is None or size < 0 else size
        self.read_bytes += n
        return b"a" * n


def test_chunked_body_without_length_is_refused_with_413_once_past_the_limit(bot_settings: Settings) -> None:
    from bot.server import make_wsgi_app

    app = make_wsgi_app(bot_settings)
    stream = _Endless()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/slack/events",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "CONTENT_TYPE": FORM,
        "wsgi.input": stream,
    }
    seen: list[str] = []
    app(environ, lambda status, _headers: seen.append(status))
    assert seen == ["413 Content Too Large"]
    assert stream.read_bytes <= MAX_BODY_BYTES + 65536


def test_chunked_body_within_the_limit_is_read_whole() -> None:
    raw = b"command=%2Fusage&text=acme"
    environ = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(raw)}
    assert read_body(environ) == raw
    assert read_body({"CONTENT_LENGTH": str(MAX_BODY_BYTES + 1), "wsgi.input": io.BytesIO()}) is TOO_LARGE


def test_the_limit_is_far_above_slacks_largest_real_payloads(shared_dir: Any) -> None:
    largest = max(p.stat().st_size for p in (shared_dir / "data" / "slack_payloads").iterdir())
    assert 100 * largest < MAX_BODY_BYTES


@pytest.mark.parametrize(
    "body",
    [b"payload={not-json", b"payload=%5B1%5D", b"payload=" + '{"type": "bl\xff"}'.encode("latin-1"), b"\xff\xfe\xfa",
     b"payload=%7B%7D", b"text=acme", b"a=1&a=2", b"%%%"],
    ids=["not-json", "json-list", "bad-utf8-payload", "bad-utf8", "no-type", "no-command", "repeated", "bad-form"],
)
def test_malformed_bodies_answer_400_after_the_signature_check_and_401_unsigned(
    bot_url: str, fake_slack: FakeSlack, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue item 10: these bodies answered 500 with tracebacks, even unsigned (parsed before the check)."""
    fake_slack.reset_calls()  # auth.test, once at start
    import urllib.request

    def send(headers: dict[str, str]) -> int:
        req = urllib.request.Request(bot_url + "/slack/events", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code

    ts = int(time.time())
    signed = {"Content-Type": FORM, "X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": _sig_bytes(body, ts)}
    with caplog.at_level(logging.WARNING):
        assert send({"Content-Type": FORM}) == 401
        assert send(signed) == 400
    assert not [r for r in caplog.records if r.exc_info]
    assert fake_slack.calls == []


def _sig_bytes(body: bytes, ts: int) -> str:
    import hashlib
    import hmac

    return "v0=" + hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
_types = st.sampled_from(["block_actions", "view_submission", "view_closed", "shortcut", "event_callback", "x"])


def test_signed_bodies_of_any_shape_never_answer_500(bot_settings: Settings, fake_slack: FakeSlack) -> None:
    """Whatever a holder of the signing secret (or a Slack change) sends, the answer is 2xx/4xx, never a crash."""
    from bot.server import make_wsgi_app

    app = make_wsgi_app(bot_settings)

    def call(raw: bytes, content_type: str) -> str:
        ts = int(time.time())
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/slack/events",
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(raw)),
            "HTTP_X_SLACK_REQUEST_TIMESTAMP": str(ts),
            "HTTP_X_SLACK_SIGNATURE": _sig_bytes(raw, ts),
            "wsgi.input": io.BytesIO(raw),
        }
        seen: list[str] = []
        app(environ, lambda status, _h: seen.append(status))
        return seen[0]

    @given(kind=_types, fields=st.dictionaries(st.sampled_from(
        ["actions", "user", "team", "view", "container", "channel", "message", "event", "enterprise", "callback_id"]
    ), _json, max_size=5), form=st.booleans())
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def check(kind: str, fields: dict[str, Any], form: bool) -> None:
        payload = {"type": kind, **fields}
        if form:
            status = call(interaction_body(payload).encode(), FORM)
        else:
            status = call(json.dumps(payload).encode(), "application/json")
        assert not status.startswith("5"), (status, payload)

    check()


def test_signed_slash_command_mentioning_payload_still_works(bot_url: str, fake_slack: FakeSlack) -> None:
    """Bolt's own parser takes any form body containing the word "payload" for an interaction; ours does not."""
    fake_slack.add_user("U0TAM0001", "avery", "avery@example.com")
    reply = post(bot_url + "/slack/events", slash_body("payload", response_url=fake_slack.response_url("p")))
    assert reply.status == 200
    fake_slack.wait_for("response_url")


def test_signed_headers_helper_still_matches_the_pipeline() -> None:
    body = urlencode({"command": "/usage", "text": "acme"})
    headers = {k.lower(): v for k, v in signed_headers(body, content_type=FORM).items()}
    assert signature_valid(headers, body.encode(), SIGNING_SECRET)
