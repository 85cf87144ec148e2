"""The generic GitLab filing outbox, against a real database and FakeGitLab over HTTP (python-gitlab)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from fakes.gitlab import TOKEN, FakeGitLab

from db.models import GitLabFiling
from db.session import session_factory
from workflows import outbox
from workflows.gitlab_client import gitlab_factory, make_gitlab
from workflows.settings import load_settings

PROJECT = "gitlab-data/analytics"
seen: list[dict[str, Any]] = []


@outbox.follow_up("test.record")
def _record(ctx: outbox.FollowUpContext) -> None:
    if ctx.payload.get("explode"):
        raise RuntimeError("slack is down")
    seen.append({"url": ctx.filing.issue_url, **ctx.payload})


@pytest.fixture
def gl_factory(fake_gitlab: FakeGitLab, db_url: str):  # type: ignore[no-untyped-def]
    seen.clear()
    settings = load_settings(_env_file=None, database_url=db_url, gitlab_url=fake_gitlab.url, gitlab_token=TOKEN)
    return gitlab_factory(settings, timeout=2.0, max_retries=0)


def _enqueue(db_url: str, key: str = "dq:V1", **kw: Any) -> None:
    with session_factory(db_url)() as s:
        outbox.enqueue_filing(
            s,
            kind="test",
            idempotency_key=key,
            project=PROJECT,
            title="Data issue: Acme",
            description="Something looks wrong.",
            labels=["data quality"],
            confidential=True,
            on_filed=("test.record", {"thread": "123.4", **kw}),
        )
        s.commit()


def test_files_once_with_marker_labels_and_follow_up(db_url: str, fake_gitlab: FakeGitLab, gl_factory) -> None:  # type: ignore[no-untyped-def]
    _enqueue(db_url)
    _enqueue(db_url)  # a second submit with the same key finds the same row
    sf = session_factory(db_url)
    first = outbox.file_one(sf, gl_factory, None, "dq:V1")
    again = outbox.file_one(sf, gl_factory, None, "dq:V1")
    issues = fake_gitlab.issues(PROJECT)
    assert len(issues) == 1
    assert first.status == "filed" and first.followed_up and again.status == "filed"
    assert issues[0]["confidential"] is True and issues[0]["labels"] == ["data quality"]
    assert outbox.marker("dq:V1") in issues[0]["description"]
    assert seen == [{"url": issues[0]["web_url"], "thread": "123.4"}]
    with sf() as s:
        assert s.query(GitLabFiling).count() == 1


def test_outage_keeps_it_pending_with_backoff_then_files(db_url: str, fake_gitlab: FakeGitLab, gl_factory) -> None:  # type: ignore[no-untyped-def]
    _enqueue(db_url)
    sf = session_factory(db_url)
    fake_gitlab.fail(503, times=2)
    first = outbox.file_one(sf, gl_factory, None, "dq:V1")
    assert first.status == "pending" and first.reason == "GitLab is unavailable (HTTP 503)"
    # Not due yet: a scheduler pass leaves it alone; a pass by hand (due_only=False) tries it.
    assert outbox.file_pending(sf, gl_factory, None).pending == []
    report = outbox.file_pending(sf, gl_factory, None, now=outbox.now_utc() + timedelta(minutes=2))
    assert [o.status for o in report.pending] == ["pending"]
    with sf() as s:
        row = s.query(GitLabFiling).one()
        assert row.attempts == 2
        assert outbox.aware(row.next_attempt_at) > outbox.now_utc() + timedelta(minutes=1)
    report = outbox.file_pending(sf, gl_factory, None, due_only=False)
    assert [o.status for o in report.filed] == ["filed"] and report.followed_up == 1
    assert len(fake_gitlab.issues(PROJECT)) == 1


def test_crash_after_create_is_found_by_marker(db_url: str, fake_gitlab: FakeGitLab, gl_factory) -> None:  # type: ignore[no-untyped-def]
    _enqueue(db_url)
    # GitLab created the issue, then the worker died before recording it.
    with session_factory(db_url)() as s:
        row = outbox.filing_by_key(s, "dq:V1")
        assert row is not None
        make_gitlab(load_settings(_env_file=None, gitlab_url=fake_gitlab.url, gitlab_token=TOKEN)).projects.get(
            PROJECT, lazy=True
        ).issues.create({"title": row.title, "description": row.description})
    report = outbox.file_pending(session_factory(db_url), gl_factory, None, due_only=False)
    assert len(fake_gitlab.issues(PROJECT)) == 1
    assert report.filed[0].found_existing and report.filed[0].issue_iid == 1


def test_failed_follow_up_is_retried_without_refiling(db_url: str, fake_gitlab: FakeGitLab, gl_factory) -> None:  # type: ignore[no-untyped-def]
    _enqueue(db_url, explode=True)
    sf = session_factory(db_url)
    out = outbox.file_one(sf, gl_factory, None, "dq:V1")
    assert out.status == "filed" and out.follow_up_error and "slack is down" in out.follow_up_error
    with sf() as s:
        row = s.query(GitLabFiling).one()
        row.on_filed_payload = {"thread": "9"}
        s.commit()
    report = outbox.file_pending(sf, gl_factory, None)
    assert report.followed_up == 1 and report.filed == []
    assert seen == [{"url": fake_gitlab.issues(PROJECT)[0]["web_url"], "thread": "9"}]
    assert len(fake_gitlab.issues(PROJECT)) == 1


def test_concurrent_passes_file_once(db_url: str, fake_gitlab: FakeGitLab, gl_factory) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        _enqueue(db_url, key=f"dq:V{i}")
    sf = session_factory(db_url)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            outbox.file_pending(sf, gl_factory, None, due_only=False)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(i["title"] for i in fake_gitlab.issues(PROJECT)) == ["Data issue: Acme"] * 3
    assert len(seen) == 3


def test_missing_token_and_401_are_plain_reasons(db_url: str, fake_gitlab: FakeGitLab) -> None:
    _enqueue(db_url)
    sf = session_factory(db_url)
    no_token = gitlab_factory(load_settings(_env_file=None, gitlab_url=fake_gitlab.url))
    out = outbox.file_one(sf, no_token, None, "dq:V1")
    assert out.status == "pending" and "GITLAB_TOKEN is not set" in (out.reason or "")
    bad = gitlab_factory(load_settings(_env_file=None, gitlab_url=fake_gitlab.url, gitlab_token="wrong"))
    out = outbox.file_one(sf, bad, None, "dq:V1")
    assert out.reason == "GitLab refused the token (401 Unauthorized); check GITLAB_TOKEN"
    assert "wrong" not in repr(bad())
    assert fake_gitlab.issues(PROJECT) == []


def test_a_slow_gitlab_is_a_timeout_and_stays_pending(db_url: str, fake_gitlab: FakeGitLab) -> None:
    _enqueue(db_url)
    settings = load_settings(_env_file=None, gitlab_url=fake_gitlab.url, gitlab_token=TOKEN)
    fake_gitlab.hang(1.5, times=1)
    out = outbox.file_one(session_factory(db_url), gitlab_factory(settings, timeout=0.5, max_retries=0), None, "dq:V1")
    assert out.status == "pending" and out.reason == "GitLab did not answer in time (timeout)"
    assert fake_gitlab.issues(PROJECT) == []


def test_the_scheduler_runs_a_pass_every_five_minutes(db_url: str, fake_gitlab: FakeGitLab) -> None:
    from workflows.scheduler import PERIODIC_JOBS, parse_trigger, run_registered_job

    job = next(j for j in PERIODIC_JOBS if j.job_id == "requests_retry")
    settings = load_settings(_env_file=None, database_url=db_url, gitlab_url=fake_gitlab.url, gitlab_token=TOKEN)
    assert parse_trigger(job.trigger, settings).interval == timedelta(minutes=5)
    seen.clear()
    _enqueue(db_url)
    report = run_registered_job(job.job_id, job.target, settings)
    assert [o.status for o in report.filed] == ["filed"] and len(fake_gitlab.issues(PROJECT)) == 1
    assert report.followed_up == 1 and seen == [{"url": fake_gitlab.issues(PROJECT)[0]["web_url"], "thread": "123.4"}]
