"""Reading cases (monitor.store.case_reads), on SQLite and PostgreSQL: case lists
(filters, order, cursor pages), alert pages in list_alerts order, case detail (alerts,
timeline, restrictions, commands with their delivery, steps) and an account's risk view."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa

from monitor.responders.cases import Case, case_id_for
from monitor.responders.responder import PlaybookResponder
from monitor.store import AlertStore
from monitor.store.casework import Casework
from monitor.store.exceptions import InvalidCursor
from monitor.store.schema import cases
from tests.monitor.store.casework_helpers import T, alert, case_of

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
