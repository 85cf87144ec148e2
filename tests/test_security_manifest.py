"""The Slack app asks only for the scopes its code uses, and docs/security.md explains each of them."""

from __future__ import annotations

import re
from pathlib import Path

from slack_sdk import WebClient

from bot.cli.manifest_cmd import METHOD_SCOPES, SCOPE_REASONS, manifest

ROOT = Path(__file__).parent.parent


def _methods_called() -> set[str]:
    api = {m for m in dir(WebClient) if not m.startswith("_") and "_" in m and m[0].islower()} - {"api_call"}
    found: set[str] = set()
    for folder in ("bot", "workflows"):
        for path in (ROOT / folder).rglob("*.py"):
            found |= {m for m in re.findall(r"\.([a-z]+_[A-Za-z0-9_]+)\(", path.read_text()) if m in api}
    return found


def test_manifest_asks_only_for_the_scopes_the_code_uses() -> None:
    called = _methods_called()
    assert called - set(METHOD_SCOPES) == set(), "a Web API method is called whose scopes are not declared"
    needed = {scope for method in called for scope in METHOD_SCOPES[method]} | {"commands"}  # /usage, shortcut
    asked = set(manifest("https://bot.example", socket_mode=False)["oauth_config"]["scopes"]["bot"])
    assert asked == needed
    assert set(SCOPE_REASONS) == asked


def test_security_doc_lists_every_scope_and_names_tests_that_exist() -> None:
    doc = (ROOT / "docs" / "security.md").read_text()
    for scope in SCOPE_REASONS:
        assert f"`{scope}`" in doc, scope
    named = set(re.findall(r"`(tests/test_[a-z_]+\.py)(?:::([a-z_0-9]+))?`", doc))
    assert named
    for path, test in named:
        source = (ROOT / path).read_text()
        assert not test or f"def {test}(" in source, (path, test)
    for path in set(re.findall(r"`((?:bot|workflows|db|scoring)/[a-z_/]+\.py)", doc)):
        assert (ROOT / path).is_file(), f"docs/security.md names {path}, which is not in the repository"
