"""Stored scores (account_scores) equal the report computed from raw rows, and follow syncs, relabels and rules.

The reference side loads each account's rows the way `/usage` does (one account, the trend window ending with
the month) and runs `compute_report` + `summarize` on them; the stored side is what the sync wrote.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.cli import cli
from db.models import Account, AccountScore, Instance
from db.queries.account_data import load_account_data, newest_version_in_month
from db.queries.health import export_metric_columns
from db.session import session_scope
from scoring.report import compute_report
from scoring.stored import StoredScore, columns, from_json, rules_fingerprint, summarize, unknown_instance_count
from scoring.trends import add_months
from workflows import scores as scores_mod
from workflows.alerts import compute_alerts
from workflows.demo import generate_export
from workflows.portfolio import (
    Portfolio,
    PortfolioPage,
    Ranking,
    Scope,
    build_portfolio,
    clear_portfolio_cache,
    home_page,
    rank_portfolio,
    ranked_page,
    score_live,
)
from workflows.portfolio_filter import listing, parse_filters
from workflows.portfolio_listing import listing_page
from workflows.relabel import relabel
from workflows.report import adoption_rules_for, build_account_report, rules_for, series_json
from workflows.scores import read_scores, rescore, scores_current, stored_window
from workflows.sync.run import sync_export
from workflows.sync.sources import CsvExport

TODAY = date(2026, 11, 15)
ADMIN = "U0ADMIN01"


def _sync(tmp_path: Path, db_url: str, seed: int, accounts: int = 10, months: int = 15) -> Path:
    out = tmp_path / f"export-{seed}"
    generate_export(out, accounts=accounts, months=months, seed=seed, today=TODAY)
    assert sync_export(CsvExport(out), db_url).ok
    return out


def _stored(s: Session) -> dict[tuple[str, date], tuple[str, str, float | None, dict, dict | None]]:
    return {
        (r.account_id, r.month): (r.fingerprint, r.health_color, r.health_score, r.summary, r.detail)
        for r in s.scalars(select(AccountScore))
    }


def _reference(s: Session, account_id: str, month: date, rules_name: str | None = None) -> StoredScore:
    """The account-month computed from raw rows, loaded as `/usage` loads them."""
    rules = rules_for(rules_name)
    adoption = adoption_rules_for(None)
    data = load_account_data(
        s,
        account_id,
        add_months(month, -(rules.trend_months - 1)),
        month,
        metric_columns=rules.columns() | adoption.columns(),
        opt_out_value=rules.account.opt_out_value,
    )
    assert data is not None
    report = compute_report(
        data.account,
        data.subscriptions,
        data.instances,
        data.rows,
        month,
        rules,
        as_of=None,
        newest_version=newest_version_in_month(s, month),
        adoption_rules=adoption,
        exported=export_metric_columns(s),
    )
    return summarize(
        report, unknown_instances=unknown_instance_count(data.instances, data.rows, month, 12), rows=data.rows
    )


@pytest.mark.parametrize("seed", [3, 11, 29])
def test_every_stored_month_equals_the_report_computed_from_raw_rows(tmp_path: Path, db_url: str, seed: int) -> None:
    _sync(tmp_path, db_url, seed)
    with session_scope(db_url) as s:
        rules = rules_for(None)
        months = stored_window(s, rules)
        stored = _stored(s)
        account_ids = sorted({a for a, _ in stored})
        assert len(months) == rules.trend_months  # 15 months of data: the full 12-month window is stored
        assert len(stored) == len(account_ids) * len(months)
        fp = rules_fingerprint(rules, adoption_rules_for(None))
        colours = set()
        for (acc_id, month), (row_fp, colour, score, summary, detail) in stored.items():
            assert row_fp == fp
            expected = _reference(s, acc_id, month)
            got = from_json(acc_id, month, summary, detail)
            assert got == expected, (acc_id, month)
            assert (colour, score) == (expected.overall_color, expected.overall_score)
            colours.add(colour)
        for row in s.scalars(select(AccountScore)):
            expected = _reference(s, row.account_id, row.month)
            want = columns(expected)
            assert {c: getattr(row, c) for c in want} == want, (row.account_id, row.month)
        assert len(colours) >= 2  # the generated data is varied enough to mean something


def test_resync_of_the_same_export_rescores_nothing(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _sync(tmp_path, db_url, 5)
    with session_scope(db_url) as s:
        before = _stored(s)
    calls: list[object] = []
    real = scores_mod.rescore

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(scores_mod, "rescore", counting)
    assert sync_export(CsvExport(out), db_url).ok
    assert calls == []
    with session_scope(db_url) as s:
        assert _stored(s) == before


def test_a_changed_export_is_rescored_in_the_sync(tmp_path: Path, db_url: str) -> None:
    _sync(tmp_path, db_url, 5)
    with session_scope(db_url) as s:
        before = _stored(s)
    _sync(tmp_path, db_url, 6)  # other data for the same months
    with session_scope(db_url) as s:
        after = _stored(s)
        assert after != before
        for acc_id, month in list(after)[:40]:
            assert from_json(acc_id, month, *after[(acc_id, month)][3:]) == _reference(s, acc_id, month)


def test_relabel_rescores_the_account_in_the_same_transaction(tmp_path: Path, db_url: str) -> None:
    _sync(tmp_path, db_url, 3)
    with session_scope(db_url) as s:
        month = stored_window(s, rules_for(None))[-1]
        stored = read_scores(s, month, None, scores_mod.current_fingerprint(), detail=True)
        # A Production primary instance of the as-of month: relabelling it Obsolete changes the account's picture.
        target = next(
            (sc.account_id, p.instance_id)
            for sc in stored.values()
            for p in sc.primaries
            if s.get(Instance, p.instance_id) is not None and s.get(Instance, p.instance_id).label == "Production"  # type: ignore[union-attr]
        )
        acc_id, iid = target
        inst = s.get(Instance, iid)
        assert inst is not None
        version = inst.label_version
        old = stored[acc_id]
    with session_scope(db_url) as s:
        outcome = relabel(
            s,
            instance_id=iid,
            to_label="Obsolete",
            expected_version=version,
            user_id=ADMIN,
            user_name="ops",
            user_email=None,
            admin_ids={ADMIN},
            origin="home",
        )
        assert outcome.status == "applied"
    with session_scope(db_url) as s:
        new = read_scores(s, month, [acc_id], scores_mod.current_fingerprint(), detail=True)[acc_id]
        assert new != old
        assert iid not in {p.instance_id for p in new.primaries}
        assert new == _reference(s, acc_id, month)
        assert scores_current(s)


def test_other_rules_are_never_served_stale(tmp_path: Path, db_url: str) -> None:
    _sync(tmp_path, db_url, 11)
    with session_scope(db_url) as s:
        month = stored_window(s, rules_for(None))[-1]
        other = rules_for("gitlab-2024")
        assert rules_fingerprint(other, adoption_rules_for(None)) != scores_mod.current_fingerprint()
        # Stored rows are of the default rules: a portfolio under other rules computes every account live.
        assert read_scores(s, month, None, scores_mod.current_fingerprint(other)) == {}
        portfolio = build_portfolio(s, "all", None, rules=other)
        live = score_live(s, [a.id for a in portfolio.accounts], month, other, adoption_rules_for(None))
        for a in portfolio.accounts:
            assert (a.health_color, a.health_score, a.health_shown) == (
                live[a.id].overall_color,
                live[a.id].overall_score,
                live[a.id].overall_shown,
            )
            assert a.flags == live[a.id].flags
        # Rows of a fingerprint that is not current make the stored set stale until rescored.
        res = rescore(s, rules=other)
        assert res.rows > 0
        assert not scores_current(s)
        assert scores_current(s, other)


def test_stored_portfolio_equals_the_live_one(tmp_path: Path, db_url: str) -> None:
    _sync(tmp_path, db_url, 29, accounts=16)
    with session_scope(db_url) as s:
        stored_view = build_portfolio(s, "all", None)
        s.execute(AccountScore.__table__.delete())
        live_view = build_portfolio(s, "all", None)  # nothing stored: every account computed live
        assert stored_view == live_view
        s.rollback()


def _pages(s: Session, scope: Scope, emails: list[str] | None, size: int) -> list[PortfolioPage]:
    clear_portfolio_cache()
    first = home_page(s, scope, emails, 1, size, min_accounts=1)
    return [first] + [home_page(s, scope, emails, n, size, min_accounts=1) for n in range(2, first.pages + 2)]


def test_home_pages_ranked_from_the_narrow_columns_equal_the_full_portfolio(tmp_path: Path, db_url: str) -> None:
    _sync(tmp_path, db_url, 29, accounts=30)
    with session_scope(db_url) as s:
        tams = sorted({e for (e,) in s.execute(select(Account.tam_email)) if e})
        team = tams[: max(1, len(tams) // 2)]
        for scope, emails in (("all", None), ("team", team), ("mine", team[:1])):
            full = build_portfolio(s, scope, emails)
            want = [full.page_view(n, 7) for n in range(1, full.page(1, 7)[1] + 2)]  # one page past the end: clamped
            assert isinstance(rank_portfolio(s, scope, emails), Ranking)  # every account stored: ranked in SQL
            assert _pages(s, scope, emails, 7) == want, scope
            assert want[0].totals.accounts == len(full.accounts) and (len(want) > 2 or scope == "mine")
        # An account without a current stored row: the whole portfolio is computed, with the same pages.
        some = s.scalars(select(AccountScore.account_id).limit(1)).one()
        s.execute(AccountScore.__table__.delete().where(AccountScore.account_id == some))
        full = build_portfolio(s, "all", None)
        assert isinstance(rank_portfolio(s, "all", None), Portfolio)
        assert _pages(s, "all", None, 7) == [full.page_view(n, 7) for n in range(1, full.page(1, 7)[1] + 2)]
        # Rows gone after the ranking was made (a rescore in between): the page computes them live.
        s.rollback()
        ranking = rank_portfolio(s, "all", None)
        assert isinstance(ranking, Ranking)
        s.execute(AccountScore.__table__.delete())
        assert ranked_page(s, ranking, 2, 7, rules_for(None)) == build_portfolio(s, "all", None).page_view(2, 7)
        s.rollback()


def test_listing_pages_from_the_ranking_equal_the_full_listing(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`/usage mine|team` pages are read from the ranking's narrow columns, whatever the filter, with exactly
    the pages the whole portfolio gives; rows stored before the tier and flag columns were kept, and scopes
    with an account not stored, take the whole portfolio for the words that need it."""
    import workflows.portfolio_listing as listing_mod

    _sync(tmp_path, db_url, 31, accounts=30)
    with session_scope(db_url) as s:
        accounts = list(s.execute(select(Account.tam_email, Account.sales_segment)))
        tams = sorted({e for e, _ in accounts if e})
        segment = next(seg for _, seg in accounts if seg)
        team = tams[: max(1, len(tams) // 2)]
        colours = [
            [],
            ["red"],
            ["yellow", "green"],
            ["ci:red"],
            ["security:nodata", "red"],
            ["engagement:green", "scm:green"],
            ["health:yellow", "cd:red"],
            [f"segment:{segment}"],
            ["nodata"],
        ]
        later = [["utilization:red"], ["utilization:green", "yellow"], ["tier:ultimate"], ["tier:premium", "red"]]
        later += [["flag:stale"], ["flag:purchase_intent"], ["flag:not_reporting", "tier:ultimate"]]
        full_portfolio = listing_mod.cached_portfolio
        kept_some = False

        Scopes = Sequence[tuple[Scope, list[str] | None]]

        def check_pages(scopes: Scopes, from_ranking: Callable[[list[str]], bool]) -> None:
            nonlocal kept_some
            for scope, emails in scopes:
                full = build_portfolio(s, scope, emails)
                for words in colours + later:
                    filt = parse_filters(words)
                    assert filt.needs_later_columns == (words in later), words
                    want = listing(full, filt)
                    kept_some |= 0 < len(want.accounts) < len(full.accounts)
                    if from_ranking(words):  # never builds the whole portfolio
                        monkeypatch.setattr(listing_mod, "cached_portfolio", _must_not_run)
                    for n in range(1, want.page(1, 4)[1] + 2):  # one page past the end: clamped
                        clear_portfolio_cache()
                        got = listing_page(s, scope, emails, filt, n, 4)
                        assert got == want.page_view(n, 4), (scope, words, n)
                    monkeypatch.setattr(listing_mod, "cached_portfolio", full_portfolio)

        check_pages((("all", None), ("team", team), ("mine", team[:1])), lambda words: True)
        assert kept_some
        # A row stored before tiers and flags were kept: words that need them read the whole portfolio.
        some = s.scalars(select(AccountScore.account_id).limit(1)).one()
        s.execute(update(AccountScore).where(AccountScore.account_id == some).values(tiers=None, flag_kinds=None))
        check_pages((("all", None),), lambda words: words not in later)
        # An account without a current stored row: the whole portfolio answers, with the same pages.
        s.execute(AccountScore.__table__.delete().where(AccountScore.account_id == some))
        full = build_portfolio(s, "all", None)
        for words in (["red"], [], ["tier:ultimate"]):
            clear_portfolio_cache()
            filt = parse_filters(words)
            assert listing_page(s, "all", None, filt, 2, 4) == listing(full, filt).page_view(2, 4)
        s.rollback()


def _must_not_run(*args: object, **kwargs: object) -> Portfolio:
    raise AssertionError("the whole portfolio was built for a filter the ranking settles")


def test_rescore_command(tmp_path: Path, db_url: str, settings: object) -> None:
    _sync(tmp_path, db_url, 3, accounts=4, months=3)
    runner = CliRunner()
    res = runner.invoke(cli, ["rescore"])
    assert res.exit_code == 0, res.output
    assert "already current" in res.output
    res = runner.invoke(cli, ["rescore", "--all"])
    assert res.exit_code == 0, res.output
    assert "Rescored 4 accounts" in res.output
    with session_scope(db_url) as s:
        s.execute(AccountScore.__table__.update().values(fingerprint="old"))
    res = runner.invoke(cli, ["rescore"])
    assert res.exit_code == 0, res.output
    assert "Rescored 4 accounts" in res.output
    with session_scope(db_url) as s:
        assert scores_current(s)


def test_alerts_from_stored_scores_equal_those_computed_live(tmp_path: Path, db_url: str) -> None:
    _sync(tmp_path, db_url, 11, accounts=24)
    with session_scope(db_url) as s:
        months = stored_window(s, rules_for(None))
        from_stored = compute_alerts(s, months[-1], months[-2], include_muted=True)
        over_three = compute_alerts(s, months[-1], months[-4], include_muted=True)
        # Some accounts stored for one of the two months only: those are computed live, the rest read.
        half = sorted({a for (a,) in s.execute(select(AccountScore.account_id))})[::2]
        s.execute(
            AccountScore.__table__.delete().where(AccountScore.account_id.in_(half), AccountScore.month == months[-2])
        )
        assert compute_alerts(s, months[-1], months[-2], include_muted=True) == from_stored
        s.execute(AccountScore.__table__.delete())
        assert compute_alerts(s, months[-1], months[-2], include_muted=True) == from_stored
        assert compute_alerts(s, months[-1], months[-4], include_muted=True) == over_three
        s.rollback()
    assert from_stored  # the generated data has alerts to compare


def test_health_trend_read_from_stored_scores_equals_the_one_rolled_up_from_rows(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sync(tmp_path, db_url, 29, accounts=12)
    with session_scope(db_url) as s:
        month = stored_window(s, rules_for(None))[-1]
        ids = sorted({a for a, _ in _stored(s)})
        stored_reports = {a: build_account_report(s, a, month) for a in ids}
        s.execute(AccountScore.__table__.delete())
        live_reports = {a: build_account_report(s, a, month) for a in ids}
        s.rollback()
    read_from_store = 0
    for a in ids:
        got, want = stored_reports[a], live_reports[a]
        read_from_store += got.trends.rolled == ()  # the stored series answered, not a roll-up
        assert replace(got.trends, rolled=()) == replace(want.trends, rolled=())
        assert got.sparklines == want.sparklines
        assert series_json(got) == series_json(want)
        assert got.adoption == want.adoption
    assert read_from_store == len(ids)


def test_scoring_in_two_processes_stores_the_same_rows(tmp_path: Path, db_url: str) -> None:
    _sync(tmp_path, db_url, 3, accounts=12)
    with session_scope(db_url) as s:
        one = rescore(s, workers=1)
        serial = _stored(s)
    with session_scope(db_url) as s:
        two = rescore(s, workers=2)
        forked = _stored(s)
    assert (one.rows, two.rows) == (len(serial), len(forked))
    assert forked == serial


def _all_equal_reference(s: Session) -> int:
    stored = _stored(s)
    for (acc_id, month), (_fp, _c, _sc, summary, detail) in stored.items():
        assert from_json(acc_id, month, summary, detail) == _reference(s, acc_id, month), (acc_id, month)
    return len(stored)


def test_a_sync_scores_again_only_the_account_months_whose_inputs_changed(tmp_path: Path, db_url: str) -> None:
    import csv

    out = _sync(tmp_path, db_url, 5)
    with session_scope(db_url) as s:
        months = stored_window(s, rules_for(None))
    # One value of one account's usage row, in a month inside the stored window.
    usage = out / "usage_monthly.csv"
    with usage.open(newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    assert fields is not None
    target_month = months[4]
    row = next(r for r in rows if r["snapshot_month"] == f"{target_month:%Y-%m-%d}" and r["ci_pipelines_28_days_user"])
    row["ci_pipelines_28_days_user"] = str(float(row["ci_pipelines_28_days_user"]) + 7)
    account = row["dim_crm_account_id"]
    with usage.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    result = sync_export(CsvExport(out), db_url)
    assert result.ok and result.scoring is not None
    # That account's months from the changed one on (their windows hold the row); nothing of anyone else,
    # and no other account is even read: the load says which account it wrote.
    reached = [m for m in months if m >= target_month]
    assert result.scoring.rows == len(reached)
    assert result.scoring.accounts == 1
    assert result.scoring.unchanged == len(months) - len(reached)
    with session_scope(db_url) as s:
        _all_equal_reference(s)
        assert {(a, m) for (a, m) in _stored(s)} >= {(account, m) for m in reached}
        incremental = _stored(s)
        # A full rescore writes exactly what the incremental one kept and wrote.
        rescore(s)
        assert _stored(s) == incremental


def test_another_export_after_the_first_leaves_every_stored_row_equal_to_raw(tmp_path: Path, db_url: str) -> None:
    _sync(tmp_path, db_url, 5)
    out = tmp_path / "export-next"
    # A month later: one more month of data, instance summaries moved on, another as-of month.
    generate_export(out, accounts=10, months=16, seed=5, today=date(2026, 12, 15))
    result = sync_export(CsvExport(out), db_url)
    assert result.ok and result.scoring is not None
    with session_scope(db_url) as s:
        assert _all_equal_reference(s) == result.scoring.rows + result.scoring.unchanged
        incremental = _stored(s)
        rescore(s)
        assert _stored(s) == incremental


def test_the_inputs_digest_reads_a_months_rows_in_any_order(tmp_path: Path, db_url: str) -> None:
    import random

    from scoring.score_inputs import AccountInputs

    _sync(tmp_path, db_url, 3)
    with session_scope(db_url) as s:
        rules = rules_for(None)
        months = stored_window(s, rules)
        acc_id = sorted({a for a, _ in _stored(s)})[0]
        data = load_account_data(s, acc_id, add_months(months[0], -(rules.trend_months - 1)), months[-1])
    assert data is not None and data.rows

    def digests(rows: list) -> list[str]:
        inputs = AccountInputs(data.account, data.subscriptions, data.instances, rows)
        return [inputs.digest(m, rules.trend_months, b"shared") for m in months]

    as_loaded = digests(list(data.rows))
    shuffled = list(data.rows)
    random.Random(1).shuffle(shuffled)
    assert digests(shuffled) == as_loaded
    # One value changed: the months whose window holds the row change, the earlier ones do not.
    i = next(i for i, r in enumerate(data.rows) if r.snapshot_month == months[3] and r.metrics)
    row = data.rows[i]
    name = next(iter(row.metrics))
    changed = list(data.rows)
    changed[i] = replace(row, metrics={**row.metrics, name: (row.metrics[name] or 0) + 1})
    after = digests(changed)
    assert [a != b for a, b in zip(after, as_loaded, strict=True)] == [m >= months[3] for m in months]


def test_a_copy_that_meets_a_stored_row_replaces_it(tmp_path: Path, db_url: str) -> None:
    # A relabel's rescore may store an account's rows while the sync's scoring step writes that account as
    # having none: the write must replace them, not fail.
    _sync(tmp_path, db_url, 3)
    with session_scope(db_url) as s:
        table = AccountScore.__table__
        stored = [dict(r._mapping) for r in s.execute(select(table)).all()]
        assert stored
        for v in stored:
            v["health_score"] = -1.0
        scores_mod._write_rows(s, stored, fresh=True)
        s.commit()
    with session_scope(db_url) as s:
        assert {sc for _, _, sc, _, _ in _stored(s).values()} == {-1.0}


def _edit_csv(path: Path, edit: Callable[[list[dict[str, str]]], None]) -> None:
    import csv

    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    assert fields is not None
    edit(rows)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def _leftover_change_triggers(db_url: str) -> int:
    from db.session import get_engine

    with get_engine(db_url).connect() as conn:
        if conn.dialect.name == "postgresql":
            sql = "SELECT count(*) FROM pg_trigger WHERE starts_with(tgname, 'sync_touched')"
        else:
            sql = "SELECT count(*) FROM sqlite_temp_master WHERE substr(name, 1, 12) = 'sync_touched'"
        return int(conn.exec_driver_sql(sql).scalar_one())


def _edit_seats(out: Path, account: str) -> None:
    def edit(rows: list[dict[str, str]]) -> None:
        row = next(r for r in rows if r["dim_crm_account_id"] == account)
        row["licensed_seats"] = str(int(row["licensed_seats"]) + 50)

    _edit_csv(out / "subscriptions.csv", edit)


def _edit_customer_since(out: Path, account: str) -> None:
    def edit(rows: list[dict[str, str]]) -> None:
        row = next(r for r in rows if r["dim_crm_account_id"] == account)
        row["customer_since_date"] = "2019-01-01"

    _edit_csv(out / "accounts.csv", edit)


def _edit_instance_type(out: Path, account: str) -> None:
    identity = ("dim_installation_id", "uuid", "hostname", "dim_namespace_id")

    def edit(rows: list[dict[str, str]]) -> None:
        first = next(r for r in rows if r["dim_crm_account_id"] == account)
        for r in rows:
            if all(r[c] == first[c] for c in identity):
                r["instance_type"] = "Non-Production" if r["instance_type"] == "Production" else "Production"

    _edit_csv(out / "usage_monthly.csv", edit)


def _edit_newest_version(out: Path, account: str) -> None:
    # A version newer than any other in the newest month: every account's "behind the newest version" flag of
    # that month reads it, so every account is compared again.
    def edit(rows: list[dict[str, str]]) -> None:
        newest = max(r["snapshot_month"] for r in rows)
        row = next(r for r in rows if r["snapshot_month"] == newest and r["cleaned_version"])
        row["cleaned_version"] = "99.0.0"

    _edit_csv(out / "usage_monthly.csv", edit)


@pytest.mark.parametrize(
    ("edit", "only_that_account"),
    [
        (_edit_seats, True),
        (_edit_customer_since, True),
        (_edit_instance_type, True),
        (_edit_newest_version, False),
    ],
    ids=["subscription seats", "account row", "instance type", "a month's newest version"],
)
def test_a_re_load_compares_only_the_accounts_it_wrote_unless_what_all_share_moved(
    tmp_path: Path, db_url: str, edit: Callable[[Path, str], None], only_that_account: bool
) -> None:
    out = _sync(tmp_path, db_url, 6)
    with session_scope(db_url) as s:
        accounts = sorted(s.scalars(select(Account.id)))
        before = _stored(s)
    account = accounts[3]
    edit(out, account)
    result = sync_export(CsvExport(out), db_url)
    assert result.ok and result.scoring is not None and result.changes.total > 0
    assert result.scoring.accounts == (1 if only_that_account else len(accounts))
    assert _leftover_change_triggers(db_url) == 0
    with session_scope(db_url) as s:
        _all_equal_reference(s)
        after = _stored(s)
        assert {a for (a, m) in after if after[a, m] != before.get((a, m))} <= (
            {account} if only_that_account else set(accounts)
        )
        rescore(s)
        assert _stored(s) == after


def test_a_rejected_re_load_leaves_no_change_triggers_and_the_next_one_scores_right(
    tmp_path: Path, db_url: str
) -> None:
    out = _sync(tmp_path, db_url, 7)
    with session_scope(db_url) as s:
        account = sorted(s.scalars(select(Account.id)))[2]
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)

    def break_a_row(rows: list[dict[str, str]]) -> None:
        rows[-1]["licensed_seats"] = "many"

    _edit_seats(bad, account)
    _edit_csv(bad / "subscriptions.csv", break_a_row)
    assert sync_export(CsvExport(bad), db_url).status == "rejected"
    assert _leftover_change_triggers(db_url) == 0
    _edit_seats(out, account)
    result = sync_export(CsvExport(out), db_url)
    assert result.ok and result.scoring is not None and result.scoring.accounts == 1
    with session_scope(db_url) as s:
        _all_equal_reference(s)
