"""Responses in the store: commands written with their alert in one transaction, never
twice on replay; restrictions lift themselves at expiry; support restores are audited."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from monitor.decision import Reason, decide
from monitor.responders.actions import decode_action
from monitor.responders.responder import PlaybookResponder, load_playbooks
from monitor.store import AlertStore

RULES = Path(__file__).resolve().parents[3] / "rules"
T = 1_800_000_000.0


@pytest.fixture
def responder() -> PlaybookResponder:
    return PlaybookResponder(load_playbooks(RULES))


def drain(event_id: str = "e1", ts: float = T):  # type: ignore[no-untyped-def]
    hit = Reason(
        code="rule:takeover_drain", text="transfer after a change", rule_id="takeover_drain"
    )
    return decide(
        event_id=event_id,
        account_id="victim",
        event_type="payment",
        event_ts=ts,
        rule_hits=[("critical", 0.95, hit)],
        anomaly=None,
        actions=["disable_payment_features", "force_password_reset", "alert_support"],
        queue="account_security",
    )


def types(store: AlertStore) -> list[str]:
    return [p.type for p in store.pending_actions()]


def test_commands_are_written_with_the_alert_once(store: AlertStore, responder) -> None:  # type: ignore[no-untyped-def]
    assert store.save_decisions([drain()], responder=responder) == 1
    assert types(store) == ["force_password_reset", "disable_payment_features", "alert_support"]
    store.save_decisions([drain()], responder=responder)  # a replay: no new commands
    assert store.outbox_depth() == 3
    store.save_decisions([drain("e2", T + 60)], responder=responder)  # freeze in force
    assert types(store).count("disable_payment_features") == 1
    (case,) = store.open_cases("victim")
    assert case["category"] == "account_security" and case["priority"] == "P1"
    assert case["alert_count"] == 2  # the second alert joined the open case


def test_restrictions_lift_themselves_at_expiry(store: AlertStore, responder) -> None:  # type: ignore[no-untyped-def]
    store.save_decisions([drain()], responder=responder)
    disable = next(p for p in store.pending_actions() if p.type == "disable_payment_features")
    expires = decode_action(disable.body).expires_at.timestamp()  # type: ignore[union-attr]
    store.mark_published([p.seq for p in store.pending_actions()])
    assert store.expire_restrictions(responder, now=expires - 1) == 0
    assert store.expire_restrictions(responder, now=expires + 1) == 1
    (restore,) = store.pending_actions()
    action = decode_action(restore.body)
    assert action.type == "restore_payment_features"  # type: ignore[union-attr]
    assert set(action.feature_names) == set(decode_action(disable.body).feature_names)  # type: ignore[union-attr]
    assert store.expire_restrictions(responder, now=expires + 2) == 0  # lifted once


def test_support_restore_is_audited(store: AlertStore, responder) -> None:  # type: ignore[no-untyped-def]
    store.save_decisions([drain()], responder=responder)
    action = store.restore(
        responder,
        "victim",
        features=None,
        reason="customer verified on the hotline",
        actor="agent-7",
        role="admin",
        request_id="req-1",
    )
    assert action.type == "restore_payment_features"
    (entry,) = store.audit_entries("account:victim")
    assert entry["actor"] == "agent-7" and entry["request_id"] == "req-1"
    assert entry["before"]["restrictions"] and entry["after"]["restrictions"] == {}
    assert (
        "customer verified"
        in msgspec.json.decode(
            next(p for p in store.pending_actions() if p.action_id == action.action_id).body
        )["reason"]
    )
    with pytest.raises(ValueError):
        store.restore(responder, "victim", features=None, reason="", actor="agent-7", role="admin")
