"""The cases of the support workflow, read on the caller's connection: case lists with
keyset pagination (most urgent first), one case with its workflow state, an account's
cases, a case's alerts and the history of steps taken on a case or an account.
:class:`~monitor.store.casework.Casework` wraps these in transactions; the workflow steps
(:mod:`monitor.store.case_steps`) read a step back with :func:`to_event`. Nothing here
writes. Commands and restrictions are in :mod:`monitor.store.action_queries`, the merged
timeline in :mod:`monitor.store.case_timeline`, alert lists in
:mod:`monitor.store.alert_queries`.

>>> from monitor.store import AlertStore
>>> store = AlertStore("sqlite:///:memory:")
>>> store.create_schema()
>>> with store.engine.connect() as conn:
...     list_cases(conn, queue="account_security", min_priority="P2"), get_case(conn, "case_x")
(([], None), None)
>>> with store.engine.connect() as conn:
...     list_cases(conn, status="pending")
Traceback (most recent call last):
...
ValueError: unknown status 'pending'; expected one of ['open', 'closed']
>>> store.close()
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from monitor.decision import SEVERITY_RANK
from monitor.responders.cases import CATEGORIES, PRIORITIES
from monitor.store.alert_queries import severity_rank, to_record
from monitor.store.case_records import CaseEvent, CaseSummary
from monitor.store.paging import bound_key, clamp_limit, decode_cursor, encode_cursor
from monitor.store.records import AlertRecord
from monitor.store.schema import (
    alert_rules,
    alerts,
    case_alerts,
    case_events,
    case_work,
    cases,
)

CASE_SORT = (str, datetime, str)  # priority, due_at, case_id

_WORK_COLUMNS = (
    case_work.c.assignee,
    case_work.c.acknowledged_at,
    case_work.c.acknowledged_by,
    case_work.c.escalation_level,
    case_work.c.verdict,
    case_work.c.closed_at,
    case_work.c.closed_by,
)


def summary_select() -> sa.Select[Any]:
    """Cases with their workflow state (``case_work`` may have no row yet)."""
    return sa.select(cases, *_WORK_COLUMNS).select_from(cases.outerjoin(case_work))


def to_summary(row: sa.Row[Any]) -> CaseSummary:
    data = row.data or {}
    return msgspec.convert(
        {
            "case_id": row.case_id,
            "account_id": row.account_id,
            "queue": row.category,
            "status": row.status,
            "priority": row.priority,
            "severity": data.get("severity", "none"),
            "opened_at": row.opened_at,
            "updated_at": row.updated_at,
            "due_at": row.due_at,
            "alert_count": data.get("alert_count", 0),
            "first_alert_id": data.get("first_alert_id", ""),
            "last_alert_id": data.get("last_alert_id", ""),
            "assignee": row.assignee,
            "acknowledged_at": row.acknowledged_at,
            "acknowledged_by": row.acknowledged_by,
            "escalation_level": row.escalation_level or 0,
            "verdict": row.verdict,
            "closed_at": row.closed_at,
            "closed_by": row.closed_by,
            "detail": data.get("note"),
        },
        CaseSummary,
    )


def _known(value: str, allowed: Sequence[str], name: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; expected one of {list(allowed)}")
    return value


def list_cases(
    conn: sa.Connection,
    *,
    queue: str | Sequence[str] | None = None,
    status: str | None = None,
    min_priority: str | None = None,
    min_severity: str | None = None,
    rule_id: str | None = None,
    account_id: str | None = None,
    assignee: str | None = None,
    unassigned: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[CaseSummary], str | None]:
    """See :meth:`monitor.store.casework.Casework.list_cases`."""
    where: list[sa.ColumnElement[bool]] = []
    if queue is not None:
        queues = [queue] if isinstance(queue, str) else list(queue)
        where.append(cases.c.category.in_([_known(q, CATEGORIES, "queue") for q in queues]))
    if status is not None:
        where.append(cases.c.status == _known(status, ("open", "closed"), "status"))
    if min_priority is not None:
        top = PRIORITIES.index(_known(min_priority, PRIORITIES, "min_priority"))
        where.append(cases.c.priority.in_(PRIORITIES[: top + 1]))
    if min_severity is not None:
        floor = severity_rank(min_severity, "min_severity")
        wanted = [s for s, rank in SEVERITY_RANK.items() if rank >= floor]
        where.append(cases.c.data["severity"].as_string().in_(wanted))
    if rule_id is not None:
        where.append(
            sa.exists()
            .where(case_alerts.c.case_id == cases.c.case_id)
            .where(alert_rules.c.alert_id == case_alerts.c.alert_id)
            .where(alert_rules.c.rule_id == rule_id)
        )
    if account_id is not None:
        where.append(cases.c.account_id == account_id)
    if assignee is not None and unassigned:
        raise ValueError("give assignee or unassigned, not both")
    if assignee is not None:
        where.append(case_work.c.assignee == assignee)
    if unassigned:
        where.append(case_work.c.assignee.is_(None))
    if since is not None:
        where.append(cases.c.opened_at >= since)
    if until is not None:
        where.append(cases.c.opened_at < until)
    key = (cases.c.priority, cases.c.due_at, cases.c.case_id)
    if cursor is not None:
        where.append(sa.tuple_(*key) > bound_key(key, decode_cursor(cursor, "cases", CASE_SORT)))
    limit = clamp_limit(limit)
    query = summary_select().where(*where).order_by(*key).limit(limit + 1)
    items = [to_summary(r) for r in conn.execute(query)]
    more = len(items) > limit
    items = items[:limit]
    last = items[-1] if more else None
    next_cursor = (
        None if last is None else encode_cursor("cases", (last.priority, last.due_at, last.case_id))
    )
    return items, next_cursor


def get_case(conn: sa.Connection, case_id: str) -> CaseSummary | None:
    row = conn.execute(summary_select().where(cases.c.case_id == case_id)).first()
    return None if row is None else to_summary(row)


def account_cases(conn: sa.Connection, account_id: str, limit: int) -> list[CaseSummary]:
    """The account's cases, open and closed, newest first."""
    query = (
        summary_select()
        .where(cases.c.account_id == account_id)
        .order_by(cases.c.opened_at.desc(), cases.c.case_id.desc())
        .limit(limit)
    )
    return [to_summary(r) for r in conn.execute(query)]


