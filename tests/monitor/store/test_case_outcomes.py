"""What a case ends in (monitor.store.case_outcomes), on SQLite and PostgreSQL: a verdict
closes it and writes one wallet.verdicts message per alert of the case, a legitimate one
can lift the restrictions, and support's restores and password resets go through the
outbox, audited, once per request id."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from monitor.events import Verdict, decode_verdict
from monitor.responders.actions import decode_action
from monitor.responders.responder import PlaybookResponder
from monitor.store import AlertStore
from monitor.store.casework import Casework
from monitor.store.exceptions import InvalidTransition
from monitor.store.schema import case_alerts, outbox
from tests.monitor.store.casework_helpers import Clock, T, alert, audit, count


def test_verdict_closes_the_case_and_writes_one_message_per_alert(
    store: AlertStore, desk: Casework, clock: Clock, case_id: str
) -> None:
    store.mark_published([p.seq for p in store.pending_actions()])
    desk.claim(case_id, actor="ana", role="analyst")
    v = desk.give_verdict(
        case_id, "fraud", "  customer denies both  ", actor="ana", role="analyst", request_id="v1"
    )
    assert v.body["verdict"] == "fraud" and v.body["note"] == "customer denies both"
    assert v.body["published"] == 2 and len(v.body["alert_ids"]) == 2
    case = desk.get_case(case_id)
    assert (case.status, case.verdict, case.closed_by) == ("closed", "fraud", "ana")
    assert store.open_cases("victim") == []

    pending = store.pending_actions()
    assert [p.topic for p in pending] == ["verdicts", "verdicts"]
    messages = [decode_verdict(p.body) for p in pending]
    assert all(isinstance(m, Verdict) for m in messages)
    assert {m.alert_id for m in messages} == set(v.body["alert_ids"])  # type: ignore[union-attr]
    assert {(m.account_id, m.verdict, m.note) for m in messages} == {("victim", "fraud", None)}  # type: ignore[union-attr]
    assert messages[0].ts == datetime.fromtimestamp(clock.now, UTC)  # type: ignore[union-attr]
    assert all(p.account_id == "victim" for p in pending)  # the key: co-partitioned
    store.mark_published([p.seq for p in pending])
    webhooks = store.pending_webhooks()  # verdicts are not commands for the wallet's backend
    assert webhooks and all(w.topic == "actions" and w.type != "verdict" for w in webhooks)

    (row,) = [r for r in audit(store, case_id) if r["action"] == "case_verdict"]
    assert row["before"]["status"] == "open" and row["after"]["verdict"] == "fraud"
    assert row["request_id"] == "v1"

    again = desk.give_verdict(
        case_id, "fraud", "retry", actor="ana", role="analyst", request_id="v1"
    )
    assert again == v and store.outbox_depth() == 0  # a retried request: nothing twice
    with pytest.raises(InvalidTransition, match=r"is closed .*verdict fraud by ana"):
        desk.give_verdict(case_id, "legitimate", "second thoughts", actor="ana", role="analyst")
    for step in (
        lambda: desk.claim(case_id, actor="bo", role="analyst"),
        lambda: desk.assign(case_id, "bo", actor="lead", role="admin"),
        lambda: desk.acknowledge(case_id, actor="ana", role="analyst"),
        lambda: desk.escalate(case_id, "too late", actor="ana", role="analyst"),
    ):
        with pytest.raises(InvalidTransition, match="closed"):
            step()
    desk.add_note(case_id, "customer called back", actor="ana", role="analyst")  # still fine


def test_inconclusive_verdicts_are_recorded_and_published_as_such(
    store: AlertStore, desk: Casework, case_id: str
) -> None:
    store.mark_published([p.seq for p in store.pending_actions()])
    desk.give_verdict(case_id, "inconclusive", "could not reach", actor="ana", role="analyst")
    verdicts = {decode_verdict(p.body).verdict for p in store.pending_actions()}  # type: ignore[union-attr]
    assert verdicts == {"inconclusive"}  # the learner counts these and learns nothing
    assert desk.get_case(case_id).verdict == "inconclusive"


def test_legitimate_verdict_can_lift_the_restrictions(
    store: AlertStore, desk: Casework, case_id: str
) -> None:
    assert [r.feature for r in desk.case_detail(case_id).restrictions]
    store.mark_published([p.seq for p in store.pending_actions()])
    with pytest.raises(ValueError, match="only a legitimate verdict"):
        desk.give_verdict(case_id, "fraud", "x", actor="ana", role="analyst", restore=True)
    v = desk.give_verdict(
        case_id, "legitimate", "travelling, verified", actor="ana", role="analyst", restore=True
    )
    pending = store.pending_actions()
    assert sorted(p.topic for p in pending) == ["actions", "verdicts", "verdicts"]
    (command,) = [p for p in pending if p.topic == "actions"]
    restore = decode_action(command.body)
    assert restore.type == "restore_payment_features"  # type: ignore[union-attr]
    assert v.body["restore_action_id"] == restore.action_id  # type: ignore[union-attr]
    assert desk.case_detail(case_id).restrictions == []
    assert "restore_payment_features" in [r["action"] for r in store.audit_entries()]


def test_forced_password_reset_goes_through_the_outbox_audited(
    store: AlertStore, desk: Casework, case_id: str
) -> None:
    store.mark_published([p.seq for p in store.pending_actions()])
    record = desk.force_password_reset(
        "victim", "SIM swap reported", actor="ana", role="analyst", case_id=case_id, request_id="p1"
    )
    assert record.type == "force_password_reset" and record.published_at is None
    assert record.reason == "password reset by support (ana): SIM swap reported"
    (pending,) = store.pending_actions()
    assert decode_action(pending.body).action_id == record.action_id  # type: ignore[union-attr]
    again = desk.force_password_reset(
        "victim", "SIM swap reported", actor="ana", role="analyst", case_id=case_id, request_id="p1"
    )
    assert again == record and store.outbox_depth() == 1
    (row,) = [
        r for r in store.audit_entries("account:victim") if r["action"] == "force_password_reset"
    ]
    assert "force_password_reset" in row["after"]["recent"] and row["request_id"] == "p1"
    detail = desk.case_detail(case_id)
    assert [e.kind for e in detail.events] == ["password_reset"]
    assert "force_password_reset" in detail.recent_responses
    # without a case, a retried request id gives the same command once
    alone = desk.force_password_reset("victim", "again", actor="bo", role="admin", request_id="p2")
    assert (
        desk.force_password_reset("victim", "again", actor="bo", role="admin", request_id="p2")
        == alone
    )
    assert store.outbox_depth() == 2
    with pytest.raises(ValueError, match=r"case .* is about account victim"):
        desk.force_password_reset("other", "x", actor="ana", role="analyst", case_id=case_id)


def test_restore_from_a_case(store: AlertStore, desk: Casework, case_id: str) -> None:
    record = desk.restore(
        "victim", "verified by video call", actor="ana", role="analyst", case_id=case_id
    )
    assert record.type == "restore_payment_features" and record.features
    assert desk.case_detail(case_id).restrictions == []
    (event,) = desk.case_events(case_id)
    assert event.kind == "restore" and event.body["action_id"] == record.action_id
    with pytest.raises(ValueError, match="no restriction"):
        desk.restore("victim", "again", actor="ana", role="analyst")
    with pytest.raises(ValueError, match="no responder"):
        Casework(store).restore("victim", "x", actor="a", role="r")


def test_a_verdict_ends_the_case_and_the_next_alert_opens_a_new_one(
    store: AlertStore, responder: PlaybookResponder, desk: Casework, case_id: str
) -> None:
    desk.give_verdict(case_id, "legitimate", "all fine", actor="ana", role="analyst")
    store.save_decisions([alert("e3", ts=T + 7200)], responder=responder)
    (new,) = store.open_cases("victim")
    assert new["case_id"] != case_id and new["alert_count"] == 1


def test_verdicts_are_about_the_case_alert_links(
    store: AlertStore, desk: Casework, case_id: str
) -> None:
    with store.engine.connect() as conn:
        linked = set(
            conn.execute(
                sa.select(case_alerts.c.alert_id).where(case_alerts.c.case_id == case_id)
            ).scalars()
        )
    before = count(store, outbox)
    v = desk.give_verdict(case_id, "fraud", "x", actor="ana", role="analyst")
    assert set(v.body["alert_ids"]) == linked and len(linked) == 2
    assert count(store, outbox) == before + 2
