"""The one place a python-gitlab client is built: URL, token, timeout and retry policy from settings.

Transient errors (5xx, timeouts, 429) are retried by python-gitlab itself, a few times with its own
backoff; anything still failing surfaces as an exception the outbox turns into a plain reason via
`describe_error`. The token lives only inside the client's session headers: it is never logged, put
in a message, or part of `repr()`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

import gitlab
import requests

from workflows.settings import Settings

DEFAULT_TIMEOUT = 10.0  # seconds per HTTP request
DEFAULT_MAX_RETRIES = 2  # after the first try, for 5xx / timeouts / 429 only


class GitLabNotConfigured(Exception):
    """GITLAB_TOKEN is missing: nothing can be filed until it is set."""


class _Client(gitlab.Gitlab):
    """python-gitlab with a small retry budget for every call (its default is 10 retries)."""

    def __init__(self, *args: Any, max_retries: int = DEFAULT_MAX_RETRIES, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._usagebot_max_retries = max_retries

    def http_request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("max_retries", self._usagebot_max_retries)
        return super().http_request(*args, **kwargs)

    def __repr__(self) -> str:  # never show the token, even by accident
        return f"<GitLab client {self.url}>"


def make_gitlab(
    settings: Settings, *, timeout: float = DEFAULT_TIMEOUT, max_retries: int = DEFAULT_MAX_RETRIES
) -> gitlab.Gitlab:
    """A new client for GITLAB_URL with GITLAB_TOKEN; raises GitLabNotConfigured without a token."""
    token = settings.secret("gitlab_token")
    if not token:
        raise GitLabNotConfigured("GITLAB_TOKEN is not set, so GitLab issues cannot be filed yet")
    return _Client(
        settings.gitlab_url,
        private_token=token,
        timeout=timeout,
        retry_transient_errors=True,
        max_retries=max_retries,
    )


_CLIENTS: dict[tuple[str, str, float, int], gitlab.Gitlab] = {}
_LOCK = threading.Lock()


def gitlab_factory(
    settings: Settings, *, timeout: float = DEFAULT_TIMEOUT, max_retries: int = DEFAULT_MAX_RETRIES
) -> Callable[[], gitlab.Gitlab]:
    """A factory returning one shared client per (URL, token, policy), built on first use.

    Built lazily so a missing token is reported where a filing is attempted (and the filing stays
    pending) rather than when the bot starts.
    """

    def factory() -> gitlab.Gitlab:
        token = settings.secret("gitlab_token") or ""
        # Key on a hash of the token, so the cache never holds it in clear outside the client.
        key = (settings.gitlab_url, hashlib.sha256(token.encode()).hexdigest(), timeout, max_retries)
        with _LOCK:
            client = _CLIENTS.get(key)
            if client is None:
                client = _CLIENTS[key] = make_gitlab(settings, timeout=timeout, max_retries=max_retries)
            return client

    return factory


def describe_error(exc: BaseException, project: str | None = None) -> str:
    """A short, plain reason for a failed GitLab call, safe to show to people (no token, no URL query)."""
    where = f" in {project}" if project else ""
    if isinstance(exc, GitLabNotConfigured):
        return str(exc)
    if isinstance(exc, gitlab.exceptions.GitlabError) and exc.response_code is not None:
        code = exc.response_code
        if code == 401:
            return "GitLab refused the token (401 Unauthorized); check GITLAB_TOKEN"
        if code == 403:
            return f"GitLab refused access (403 Forbidden): the token may not create issues{where}"
        if code == 404:
            return f"GitLab project {project or ''} was not found (404); check the project setting".replace("  ", " ")
        if code == 429:
            return "GitLab is rate limiting requests (429)"
        if code >= 500:
            return f"GitLab is unavailable (HTTP {code})"
        return f"GitLab answered HTTP {code}"
    if isinstance(exc, requests.exceptions.Timeout):
        return "GitLab did not answer in time (timeout)"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "GitLab could not be reached (connection failed)"
    if isinstance(exc, requests.exceptions.RequestException):
        return f"GitLab request failed ({type(exc).__name__})"
    if isinstance(exc, gitlab.exceptions.GitlabError):
        return f"GitLab request failed ({type(exc).__name__})"
    return f"unexpected error ({type(exc).__name__})"
