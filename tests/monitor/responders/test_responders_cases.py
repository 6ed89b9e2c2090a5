"""Support cases: one open case per account and category, priority and SLA escalation."""

from __future__ import annotations

import msgspec
import pytest

from monitor.decision import Decision
from monitor.responders.cases import (
    DEFAULT_POLICY,
    CasePolicy,
    case_id_for,
    category_for,
    route,
)

NOW = 1_772_416_800.0
MIN = 60.0


def alert(
    event_id: str,
    severity: str = "medium",
    *,
    event_type: str = "payment",
    queue: str | None = "payments",
    account_id: str = "acct-1",
) -> Decision:
    return Decision(
        event_id=event_id,
        account_id=account_id,
        event_type=event_type,
        event_ts=NOW,
        severity=severity,  # type: ignore[arg-type]
        score=0.5,
        anomaly_score=None,
        rule_ids=["r"],
        reasons=[],
        queue=queue,
    )


@pytest.mark.parametrize(
    ("severity", "priority", "sla"),
    [
        ("critical", "P1", 15 * MIN),
        ("high", "P2", 60 * MIN),
        ("medium", "P3", 240 * MIN),
        ("low", "P4", 1440 * MIN),
    ],
)
def test_priority_and_sla_from_severity(severity: str, priority: str, sla: float) -> None:
    update = route(alert("e1", severity), None, NOW)
    assert update.kind == "opened" and update.escalated
    case = update.case
    assert (case.priority, case.due_at, case.opened_at) == (priority, NOW + sla, NOW)
    assert case.case_id == case_id_for("acct-1", "payments", alert("e1").alert_id)
    assert (case.alert_count, case.first_alert_id, case.last_alert_id) == (
        1,
        alert("e1").alert_id,
        alert("e1").alert_id,
    )


def test_further_alerts_join_the_open_case_and_escalate_but_never_later() -> None:
    opened = route(alert("e1", "medium"), None, NOW).case  # P3, due NOW + 4h
    same = route(alert("e2", "medium"), opened, NOW + 60 * MIN)
    assert same.kind == "added" and not same.escalated
    assert same.case.due_at == opened.due_at  # not pushed later by a later alert
    assert same.case.alert_count == 2 and same.case.case_id == opened.case_id

    up = route(alert("e3", "critical"), same.case, NOW + 90 * MIN)
    assert up.escalated and up.case.priority == "P1" and up.case.severity == "critical"
    assert up.case.due_at == NOW + 90 * MIN + 15 * MIN  # pulled earlier

    down = route(alert("e4", "low"), up.case, NOW + 100 * MIN)
    assert not down.escalated
    assert (down.case.priority, down.case.severity, down.case.due_at) == (
        "P1",
        "critical",
        up.case.due_at,
    )
    assert down.case.alert_count == 4 and down.case.last_alert_id == alert("e4").alert_id
    assert down.case.opened_at == NOW


def test_a_higher_priority_never_moves_the_deadline_later() -> None:
    # a P3 opened long ago is overdue sooner than a fresh P2 would be
    opened = route(alert("e1", "medium"), None, NOW).case
    up = route(alert("e2", "high"), opened, NOW + 230 * MIN)
    assert up.case.priority == "P2"
    assert up.case.due_at == opened.due_at == NOW + 240 * MIN


def test_closed_case_is_not_reused_and_replay_of_latest_alert_is_a_no_op() -> None:
    first = route(alert("e1"), None, NOW).case
    closed = msgspec.structs.replace(first, status="closed")
    reopened = route(alert("e2"), closed, NOW + MIN)
    assert reopened.kind == "opened" and reopened.case.case_id != first.case_id
    replay = route(alert("e1"), first, NOW + MIN)
    assert replay.case == first and not replay.escalated


def test_category_from_queue_then_event_type_and_ops() -> None:
    assert category_for(alert("e", queue="account_security")) == "account_security"
    assert category_for(alert("e", queue=None, event_type="login")) == "account_security"
    assert category_for(alert("e", queue=None, event_type="topup")) == "topup"
    assert category_for(alert("e", queue="nonsense", event_type="payment")) == "payments"
    assert category_for(alert("e", queue="payments", event_type="ops")) == "ops"


def test_route_refuses_a_case_of_another_account_or_category_and_non_alerts() -> None:
    case = route(alert("e1"), None, NOW).case
    with pytest.raises(ValueError, match="acct-2"):
        route(alert("e2", account_id="acct-2"), case, NOW)
    with pytest.raises(ValueError, match="does not open a case"):
        route(alert("e3", "none"), None, NOW)


def test_policy_is_configurable() -> None:
    policy = CasePolicy(sla={**DEFAULT_POLICY.sla, "P3": 30 * MIN})
    assert route(alert("e1"), None, NOW, policy).case.due_at == NOW + 30 * MIN
