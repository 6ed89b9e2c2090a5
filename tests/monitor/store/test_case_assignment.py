"""Who works a case (monitor.store.case_assignment), on SQLite and PostgreSQL: claim and
assign with their audit rows, acknowledging within the SLA or late, escalation (priority,
due time, release, another queue), and concurrent claims with one winner."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from monitor.responders.responder import PlaybookResponder
from monitor.store import AlertStore
from monitor.store.casework import Casework
from monitor.store.exceptions import InvalidTransition
from tests.monitor.store.casework_helpers import Clock, T, alert, audit, case_of


def test_claim_assign_and_their_audit_rows(store: AlertStore, desk: Casework, case_id: str) -> None:
    e = desk.claim(case_id, actor="ana", role="analyst", request_id="r1")
    assert (e.kind, e.seq, e.body) == ("claim", 1, {"from": None, "to": "ana", "forced": False})
    assert desk.get_case(case_id).assignee == "ana"
    (row,) = audit(store, case_id)
    assert (row["actor"], row["role"], row["action"], row["request_id"]) == (
        "ana",
        "analyst",
        "case_claim",
        "r1",
    )
    assert row["before"]["assignee"] is None
    assert row["after"]["assignee"] == "ana" and row["after"]["event_seq"] == 1

    assert desk.claim(case_id, actor="ana", role="analyst") == e  # holding it: nothing new
    with pytest.raises(InvalidTransition, match=r"claimed by ana.*force=True"):
        desk.claim(case_id, actor="bo", role="analyst")
    taken = desk.claim(case_id, actor="bo", role="admin", force=True)
    assert taken.body == {"from": "ana", "to": "bo", "forced": True}

    moved = desk.assign(case_id, "cy", actor="lead", role="admin")
    assert moved.body == {"from": "bo", "to": "cy"} and desk.get_case(case_id).assignee == "cy"
    released = desk.assign(case_id, None, actor="lead", role="admin")
    assert released.body == {"from": "cy", "to": None}
    assert desk.get_case(case_id).assignee is None
    assert [r["action"] for r in audit(store, case_id)] == [
        "case_claim",
        "case_claim",
        "case_assign",
        "case_assign",
    ]
    assert [e.seq for e in desk.case_events(case_id)] == [1, 2, 3, 4]


def test_acknowledge_once_within_sla(desk: Casework, clock: Clock, case_id: str) -> None:
    due = desk.get_case(case_id).due_at
    clock.now = due.timestamp() - 1
    desk.claim(case_id, actor="ana", role="analyst")
    with pytest.raises(InvalidTransition, match="claimed by ana"):
        desk.acknowledge(case_id, actor="bo", role="analyst")
    ack = desk.acknowledge(case_id, actor="ana", role="analyst")
    assert ack.kind == "ack" and ack.body["within_sla"] is True
    case = desk.get_case(case_id)
    assert case.acknowledged_by == "ana" and case.acknowledged_at == ack.at
    with pytest.raises(InvalidTransition, match="already acknowledged by ana"):
        desk.acknowledge(case_id, actor="ana", role="analyst")


def test_late_acknowledgement_says_so(desk: Casework, clock: Clock, case_id: str) -> None:
    clock.now = desk.get_case(case_id).due_at.timestamp() + 60
    assert desk.acknowledge(case_id, actor="ana", role="analyst").body["within_sla"] is False


def test_escalation_raises_priority_moves_due_time_and_releases(
    store: AlertStore, responder: PlaybookResponder, desk: Casework, clock: Clock
) -> None:
    store.save_decisions([alert("m1", "acct-m", severity="medium")], responder=responder)
    case_id = case_of(store, "acct-m")
    before = desk.get_case(case_id)
    assert before.priority == "P3"
    desk.claim(case_id, actor="ana", role="analyst")
    e = desk.escalate(case_id, "looks like a mule ring", actor="ana", role="analyst")
    after = desk.get_case(case_id)
    assert (after.priority, after.escalation_level, after.assignee) == ("P2", 1, None)
    assert after.due_at == min(before.due_at, datetime.fromtimestamp(clock.now + 3600, UTC))
    assert e.body["from_priority"] == "P3" and e.body["released"] == "ana"
    assert (
        desk.escalate(case_id, "urgent", actor="bo", role="admin", priority="P1").body["priority"]
        == "P1"
    )
    assert desk.escalate(case_id, "still", actor="bo", role="admin").body["priority"] == "P1"
    with pytest.raises(ValueError, match="cannot lower"):
        desk.escalate(case_id, "calm down", actor="bo", role="admin", priority="P4")
    assert desk.get_case(case_id).escalation_level == 3
    # alert routing keeps the escalated priority when a new alert joins the case
    store.save_decisions([alert("m2", "acct-m", severity="medium", ts=T + 60)], responder=responder)
    (case,) = store.open_cases("acct-m")
    assert case["priority"] == "P1" and case["alert_count"] == 2


def test_escalation_to_another_queue(
    store: AlertStore, responder: PlaybookResponder, desk: Casework
) -> None:
    store.save_decisions([alert("q1", "acct-q", severity="high")], responder=responder)
    store.save_decisions(
        [alert("q2", "acct-q", severity="high", queue="payments", rule="mule", ts=T + 1)],
        responder=responder,
    )
    security, payments = (
        desk.list_cases(account_id="acct-q", queue=q)[0][0].case_id
        for q in ("account_security", "payments")
    )
    with pytest.raises(InvalidTransition, match=f"already has open case {payments}"):
        desk.escalate(security, "money moved", actor="ana", role="analyst", to_queue="payments")
    desk.give_verdict(payments, "fraud", "mule", actor="ana", role="analyst")
    e = desk.escalate(security, "money moved", actor="ana", role="analyst", to_queue="payments")
    assert (e.body["from_queue"], e.body["queue"]) == ("account_security", "payments")
    (case,) = store.open_cases("acct-q")
    assert case["category"] == "payments" and case["case_id"] == security
    with pytest.raises(ValueError, match="unknown queue"):
        desk.escalate(security, "x", actor="ana", role="analyst", to_queue="nowhere")


@pytest.mark.postgres
def test_concurrent_claims_have_one_winner(
    pg_url: str, responder: PlaybookResponder, clock: Clock
) -> None:
    """Steps lock the case: of agents claiming at once, one wins and the others are told
    who holds it (no lost update, no duplicate history row)."""
    store = AlertStore(pg_url)
    store.create_schema()
    try:
        store.save_decisions([alert("e1")], responder=responder)
        case_id = case_of(store, "victim")
        desk = Casework(store, clock=clock)

        def claim(agent: str) -> str:
            try:
                desk.claim(case_id, actor=agent, role="analyst")
            except InvalidTransition:
                return "refused"
            return "won"

        with ThreadPoolExecutor(max_workers=4) as pool:
            outcomes = list(pool.map(claim, [f"agent-{i}" for i in range(8)]))
        assert sorted(outcomes) == ["refused"] * 7 + ["won"]
        (event,) = desk.case_events(case_id)
        assert desk.get_case(case_id).assignee == event.body["to"]
        assert len(audit(store, case_id)) == 1
    finally:
        store.close()
