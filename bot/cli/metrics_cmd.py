"""`usagebot metrics import PATH` and `usagebot metrics search TEXT [--limit N] [--json]`."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli import Failure, settings_from

if TYPE_CHECKING:
    from workflows.metric_search import MetricHit
    from workflows.metrics_import import ImportResult

DB_HINT = "is DATABASE_URL right and has `usagebot db upgrade` been run?"
SHOWN_PROBLEMS = 50  # a broken checkout could list thousands; the first ones tell the story


def register(cli: click.Group) -> None:
    @cli.group("metrics")
    def metrics_group() -> None:
        """Metrics Dictionary: import definitions, search them, show one."""

    @metrics_group.command("import")
    @click.argument("path", type=click.Path(path_type=Path))
    @click.pass_context
    def import_cmd(ctx: click.Context, path: Path) -> None:
        """Load definitions from PATH: a folder (searched recursively for *.yml), one file, or a YAML list."""
        from sqlalchemy.exc import SQLAlchemyError

        from db.session import session_scope
        from workflows.metrics_import import MetricsImportError, import_definitions

        settings = settings_from(ctx)
        try:
            with session_scope(settings.database_url) as session:
                result = import_definitions(session, path)
                if result.definitions == 0:
                    # Roll back the import record too: nothing usable was found, so nothing is written.
                    raise _NothingImported(result)
        except MetricsImportError as exc:
            raise Failure(str(exc)) from None
        except _NothingImported as exc:
            click.echo(format_import(exc.result), err=True)
            raise Failure(f"no metric definitions found in {path}") from None
        except SQLAlchemyError as exc:
            raise Failure(f"could not write to the database ({exc.__class__.__name__}); {DB_HINT}") from None
        click.echo(format_import(result))

    @metrics_group.command("search")
    @click.argument("text", nargs=-1)
    @click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True, help="How many matches.")
    @click.option("--json", "as_json", is_flag=True, help="Print a JSON list, best match first.")
    @click.pass_context
    def search_cmd(ctx: click.Context, text: tuple[str, ...], limit: int, as_json: bool) -> None:
        """Find existing metrics from plain words, e.g. `usagebot metrics search merge requests created`."""
        from sqlalchemy.exc import SQLAlchemyError

        from db.queries.metrics import counts_by_status
        from db.session import session_scope
        from workflows.metric_search import search

        query = " ".join(text).strip()
        if not query:
            if as_json:
                click.echo("[]")
                return
            click.echo("Nothing to search for: add a few words, e.g. `usagebot metrics search merge requests created`.")
            return
        settings = settings_from(ctx)
        try:
            with session_scope(settings.database_url) as session:
                if not counts_by_status(session):
                    raise Failure(
                        "no Metrics Dictionary definitions are loaded yet: run `usagebot metrics import PATH` "
                        "(or `usagebot demo` for the bundled sample)"
                    )
                hits = search(session, query, limit=limit)
        except SQLAlchemyError as exc:
            raise Failure(f"could not read the database ({exc.__class__.__name__}); {DB_HINT}") from None
        if as_json:
            click.echo(json.dumps([hit.to_json() for hit in hits], indent=2, ensure_ascii=False))
        else:
            click.echo(format_hits(query, hits))


    @metrics_group.command("show")
    @click.argument("text", nargs=-1)
    @click.option("--json", "as_json", is_flag=True, help="Print the card as JSON (null when nothing fits).")
    @click.pass_context
    def show_cmd(ctx: click.Context, text: tuple[str, ...], as_json: bool) -> None:
        """A metric's card, by key path or in plain words, e.g. `usagebot metrics show counts.merge_requests`."""
        from sqlalchemy.exc import SQLAlchemyError

        from bot.blocks.format import blocks_to_text
        from bot.features.metric.blocks import render_lookup
        from db.session import session_scope
        from workflows.metric_card import lookup

        settings = settings_from(ctx)
        try:
            with session_scope(settings.database_url) as session:
                found = lookup(session, " ".join(text))
        except SQLAlchemyError as exc:
            raise Failure(f"could not read the database ({exc.__class__.__name__}); {DB_HINT}") from None
        if as_json:
            card = found.card.to_json() if found.card else None
            others = [c.to_json() for c in found.others]
            out = {"query": found.query, "exact": found.exact, "card": card, "others": others}
            click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        else:
            answer = render_lookup(found)
            click.echo(blocks_to_text(answer.blocks, answer.text))
        if found.card is None and (found.query or found.empty_dictionary):
            ctx.exit(1)


class _NothingImported(Exception):
    def __init__(self, result: ImportResult) -> None:
        super().__init__("nothing imported")
        self.result = result


def format_import(result: ImportResult) -> str:
    by = result.by_status
    lines = [
        f"Read {result.definitions:,} definitions from {result.files:,} files in {result.seconds:.1f} s: "
        f"{by.get('active', 0):,} active, {by.get('removed', 0):,} removed, {by.get('broken', 0):,} broken "
        f"({result.health_metrics:,} in health scoring).",
        f"Stored {result.stored:,} key paths: {result.inserted:,} new, {result.updated:,} changed, "
        f"{result.unchanged:,} unchanged.",
    ]
    if result.broken:
        lines.append(f"Definitions with status broken ({len(result.broken)}):")
        lines += [f"  {b.reason}  ({b.path})" for b in result.broken[:SHOWN_PROBLEMS]]
    if result.duplicates:
        lines.append(f"Key paths defined more than once ({len(result.duplicates)}): one kept each")
        lines += [
            f"  {d.key_path}: kept {d.kept} ({d.reason}), skipped {d.dropped}"
            for d in result.duplicates[:SHOWN_PROBLEMS]
        ]
    if result.problems:
        lines.append(f"Skipped, not valid definitions ({len(result.problems)}):")
        lines += [f"  {p.path}: {p.reason}" for p in result.problems[:SHOWN_PROBLEMS]]
        if len(result.problems) > SHOWN_PROBLEMS:
            lines.append(f"  … and {len(result.problems) - SHOWN_PROBLEMS} more")
    return "\n".join(lines)


def format_hits(query: str, hits: list[MetricHit]) -> str:
    shown = query if len(query) <= 80 else query[:77] + "…"
    if not hits:
        return f"No metric matches “{shown}”. Try other words (a feature name, “merge requests”, “pipelines”…)."
    lines = [f"Closest metrics for “{shown}”:", ""]
    for number, hit in enumerate(hits, 1):
        flags = [hit.status, hit.time_frame or "no time frame", "/".join(hit.tiers) or "no tiers"]
        if hit.is_health_metric:
            flags.append("in health scoring")
        lines.append(f"{number:>2}. {hit.key_path}   confidence {hit.confidence:.2f}")
        lines.append(f"    {' · '.join(flags)}")
        description = hit.description or "(no description)"
        lines += textwrap.wrap(description, width=100, initial_indent="    ", subsequent_indent="    ")[:3]
    return "\n".join(lines)
