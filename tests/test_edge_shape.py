"""The Slack edge keeps one idiom per concern (docs/architecture.md, "One shape per concern at the edge"):

- listeners do not open database sessions (the request's session comes from bot/app.py) and
  do not commit (it commits when the listener returns), except where the edge records what it is about
  to show (listed below, with the reason);
- every command, button, shortcut and event listener has the one shape, `**acked_then(...)`; only a modal
  submission and an external select's options, whose acknowledgement carries the answer, are plain;
- every listener the app registers ends its request session (wrapped by `UsageApp`);
- no module outside bot/blocks/ writes a Block Kit element by hand: they use bot/blocks/format.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.app import FEATURES, build_app
from workflows.settings import Settings

BOT = Path(__file__).resolve().parents[1] / "bot"
FEATURE_DIR = BOT / "features"
# Modules of the Slack side of jobs (no request: they open their own sessions).
JOB_MODULES = {"jobs.py", "delivery.py"}
# (module, function): commits the edge makes before telling Slack what it has just recorded.
EDGE_COMMITS = {("home/events.py", "publish_home")}  # a refresh right after publishes the same page
PLAIN_KINDS = {"view", "options"}  # the ack carries the answer (response_action, options)
LISTENER_KINDS = {"action", "command", "shortcut", "event", "view", "options", "message", "block_action"}
# Block Kit elements format.py builds; a dict literal {"type": one of these, ...} elsewhere is a private copy.
BUILT = {"section", "header", "context", "divider", "actions", "button", "plain_text", "mrkdwn"}


def _listener_modules() -> list[tuple[str, str]]:
    """(source, path under bot/features) of every module whose code runs in a request."""
    paths = sorted(p for p in FEATURE_DIR.rglob("*.py") if p.name not in JOB_MODULES)
    return [(p.read_text(), p.relative_to(FEATURE_DIR).as_posix()) for p in paths]


def _functions(tree: ast.AST) -> dict[ast.AST, str]:
    """Each node -> the name of the top-level or nested function it is in."""
    owner: dict[ast.AST, str] = {}
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef):
            for node in ast.walk(fn):
                owner[node] = fn.name  # the innermost function wins (walked after its outer one)
    return owner


def _session_problems(source: str, rel: str) -> list[str]:
    tree = ast.parse(source)
    owner = _functions(tree)
    problems = []
    for node in ast.walk(tree):
        where = f"{rel}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Name) and node.id in ("session_scope", "session_factory", "sessionmaker"):
            problems.append(f"{where} uses {node.id}")
        if isinstance(node, ast.ImportFrom) and node.module == "db.session":
            problems.append(f"{where} imports db.session")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "sessions":
                problems.append(f"{where} opens a session with .sessions()")
            if node.func.attr == "commit" and (rel, owner.get(node, "")) not in EDGE_COMMITS:
                problems.append(f"{where} commits in {owner.get(node, 'the module')}")
    return sorted(problems)


def test_listeners_neither_open_sessions_nor_commit() -> None:
    problems = [p for source, rel in _listener_modules() for p in _session_problems(source, rel)]
    assert problems == []


def _registration_kind(call: ast.AST) -> str | None:
    """`app.<kind>(...)` -> kind."""
    if (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id == "app"
        and call.func.attr in LISTENER_KINDS
    ):
        return call.func.attr
    return None


def _is_acked_then(call: ast.Call) -> bool:
    return any(
        kw.arg is None
        and isinstance(kw.value, ast.Call)
        and isinstance(kw.value.func, ast.Name)
        and kw.value.func.id == "acked_then"
        for kw in call.keywords
    )


def _shape_problems(source: str, rel: str) -> list[str]:
    tree = ast.parse(source)
    problems = []
    for node in ast.walk(tree):
        # app.action(ID)(fn) or app.action(ID)(**acked_then(...))
        kind = _registration_kind(node.func) if isinstance(node, ast.Call) else None
        if isinstance(node, ast.Call) and kind is not None and kind not in PLAIN_KINDS and not _is_acked_then(node):
            problems.append(f"{rel}:{node.lineno} registers a plain {kind} listener")
        # @app.view(ID) def on_submit(...)
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                kind = _registration_kind(deco)
                if kind is not None and kind not in PLAIN_KINDS:
                    problems.append(f"{rel}:{node.lineno} registers a plain {kind} listener ({node.name})")
    return sorted(problems)


def test_every_listener_has_the_one_shape() -> None:
    problems = [p for source, rel in _listener_modules() for p in _shape_problems(source, rel)]
    assert problems == []


def test_the_checks_see_plain_listeners_and_their_own_sessions() -> None:
    # The checks above find what they are meant to find.
    source = (
        "def register(app):\n"
        "    app.action('x')(on_x)\n"
        "    app.view('v')(on_v)\n"
        "    app.action('y')(**acked_then('y', on_y))\n"
        "    @app.command('/z')\n"
        "    def on_z(ack, context):\n"
        "        with deps.sessions() as s:\n"
        "            s.commit()\n"
    )
    assert _shape_problems(source, "sample/actions.py") == [
        "sample/actions.py:2 registers a plain action listener",
        "sample/actions.py:6 registers a plain command listener (on_z)",
    ]
    assert _session_problems(source, "sample/actions.py") == [
        "sample/actions.py:7 opens a session with .sessions()",
        "sample/actions.py:8 commits in on_z",
    ]


def test_every_registered_listener_ends_its_request_session(bot_settings: Settings) -> None:
    app = build_app(bot_settings, FEATURES)
    listeners = app._listeners  # Bolt keeps them here; there is no public list
    functions = [fn for listener in listeners for fn in [listener.ack_function, *listener.lazy_functions]]
    using_context = [fn for fn in functions if "context" in listener_args(fn)]
    assert len(using_context) >= len(listeners)  # every listener reaches the context (acked_then's lazy half)
    assert [fn for fn in using_context if not getattr(fn, "_in_request_session", False)] == []


def listener_args(fn: object) -> list[str]:
    from slack_bolt.util.utils import get_arg_names_of_callable

    return get_arg_names_of_callable(fn)  # type: ignore[arg-type]


def _block_kit_dicts(source: str, rel: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "type"
                    and isinstance(value, ast.Constant)
                    and value.value in BUILT
                ):
                    found.append(f"{rel}:{node.lineno} {value.value}")
    return found


OUTSIDE_BLOCKS = [p for p in sorted(BOT.rglob("*.py")) if p.relative_to(BOT).parts[0] != "blocks"]


@pytest.mark.parametrize("path", OUTSIDE_BLOCKS, ids=lambda p: p.relative_to(BOT).as_posix())
def test_no_block_kit_written_by_hand_outside_bot_blocks(path: Path) -> None:
    assert _block_kit_dicts(path.read_text(), path.relative_to(BOT).as_posix()) == []


def test_the_block_kit_check_sees_a_hand_written_section() -> None:
    source = 'X = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}, {"type": "modal"}]\n'
    assert sorted(_block_kit_dicts(source, "sample.py")) == ["sample.py:1 mrkdwn", "sample.py:1 section"]
