"""The repository explains itself: every file its docs and code point a reader to is in it.

A path such as `docs/scoring.md` or `bot/blocks/limits.py` named in README.md, docs/*.md or a
module's text must exist in the repository; so must every document named by its bare file name
(`scoring.md`, `README.md`), and the project's private specs outside it are never named.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A relative path with at least one folder and a file extension, e.g. docs/clock.md, bench/run.py.
_PATH = re.compile(r"(?<![\w./-])((?:[A-Za-z0-9_.-]+/)+[A-Za-z0-9_.-]+\.(?:md|py|ya?ml|png|csv|json|toml|txt|j2))\b")
# A document named by its bare file name anywhere in the text, e.g. "see scoring.md".
_DOC_NAME = re.compile(r"\b([A-Za-z0-9_-]+\.md)\b")
# Written by a run, ignored by git (see .gitignore): named as where output goes, not as a document.
_GENERATED = ("bench/out/",)


def _tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--", *patterns], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [ROOT / line for line in out.splitlines() if line]


def _documents() -> list[Path]:
    return _tracked("README.md", "docs/*.md")


def _modules() -> list[Path]:
    return _tracked("bot/*.py", "workflows/*.py", "db/*.py", "scoring/*.py", "bench/*.py")


def _missing_paths(files: list[Path]) -> list[str]:
    missing = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        for ref in sorted(set(_PATH.findall(text))):
            if ref.startswith(_GENERATED) or ref.startswith(("http", "www.")):
                continue
            # docs link relative to their own folder ("(scoring.md)"), the rest from the root
            if not ((ROOT / ref).exists() or (path.parent / ref).exists()):
                missing.append(f"{path.relative_to(ROOT)}: {ref}")
    return missing


def test_documents_name_only_files_in_the_repository() -> None:
    assert _documents(), "README.md and docs/ are tracked"
    assert _missing_paths(_documents()) == []


def test_code_names_only_files_in_the_repository() -> None:
    assert _modules()
    assert _missing_paths(_modules()) == []


def test_nothing_names_documents_that_are_not_here_or_sources_outside_the_repository() -> None:
    here = {p.name for p in _tracked()} | {p.name.removesuffix(".j2") for p in _tracked("*.j2")}
    named = []
    for path in _documents() + _modules() + _tracked("tests/*.py"):
        text = path.read_text(encoding="utf-8")
        named += [f"{path.relative_to(ROOT)}: {doc}" for doc in sorted(set(_DOC_NAME.findall(text)) - here)]
        # bench/ may default to the full reference data beside the checkout (and tests read it when it is
        # there); the product may not
        product = not (path.is_relative_to(ROOT / "bench") or path.is_relative_to(ROOT / "tests"))
        if product and ("shared/data/" in text or "shared/spec/" in text):
            named.append(f"{path.relative_to(ROOT)}: shared/ (outside the repository)")
    assert named == []