def case_alert_ids(conn: sa.Connection, case_id: str) -> list[str]:
    """The case's alerts, oldest event first (ties by id)."""
    query = (
        sa.select(alerts.c.alert_id)
        .select_from(case_alerts.join(alerts, alerts.c.alert_id == case_alerts.c.alert_id))
        .where(case_alerts.c.case_id == case_id)
        .order_by(alerts.c.event_time, alerts.c.alert_id)
    )
    return list(conn.execute(query).scalars())


def case_alerts_of(conn: sa.Connection, case_id: str) -> list[AlertRecord]:
    query = (
        sa.select(alerts)
        .select_from(case_alerts.join(alerts, alerts.c.alert_id == case_alerts.c.alert_id))
        .where(case_alerts.c.case_id == case_id)
        .order_by(alerts.c.event_time, alerts.c.alert_id)
    )
    return [to_record(r) for r in conn.execute(query)]


def account_alerts(
    conn: sa.Connection, account_id: str, since: datetime | None, limit: int
) -> list[AlertRecord]:
    """The account's alerts, newest event first."""
    query = sa.select(alerts).where(alerts.c.account_id == account_id)
    if since is not None:
        query = query.where(alerts.c.event_time >= since)
    query = query.order_by(alerts.c.event_time.desc(), alerts.c.alert_id.desc()).limit(limit)
    return [to_record(r) for r in conn.execute(query)]


def to_event(row: sa.Row[Any]) -> CaseEvent:
    return msgspec.convert(
        {
            "case_id": row.case_id,
            "seq": row.seq,
            "at": row.at,
            "actor": row.actor,
            "role": row.role,
            "kind": row.kind,
            "body": row.body,
            "request_id": row.request_id,
        },
        CaseEvent,
    )


def case_events_of(conn: sa.Connection, case_id: str) -> list[CaseEvent]:
    query = sa.select(case_events).where(case_events.c.case_id == case_id)
    return [to_event(r) for r in conn.execute(query.order_by(case_events.c.seq))]


def account_case_events(
    conn: sa.Connection,
    account_id: str,
    *,
    kinds: Iterable[str] | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[CaseEvent]:
    """Steps taken on any of the account's cases, newest first."""
    query = (
        sa.select(case_events)
        .select_from(case_events.join(cases, cases.c.case_id == case_events.c.case_id))
        .where(cases.c.account_id == account_id)
    )
    if kinds is not None:
        query = query.where(case_events.c.kind.in_(list(kinds)))
    if since is not None:
        query = query.where(case_events.c.at >= since)
    query = query.order_by(case_events.c.at.desc(), case_events.c.seq.desc()).limit(limit)
    return [to_event(r) for r in conn.execute(query)]
