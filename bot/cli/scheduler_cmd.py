"""`usagebot scheduler`: the single clock process (monthly digest and every job in PERIODIC_JOBS)."""

from __future__ import annotations

import signal
import threading
from typing import Any

import click

from bot.cli import Failure, settings_from
from workflows.settings import SettingsError


def register(cli: click.Group) -> None:
    @cli.command("scheduler")
    @click.option("--list", "list_jobs", is_flag=True, help="Print the jobs and their next run times, then exit.")
    @click.pass_context
    def scheduler(ctx: click.Context, list_jobs: bool) -> None:
        """Run the clock: periodic jobs, only while this process holds the clock lease."""
        from datetime import UTC, datetime

        from bot.sync_job import wire_sync_follow_up
        from workflows.scheduler import TriggerSpecError, active_jobs, parse_trigger, run_clock

        settings = settings_from(ctx)
        try:
            triggers = [(job.job_id, parse_trigger(job.trigger, settings)) for job in active_jobs(settings)]
        except TriggerSpecError as exc:
            raise Failure(f"Scheduler problem: {exc}") from None
        if list_jobs:
            now = datetime.now(UTC)
            for job_id, trigger in triggers:
                nxt = trigger.get_next_fire_time(None, now)
                click.echo(f"{job_id}: {trigger} -> next {nxt.isoformat() if nxt else 'never'}")
            return
        try:
            settings.require("slack_bot_token")
        except SettingsError as exc:
            raise Failure(str(exc)) from None
        stop = threading.Event()

        def on_signal(_signum: int, _frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        wire_sync_follow_up()  # the scheduled sync's alerts, Home refreshes and failure reports go through Slack
        click.echo(f"Clock starting with {len(triggers)} job(s); Ctrl-C to stop.", err=True)
        run_clock(settings, stop)
