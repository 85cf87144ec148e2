"""The alert DM stays within Slack's limits however many accounts a TAM has (pure renderer)."""

from __future__ import annotations

from datetime import date

from bot.blocks.limits import check_limits
from bot.features.alerts.blocks import MUTE_ACTION, UNMUTE_ACTION, alert_blocks, alert_text, with_mute_state
from db.models import AlertRecord


def _record(i: int, kind: str = "color_drop") -> AlertRecord:
    return AlertRecord(
        account_id=f"ACC{i:03d}",
        kind=kind,
        measure="scm",
        month=date(2026, 10, 1),
        tam_email="tam@example.com",
        message=f"SCM dropped from Green to Yellow ({i}) " + "x" * 200,
        details={"account_name": f"Account {i:03d}", "view": "health", "command": f"/usage Account {i:03d} health"},
    )


def test_many_accounts_fit_one_message() -> None:
    records = [_record(i) for i in range(80)] + [_record(0, "utilization_drop")]
    blocks = alert_blocks(records)
    assert check_limits(blocks) == []
    assert len(blocks) <= 50
    text = str(blocks)
    # Every account is in the one message: shown with buttons, or listed under "More".
    assert all(f"Account {i:03d}" in text for i in range(80))
    assert "81 changes on 80 of your accounts" in alert_text(records)


def test_mute_state_swaps_only_that_accounts_button() -> None:
    blocks = alert_blocks([_record(1), _record(2)])
    muted = with_mute_state(blocks, "ACC001", True, "<@U1>")
    ids = [(b.get("block_id"), e["action_id"]) for b in muted if b["type"] == "actions" for e in b["elements"]]
    assert ("alert_actions:ACC001", UNMUTE_ACTION) in ids and ("alert_actions:ACC002", MUTE_ACTION) in ids
    assert ("alert_actions:ACC001", "usage_view:health") in ids
    back = with_mute_state(muted, "ACC001", False, "<@U1>")
    assert back == blocks
