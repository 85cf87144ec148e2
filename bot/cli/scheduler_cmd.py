"""`usagebot scheduler`: the single clock process (monthly digest and every job in PERIODIC_JOBS)."""

from __future__ import annotations

import signal
import threading
from typing import Any

import click

from bot.cli import Failure, settings_from
from workflows.wording import plural


def register(cli: click.Group) -> None:
    @cli.command("scheduler")
    @click.option("--list", "list_jobs", is_flag=True, help="Print the jobs and their next run times, then exit.")
    @click.pass_context
    def scheduler(ctx: click.Context, list_jobs: bool) -> None:
        """Run the clock: periodic jobs, only while this process holds the clock lease."""
        from datetime import UTC, datetime

        from workflows.schedule_words import next_run_words, schedule_words
        from workflows.scheduler import TriggerSpecError, active_jobs, parse_trigger, run_clock

        settings = settings_from(ctx)
        try:
            jobs = [(job, parse_trigger(job.trigger, settings)) for job in active_jobs(settings)]
        except TriggerSpecError as exc:
            raise Failure(f"Scheduler problem: {exc}") from None
        if list_jobs:
            now = datetime.now(UTC)
            width = max((len(job.job_id) for job, _ in jobs), default=0)
            for job, trigger in jobs:
                words = schedule_words(job.trigger, settings)
                click.echo(f"{job.job_id:<{width}}  {words}; next {next_run_words(trigger, now, settings)}")
            return
        settings.require("slack_bot_token")  # a SettingsError, worded by bot.errors
        stop = threading.Event()

        def on_signal(_signum: int, _frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        click.echo(f"Clock starting with {plural(len(jobs), 'job')}; Ctrl-C to stop.", err=True)
        from bot.edge import BoltSlackEdge

        run_clock(settings, stop, edge=BoltSlackEdge(settings))
