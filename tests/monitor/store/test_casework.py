"""The support workflow on the store (monitor.store.casework), on SQLite and PostgreSQL:
case lists (filters, order, cursor pages), case detail and account view, every workflow
step with its audit row, refusals, and verdicts written for wallet.verdicts."""

from __future__ import annotations

import base64
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa

from monitor.decision import Reason, decide
from monitor.events import Verdict, decode_verdict
from monitor.responders.actions import decode_action
from monitor.responders.cases import Case, case_id_for
from monitor.responders.responder import PlaybookResponder, load_playbooks
from monitor.store import AlertStore
from monitor.store.casework import Casework
from monitor.store.exceptions import CaseNotFound, InvalidCursor, InvalidTransition
from monitor.store.schema import case_alerts, case_events, cases, outbox

RULES = Path(__file__).resolve().parents[3] / "rules"
T = 1_800_000_000.0  # event time of the first alert (2027-01-15T08:00:00Z)


class Clock:
    """The desk's clock, moved by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def responder() -> PlaybookResponder:
    return PlaybookResponder(load_playbooks(RULES))


@pytest.fixture
def clock() -> Clock:
    return Clock(T + 3600)


@pytest.fixture
def desk(store: AlertStore, responder: PlaybookResponder, clock: Clock) -> Casework:
    return Casework(store, responder=responder, clock=clock)


def alert(
    event_id: str,
    account: str = "victim",
    *,
    severity: Any = "critical",
    rule: str = "takeover_drain",
    queue: str | None = "account_security",
    event_type: str = "payment",
    ts: float = T,
    actions: tuple[str, ...] = ("disable_payment_features", "alert_support"),
):  # type: ignore[no-untyped-def]
    hit = Reason(code=f"rule:{rule}", text=f"{rule} on {event_id}", rule_id=rule, values={"n": 3})
    return decide(
        event_id=event_id,
        account_id=account,
        event_type=event_type,
        event_ts=ts,
        rule_hits=[(severity, 0.9, hit)],
        anomaly=None,
        actions=list(actions),
        queue=queue,
        learn_input={"amount_z": 4.2},
    )


def case_of(store: AlertStore, account: str) -> str:
    (case,) = store.open_cases(account)
    return str(case["case_id"])


def audit(store: AlertStore, case_id: str) -> list[dict[str, Any]]:
    return store.audit_entries(f"case:{case_id}")


def count(store: AlertStore, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


@pytest.fixture
def case_id(store: AlertStore, responder: PlaybookResponder) -> str:
    """An open P1 account-security case on ``victim`` with two alerts and a freeze."""
    store.save_decisions([alert("e1")], responder=responder)
    store.save_decisions([alert("e2", ts=T + 60, rule="new_device")], responder=responder)
    return case_of(store, "victim")


# --- lists ----------------------------------------------------------------------------------


def seed_cases(store: AlertStore, n: int, *, start: int = 0) -> None:
    """``n`` cases written directly, with many ties on (priority, due time)."""
    rows = []
    for i in range(start, start + n):
        due = T + (i % 5) * 60
        case = Case(
            case_id=f"case_{i:04d}",
            account_id=f"acct-{i}",
            category="payments",
            priority=("P1", "P2", "P3", "P4")[i % 4],
            severity="high",
            opened_at=T,
            updated_at=T,
            due_at=due,
            first_alert_id=f"al_{i}",
            last_alert_id=f"al_{i}",
        )
        rows.append(
            {
                "case_id": case.case_id,
                "account_id": case.account_id,
                "category": case.category,
                "status": "open",
                "priority": case.priority,
                "due_at": datetime.fromtimestamp(due, UTC),
                "opened_at": datetime.fromtimestamp(T, UTC),
                "updated_at": datetime.fromtimestamp(T, UTC),
                "data": msgspec.to_builtins(case),
            }
        )
    with store.engine.begin() as conn:
        conn.execute(sa.insert(cases), rows)


def sort_key(c: Any) -> tuple[str, datetime, str]:
    return (c.priority, c.due_at, c.case_id)


def all_pages(desk: Casework, limit: int, **filters: Any) -> list[str]:
    out: list[str] = []
    cursor = None
    while True:
        page, cursor = desk.list_cases(cursor=cursor, limit=limit, **filters)
        assert len(page) <= limit
        out += [c.case_id for c in page]
        if cursor is None:
            return out


def test_cases_sort_by_priority_then_due_time_then_id(store: AlertStore, desk: Casework) -> None:
    seed_cases(store, 40)
    page, cursor = desk.list_cases(limit=200)
    assert cursor is None and len(page) == 40
    assert page == sorted(page, key=sort_key)
    assert [c.priority for c in page[:10]] == ["P1"] * 10


def test_cursor_pages_cover_every_case_exactly_once(store: AlertStore, desk: Casework) -> None:
    seed_cases(store, 61)
    expected = [c.case_id for c in sorted(desk.list_cases(limit=200)[0], key=sort_key)]
    for limit in (1, 7, 60, 61):
        assert all_pages(desk, limit) == expected
    assert all_pages(desk, 5, min_priority="P2") == [
        c for c in expected if int(c[-4:]) % 4 in (0, 1)
    ]


def test_pages_are_stable_under_inserts(store: AlertStore, desk: Casework) -> None:
    seed_cases(store, 30)
    first, cursor = desk.list_cases(limit=10)
    seed_cases(store, 30, start=100)  # sorts before and after the cursor
    rest = all_pages_from(desk, cursor, limit=10)
    seen = [c.case_id for c in first] + rest
    assert len(seen) == len(set(seen))  # no duplicates
    old = {f"case_{i:04d}" for i in range(30)}
    assert old <= set(seen)  # no misses
    new_after = {c for c in rest if c >= "case_0100"}
    assert all(sort_key_of(desk, c) > sort_key(first[-1]) for c in new_after)


def all_pages_from(desk: Casework, cursor: str | None, limit: int) -> list[str]:
    out: list[str] = []
    while cursor is not None:
        page, cursor = desk.list_cases(cursor=cursor, limit=limit)
        out += [c.case_id for c in page]
    return out


def sort_key_of(desk: Casework, case_id: str) -> tuple[str, datetime, str]:
    return sort_key(desk.get_case(case_id))


def test_page_size_is_clamped(store: AlertStore, desk: Casework) -> None:
    seed_cases(store, 205)
    assert len(desk.list_cases(limit=0)[0]) == 1
    assert len(desk.list_cases(limit=-5)[0]) == 1
    page, cursor = desk.list_cases(limit=10_000)
    assert len(page) == 200 and cursor is not None
    assert len(desk.list_cases(cursor=cursor, limit=10_000)[0]) == 5


def test_bad_cursors_are_refused(store: AlertStore, desk: Casework) -> None:
    seed_cases(store, 3)
    _, alerts_cursor = desk.list_alerts_page(limit=1)  # no alerts: None
    assert alerts_cursor is None
    forged = base64.urlsafe_b64encode(b'["alerts", "2026-01-01T00:00:00+00:00", "x"]').decode()
    for bad in ("", "!!!", "bm9wZQ", forged):
        with pytest.raises(InvalidCursor):
            desk.list_cases(cursor=bad)
    with pytest.raises(ValueError):  # InvalidCursor is a ValueError too (a bad argument)
        desk.list_cases(cursor="nope")


@pytest.fixture
def many(store: AlertStore, responder: PlaybookResponder) -> dict[str, str]:
    """Cases of several accounts, queues, severities and rules."""
    decisions = [
        alert("a1", "acct-a", severity="critical", rule="takeover_drain", ts=T),
        alert("b1", "acct-b", severity="high", rule="mule", queue="payments", ts=T + 10),
        alert("c1", "acct-c", severity="medium", rule="topup_burst", queue="topup", ts=T + 20),
        alert("d1", "acct-d", severity="low", rule="mule", queue="payments", ts=T + 30),
    ]
    for d in decisions:  # one at a time: opened at different wall-clock times
        store.save_decisions([d], responder=responder)
    return {a: case_of(store, a) for a in ("acct-a", "acct-b", "acct-c", "acct-d")}


@pytest.mark.parametrize(
    ("filters", "accounts"),
    [
        ({}, ["acct-a", "acct-b", "acct-c", "acct-d"]),
        ({"queue": "payments"}, ["acct-b", "acct-d"]),
        ({"queue": ["topup", "account_security"]}, ["acct-a", "acct-c"]),
        ({"min_priority": "P2"}, ["acct-a", "acct-b"]),
        ({"min_severity": "medium"}, ["acct-a", "acct-b", "acct-c"]),
        ({"rule_id": "mule"}, ["acct-b", "acct-d"]),
        ({"rule_id": "nothing"}, []),
        ({"account_id": "acct-c"}, ["acct-c"]),
        ({"status": "closed"}, []),
        ({"status": "open", "queue": "payments", "min_severity": "high"}, ["acct-b"]),
    ],
)
def test_case_filters(
    desk: Casework, many: dict[str, str], filters: dict[str, Any], accounts: list[str]
) -> None:
    page, _ = desk.list_cases(**filters)
    assert [c.account_id for c in page] == accounts  # P1, P2, P3, P4


def test_time_and_assignee_filters(desk: Casework, many: dict[str, str]) -> None:
    opened = sorted(desk.get_case(c).opened_at for c in many.values())
    page, _ = desk.list_cases(since=opened[1], until=opened[3])
    assert {c.opened_at for c in page} == {opened[1], opened[2]}
    desk.claim(many["acct-b"], actor="ana", role="analyst")
    assert [c.account_id for c in desk.list_cases(assignee="ana")[0]] == ["acct-b"]
    assert len(desk.list_cases(unassigned=True)[0]) == 3
    with pytest.raises(ValueError):
        desk.list_cases(assignee="ana", unassigned=True)


@pytest.mark.parametrize(
    "filters",
    [
        {"queue": "fraud"},
        {"status": "pending"},
        {"min_priority": "P0"},
        {"min_severity": "extreme"},
    ],
)
def test_unknown_filter_values_are_refused(desk: Casework, filters: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="unknown"):
        desk.list_cases(**filters)


def test_alert_pages_follow_list_alerts_order(
    store: AlertStore, desk: Casework, responder: PlaybookResponder
) -> None:
    decisions = [
        alert(f"e{i}", f"acct-{i % 3}", rule=("mule", "geo")[i % 2], ts=T + (i // 4) * 60)
        for i in range(23)
    ]
    store.save_decisions(decisions)
    for filters in ({}, {"rule_id": "mule"}, {"account_id": "acct-1"}):
        expected = [a.alert_id for a in store.list_alerts(limit=100, **filters)[0]]
        got: list[str] = []
        cursor = None
        while True:
            page, cursor = desk.list_alerts_page(cursor=cursor, limit=4, **filters)
            got += [a.alert_id for a in page]
            if cursor is None:
                break
        assert got == expected
    assert len(desk.list_alerts_page(limit=0)[0]) == 1
    with pytest.raises(InvalidCursor):
        desk.list_alerts_page(cursor=desk.list_cases(limit=1)[1] or "x")


# --- the workflow ---------------------------------------------------------------------------


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


def test_notes_are_append_only(store: AlertStore, desk: Casework, case_id: str) -> None:
    first = desk.add_note(case_id, "first look: new device", actor="ana", role="analyst")
    second = desk.add_note(case_id, "second note", actor="bo", role="analyst", request_id="n2")
    assert desk.add_note(case_id, "dup", actor="bo", role="analyst", request_id="n2") == second
    notes = desk.case_detail(case_id).notes
    assert [(n.seq, n.actor, n.body["text"]) for n in notes] == [
        (1, "ana", "first look: new device"),
        (2, "bo", "second note"),
    ]
    assert notes[0] == first
    assert [r["action"] for r in audit(store, case_id)] == ["case_note", "case_note"]
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:  # keys never repeat
        conn.execute(
            sa.insert(case_events),
            {**msgspec.to_builtins(first), "at": first.at, "body": {}},
        )
    for bad in ("", "   ", "x" * 4001):
        with pytest.raises(ValueError):
            desk.add_note(case_id, bad, actor="ana", role="analyst")


def test_customer_contact_is_recorded(store: AlertStore, desk: Casework, case_id: str) -> None:
    e = desk.record_contact(
        case_id,
        "phone",
        "customer called the hotline, identity verified, confirms new phone",
        True,
        actor="ana",
        role="analyst",
    )
    assert e.kind == "contact"
    assert e.body == {
        "channel": "phone",
        "summary": "customer called the hotline, identity verified, confirms new phone",
        "identity_verified": True,
    }
    (entry,) = [t for t in desk.case_detail(case_id).timeline if t.kind == "case_event"]
    assert "customer contact by phone (verified)" in entry.summary
    with pytest.raises(ValueError, match="unknown channel"):
        desk.record_contact(case_id, "pigeon", "coo", False, actor="ana", role="analyst")
    assert [r["action"] for r in audit(store, case_id)] == ["case_contact"]


def test_unknown_cases_and_bad_people_are_refused(desk: Casework, case_id: str) -> None:
    steps: list[Callable[[], object]] = [
        lambda: desk.get_case("case_nope"),
        lambda: desk.case_detail("case_nope"),
        lambda: desk.case_events("case_nope"),
        lambda: desk.claim("case_nope", actor="a", role="r"),
        lambda: desk.assign("case_nope", "b", actor="a", role="r"),
        lambda: desk.acknowledge("case_nope", actor="a", role="r"),
        lambda: desk.give_verdict("case_nope", "fraud", "n", actor="a", role="r"),
        lambda: desk.escalate("case_nope", "why", actor="a", role="r"),
        lambda: desk.add_note("case_nope", "n", actor="a", role="r"),
        lambda: desk.record_contact("case_nope", "chat", "s", True, actor="a", role="r"),
    ]
    for step in steps:
        with pytest.raises(CaseNotFound, match="case_nope"):
            step()
    with pytest.raises(ValueError, match="actor"):
        desk.claim(case_id, actor="", role="analyst")
    with pytest.raises(ValueError, match="unknown verdict"):
        desk.give_verdict(case_id, "maybe", "hmm", actor="ana", role="analyst")
    with pytest.raises(ValueError, match="note"):
        desk.give_verdict(case_id, "fraud", " ", actor="ana", role="analyst")


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


# --- reading one case and one account -------------------------------------------------------


def test_case_detail(store: AlertStore, desk: Casework, case_id: str) -> None:
    pending = store.pending_actions()
    store.mark_published([p.seq for p in pending])
    store.webhook_done(
        pending[0].seq,
        False,
        dead_letter={
            "action_id": pending[0].action_id,
            "account_id": "victim",
            "type": pending[0].type,
            "outcome": "exhausted",
            "attempts": 8,
            "statuses": [503],
            "last_error": "503",
            "failed_at": datetime.fromtimestamp(T, UTC),
        },
    )
    desk.add_note(case_id, "looking", actor="ana", role="analyst")
    desk.give_verdict(case_id, "fraud", "confirmed", actor="ana", role="analyst")
    detail = desk.case_detail(case_id)

    assert detail.case.case_id == case_id and detail.case.status == "closed"
    assert [a.event_id for a in detail.alerts] == ["e1", "e2"]
    assert detail.alerts[0].reasons[0].text == "takeover_drain on e1"
    assert detail.alerts[0].reasons[0].values == {"n": 3}
    assert {r.feature for r in detail.restrictions} >= {"withdrawal"}
    assert all(r.expires_at > r.imposed_at for r in detail.restrictions)
    assert {a.type for a in detail.actions} == {p.type for p in pending}
    dead = [a for a in detail.actions if a.dead_letter is not None]
    assert len(dead) == 1 and dead[0].webhook_state == "dead"
    assert dead[0].dead_letter.outcome == "exhausted"  # type: ignore[union-attr]
    assert all(a.published_at is not None for a in detail.actions)
    assert [n.body["text"] for n in detail.notes] == ["looking"]
    assert [e.kind for e in detail.events] == ["note", "verdict"]
    assert [v.body["verdict"] for v in detail.verdicts] == ["fraud"]

    kinds = [t.kind for t in detail.timeline]
    assert kinds.count("alert") == 2 and kinds.count("case_event") == 2
    assert kinds.count("action") == len(detail.actions)
    alerts = [t for t in detail.timeline if t.kind == "alert"]
    assert all(t.unusual for t in alerts) and not any(
        t.unusual for t in detail.timeline if t.kind != "alert"
    )
    assert alerts[0].detail["features"] == {"amount_z": 4.2}
    assert alerts[0].detail["reasons"][0]["rule_id"] == "takeover_drain"
    assert [t.at for t in detail.timeline] == sorted(t.at for t in detail.timeline)
    assert len(desk.case_detail(case_id, timeline_limit=3).timeline) == 3
    msgspec.json.encode(detail)  # plain data: the API can serialise it as is


def test_case_detail_of_an_ops_case_without_alerts(store: AlertStore, desk: Casework) -> None:
    when = datetime.fromtimestamp(T, UTC)
    ops = Case(
        case_id=case_id_for("acct-o", "ops", "act_1"),
        account_id="acct-o",
        category="ops",
        priority="P1",
        severity="critical",
        opened_at=T,
        updated_at=T,
        due_at=T + 900,
        first_alert_id="act_1",
        last_alert_id="act_1",
    )
    row = {
        "case_id": ops.case_id,
        "account_id": "acct-o",
        "category": "ops",
        "status": "open",
        "priority": "P1",
        "due_at": when + timedelta(minutes=15),
        "opened_at": when,
        "updated_at": when,
        "data": {**msgspec.to_builtins(ops), "note": "webhook delivery failed"},
    }
    with store.engine.begin() as conn:  # as the webhook dispatcher opens it
        conn.execute(sa.insert(cases), row)
    detail = desk.case_detail(ops.case_id)
    assert detail.case.detail == "webhook delivery failed" and detail.alerts == []
    assert desk.list_cases(min_severity="critical")[0][0].case_id == ops.case_id
    v = desk.give_verdict(ops.case_id, "inconclusive", "applied by hand", actor="a", role="admin")
    assert v.body["published"] == 0  # no alert to teach


def test_account_view(
    store: AlertStore, responder: PlaybookResponder, desk: Casework, case_id: str
) -> None:
    desk.give_verdict(case_id, "fraud", "confirmed", actor="ana", role="analyst")
    store.save_decisions([alert("e9", ts=T + 9000, severity="high")], responder=responder)
    view = desk.account_view("victim")
    assert view.known
    assert [p.alert_id for p in view.score_series] == [a.alert_id for a in view.alerts][::-1]
    assert [p.at for p in view.score_series] == sorted(p.at for p in view.score_series)
    assert [a.event_id for a in view.alerts] == ["e9", "e2", "e1"]
    assert [c.status for c in view.cases] == ["open", "closed"]
    assert view.restrictions and view.actions
    assert [v.body["verdict"] for v in view.verdicts] == ["fraud"]
    nobody = desk.account_view("acct-unknown")
    assert not nobody.known and nobody.alerts == [] and nobody.cases == []


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
