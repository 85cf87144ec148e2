"""compute_alerts over two consecutive months on the real database: each kind fires, nothing else does."""

from __future__ import annotations

from sqlalchemy import select
from support.alerts_data import OCT, SEP, TAM1, TAM2, seed
from support.scoring_helpers import add_usage

from db.models import AlertMute, Instance
from db.session import session_scope
from workflows.alerts import compute_alerts, resolve_months


def _by_account(alerts):  # type: ignore[no-untyped-def]
    out: dict[str, set[tuple[str, str]]] = {}
    for a in alerts:
        out.setdefault(a.account_id, set()).add((a.kind, a.measure))
    return out


def test_each_kind_fires_and_nothing_else(db_url: str) -> None:
    seed(db_url)
    with session_scope(db_url) as s:
        small_id = s.scalar(select(Instance.id).where(Instance.identity == "sm:beta-edge"))
        alerts = compute_alerts(s, OCT, SEP)
    got = _by_account(alerts)
    # Acme: utilization 90% -> 75% (15 points; Red at 10+ months) and SCM Green -> Yellow, so overall drops too.
    assert ("utilization_drop", "license_utilization") in got["ACC-ACME"]
    assert ("color_drop", "scm") in got["ACC-ACME"]
    assert ("color_drop", "overall") in got["ACC-ACME"]
    assert all(kind != "stopped_reporting" for kind, _ in got["ACC-ACME"])
    # Beta: the smaller Production instance pinged in September, not in October.
    assert got["ACC-BETA"] == {("stopped_reporting", str(small_id))}
    # Cobalt: a month after onboarding, still at 30%.
    assert got["ACC-COBALT"] == {("low_utilization", "license_utilization")}
    # Delta improved SCM and lost CD data: neither counts. Echo dropped too (not muted here).
    assert "ACC-DELTA" not in got
    assert "ACC-ECHO" in got

    acme = [a for a in alerts if a.account_id == "ACC-ACME"]
    scm = next(a for a in acme if a.kind == "color_drop" and a.measure == "scm")
    assert (scm.before, scm.after) == ("Green", "Yellow")
    assert scm.message.startswith("SCM dropped from Green to Yellow") and scm.view == "health"
    util = next(a for a in acme if a.kind == "utilization_drop")
    assert util.before == 0.9 and util.after == 0.75
    assert "fell 15 points: 90% → 75%" in util.message
    assert util.command == "/usage Acme Corp utilization"
    assert {a.tam_email for a in acme} == {TAM1}
    beta = next(a for a in alerts if a.account_id == "ACC-BETA")
    assert "beta-edge.example.com stopped reporting" in beta.message and beta.view == "instances"
    cobalt = next(a for a in alerts if a.account_id == "ACC-COBALT")
    assert cobalt.tam_email == TAM2 and "30%" in cobalt.message and "1 month after onboarding" in cobalt.message


def test_no_alert_when_nothing_dropped(db_url: str) -> None:
    seed(db_url, october=False)
    with session_scope(db_url) as s:
        # October repeats September exactly, except Cobalt (low from its first month: told only on entry).
        from db.models import UsageMonthly

        for u in list(s.scalars(select(UsageMonthly).where(UsageMonthly.snapshot_month == SEP))):
            inst = s.get(Instance, u.instance_id)
            assert inst is not None
            values = {c: getattr(u, c) for c in u.metrics() if hasattr(UsageMonthly, c)}
            add_usage(
                s,
                inst,
                u.subscription_id,
                OCT,
                billable_user_count=u.billable_user_count,
                license_user_count=u.license_user_count,
                **values,
            )
        s.flush()
        alerts = compute_alerts(s, OCT, SEP)
    assert [(a.account_id, a.kind) for a in alerts] == [("ACC-COBALT", "low_utilization")]


def test_low_utilization_told_once_not_every_month(db_url: str) -> None:
    seed(db_url)
    nov = OCT.replace(month=11)
    with session_scope(db_url) as s:
        cobalt = s.scalar(select(Instance).where(Instance.identity == "sm:cobalt-prod"))
        add_usage(s, cobalt, "S-COBALT", nov, billable_user_count=35, license_user_count=100)
        s.flush()
        alerts = compute_alerts(s, nov, OCT)
    assert ("ACC-COBALT", "low_utilization") not in {(a.account_id, a.kind) for a in alerts}


def test_muted_account_skipped(db_url: str) -> None:
    seed(db_url)
    with session_scope(db_url) as s:
        s.add(AlertMute(account_id="ACC-ECHO", muted_by="U0TAM0003"))
    with session_scope(db_url) as s:
        alerts = compute_alerts(s, OCT, SEP)
        assert "ACC-ECHO" not in _by_account(alerts)
        assert "ACC-ECHO" in _by_account(compute_alerts(s, OCT, SEP, include_muted=True))


def test_months_default_to_as_of_and_the_month_before(db_url: str) -> None:
    with session_scope(db_url) as s:
        assert resolve_months(s, None, None) is None
    seed(db_url)
    with session_scope(db_url) as s:
        assert resolve_months(s, None, None) == (OCT, SEP)
        assert resolve_months(s, SEP.replace(day=15), None) == (SEP, SEP.replace(month=8))
