"""`usagebot demo`: write a realistic synthetic export, sync it, and say what to try next."""

from __future__ import annotations

import click

from bot.cli import Failure, settings_from


def register(cli: click.Group) -> None:
    @cli.command("demo")
    @click.option("--accounts", default=40, show_default=True, type=click.IntRange(2, 1_000_000))
    @click.option("--months", default=13, show_default=True, type=click.IntRange(1, 120))
    @click.option("--seed", default=7, show_default=True, type=int, help="Same seed, same data.")
    @click.option(
        "--out",
        "out_dir",
        type=click.Path(file_okay=False, path_type=str),
        default="demo-export",
        show_default=True,
        help="Folder for the CSV files (rewritten if it holds an earlier demo export).",
    )
    @click.pass_context
    def demo(ctx: click.Context, accounts: int, months: int, seed: int, out_dir: str) -> None:
        """Write a synthetic warehouse export (Acme Corp and friends), sync it into DATABASE_URL,
        import the bundled Metrics Dictionary sample, and print what to try next."""
        from sqlalchemy.exc import SQLAlchemyError

        from bot.cli.sync_cmd import progress_for_terminal, report_result
        from workflows.demo import run_demo
        from workflows.sync import SyncFailed

        settings = settings_from(ctx)
        folder = out_dir
        click.echo(f"Writing a demo export ({accounts:,} accounts, {months} months) to {folder} …")
        try:
            result = run_demo(
                settings.database_url,
                folder,
                accounts=accounts,
                months=months,
                seed=seed,
                progress=progress_for_terminal(),
            )
        except SyncFailed as exc:
            raise Failure(str(exc)) from None
        except SQLAlchemyError as exc:
            raise Failure(f"could not prepare the database: {exc.__class__.__name__}: {exc}") from None
        except OSError as exc:
            raise Failure(f"could not write the demo export to {folder}: {exc}") from None
        ex = result.export
        types = ", ".join(f"{n:,} {t}" for t, n in sorted(ex.instance_types.items()))
        click.echo(
            f"Wrote {ex.accounts:,} accounts, {ex.subscriptions:,} subscriptions, {ex.instances:,} instances "
            f"({types}), {ex.usage_rows:,} usage rows, {ex.tams} TAMs."
        )
        report_result(result.sync)
        click.echo(result.metrics)
        click.echo(
            "\nTry next:\n"
            '  usagebot try "/usage acme"\n'
            '  usagebot try "/usage acme instances"\n'
            '  usagebot report "Acme Corp"\n'
            '  usagebot report "Acme Analytics GmbH" --json'
        )
