"""The read side of the support workflow, on the caller's connection: case lists with
keyset pagination, a case's alerts and history, an account's commands, restrictions and
timeline, and the cursor-paged alert list. :class:`~monitor.store.casework.Casework`
wraps these in transactions; nothing here writes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from monitor.decision import SEVERITY_RANK
from monitor.responders.cases import CATEGORIES, PRIORITIES
from monitor.store.case_records import (
    ActionRecord,
    CaseEvent,
    CaseSummary,
    DeadLetter,
    RestrictionRecord,
    TimelineEntry,
)
from monitor.store.paging import clamp_limit, decode_cursor, encode_cursor
from monitor.store.records import AlertRecord
from monitor.store.repository import _rank, _record
from monitor.store.schema import (
    account_responses,
    alert_rules,
    alerts,
    case_alerts,
    case_events,
    case_work,
    cases,
    outbox,
    webhook_dead_letters,
)

CASE_SORT = (str, datetime, str)  # priority, due_at, case_id
ALERT_SORT = (datetime, str)  # event_time, alert_id (newest first)

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
        floor = _rank(min_severity, "min_severity")
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
        where.append(sa.tuple_(*key) > _bound(key, decode_cursor(cursor, "cases", CASE_SORT)))
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


def _bound(columns: Sequence[sa.ColumnElement[Any]], values: Sequence[Any]) -> Any:
    """A row value of ``values``, each bound with its column's type (UTC handling)."""
    pairs = zip(columns, values, strict=True)
    return sa.tuple_(*(sa.bindparam(None, v, type_=c.type) for c, v in pairs))


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
    return [_record(r) for r in conn.execute(query)]


def account_alerts(
    conn: sa.Connection, account_id: str, since: datetime | None, limit: int
) -> list[AlertRecord]:
    """The account's alerts, newest event first."""
    query = sa.select(alerts).where(alerts.c.account_id == account_id)
    if since is not None:
        query = query.where(alerts.c.event_time >= since)
    query = query.order_by(alerts.c.event_time.desc(), alerts.c.alert_id.desc()).limit(limit)
    return [_record(r) for r in conn.execute(query)]


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


def _actions_select() -> sa.Select[Any]:
    return sa.select(
        outbox.c.action_id,
        outbox.c.account_id,
        outbox.c.type,
        outbox.c.body,
        outbox.c.created_at,
        outbox.c.published_at,
        outbox.c.webhook_state,
        webhook_dead_letters.c.outcome,
        webhook_dead_letters.c.attempts,
        webhook_dead_letters.c.last_error,
        webhook_dead_letters.c.failed_at,
    ).select_from(
        outbox.outerjoin(
            webhook_dead_letters, webhook_dead_letters.c.action_id == outbox.c.action_id
        )
    )


def account_actions(
    conn: sa.Connection, account_id: str, since: datetime | None, limit: int
) -> list[ActionRecord]:
    """Commands issued for the account (not verdicts), newest first, with their delivery."""
    query = _actions_select().where(outbox.c.account_id == account_id, outbox.c.topic == "actions")
    if since is not None:
        query = query.where(outbox.c.created_at >= since)
    query = query.order_by(outbox.c.seq.desc()).limit(limit)
    return [_action(r) for r in conn.execute(query)]


def action_by_id(conn: sa.Connection, action_id: str) -> ActionRecord | None:
    row = conn.execute(_actions_select().where(outbox.c.action_id == action_id)).first()
    return None if row is None else _action(row)


def _action(row: sa.Row[Any]) -> ActionRecord:
    try:
        body = msgspec.json.decode(row.body)
    except msgspec.DecodeError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    expires = body.get("expires_at")
    dead = None
    if row.outcome is not None:
        dead = DeadLetter(
            outcome=row.outcome,
            attempts=row.attempts,
            last_error=row.last_error,
            failed_at=row.failed_at,
        )
    return ActionRecord(
        action_id=row.action_id,
        type=row.type,
        account_id=row.account_id,
        alert_id=body.get("alert_id"),
        reason=str(body.get("reason", "")),
        features=[f.get("name", "") for f in body.get("features", []) if isinstance(f, dict)],
        expires_at=datetime.fromisoformat(expires) if isinstance(expires, str) else None,
        created_at=row.created_at,
        published_at=row.published_at,
        webhook_state=row.webhook_state,
        dead_letter=dead,
    )


def restrictions_of(
    conn: sa.Connection, account_id: str
) -> tuple[list[RestrictionRecord], dict[str, datetime]]:
    """The restrictions Vigil tracks on the account (soonest expiry first) and when a
    step-up / password reset was last issued."""
    state = conn.execute(
        sa.select(account_responses.c.state).where(account_responses.c.account_id == account_id)
    ).scalar()
    if not state:
        return [], {}
    out = []
    for feature, r in state.get("restrictions", {}).items():
        limit = r.get("limit") or {}
        out.append(
            RestrictionRecord(
                feature=feature,
                expires_at=_at(r["expires_at"]),
                imposed_at=_at(r["issued_at"]),
                action_id=r["action_id"],
                alert_id=r.get("alert_id"),
                limit_amount=limit.get("amount"),
                limit_currency=limit.get("currency"),
            )
        )
    out.sort(key=lambda r: (r.expires_at, r.feature))
    recent = {kind: _at(at) for kind, at in state.get("recent", {}).items()}
    return out, recent


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def timeline(
    account_alerts: Sequence[AlertRecord],
    actions: Sequence[ActionRecord],
    events: Sequence[CaseEvent],
    limit: int,
) -> list[TimelineEntry]:
    """The three sources merged, oldest first, cut to the newest ``limit`` entries."""
    entries = [_alert_entry(a) for a in account_alerts]
    entries += [_action_entry(a) for a in actions]
    entries += [_event_entry(e) for e in events]
    entries.sort(key=lambda e: (e.at, e.kind, e.ref))
    return entries[-limit:] if limit else []


def _alert_entry(a: AlertRecord) -> TimelineEntry:
    text = "; ".join(r.text for r in a.reasons) or f"{a.event_type} flagged"
    return TimelineEntry(
        at=a.event_time,
        kind="alert",
        ref=a.alert_id,
        summary=f"{a.event_type}: {text}",
        unusual=True,
        severity=a.severity,
        detail={
            "event_id": a.event_id,
            "event_type": a.event_type,
            "score": a.score,
            "anomaly_score": a.anomaly_score,
            "rule_ids": a.rule_ids,
            "reasons": msgspec.to_builtins(a.reasons),
            "features": a.learn_input,
            "actions": a.actions,
        },
    )


def _action_entry(a: ActionRecord) -> TimelineEntry:
    return TimelineEntry(
        at=a.created_at,
        kind="action",
        ref=a.action_id,
        summary=f"{a.type}: {a.reason}",
        detail={
            "alert_id": a.alert_id,
            "features": a.features,
            "expires_at": a.expires_at,
            "published_at": a.published_at,
            "webhook_state": a.webhook_state,
        },
    )


def _event_entry(e: CaseEvent) -> TimelineEntry:
    return TimelineEntry(
        at=e.at,
        kind="case_event",
        ref=f"{e.case_id}#{e.seq}",
        summary=f"{describe(e.kind, e.body)} ({e.actor}, {e.role})",
        detail={"case_id": e.case_id, "kind": e.kind, "actor": e.actor, **e.body},
    )


def describe(kind: str, body: dict[str, Any]) -> str:
    """One line for a case step, as the timeline shows it."""
    match kind:
        case "note":
            return f"note: {body.get('text', '')}"
        case "claim" | "assign":
            return f"{kind}ed to {body.get('to') or 'nobody'}"
        case "ack":
            return "acknowledged"
        case "verdict":
            return f"verdict {body.get('verdict')}: {body.get('note', '')}"
        case "escalate":
            return f"escalated to {body.get('priority')}: {body.get('reason', '')}"
        case "contact":
            verified = "verified" if body.get("identity_verified") else "not verified"
            return f"customer contact by {body.get('channel')} ({verified}): {body.get('summary')}"
        case "restore":
            return f"restrictions lifted: {body.get('reason', '')}"
        case "password_reset":
            return f"password reset forced: {body.get('reason', '')}"
    return kind


def alerts_page(
    conn: sa.Connection,
    *,
    account_id: str | None = None,
    severity: str | None = None,
    min_severity: str | None = None,
    rule_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
    queue: str | None = None,
) -> tuple[list[AlertRecord], str | None]:
    """See :meth:`monitor.store.casework.Casework.list_alerts_page`."""
    where: list[sa.ColumnElement[bool]] = []
    if account_id is not None:
        where.append(alerts.c.account_id == account_id)
    if queue is not None:
        where.append(alerts.c.queue == queue)
    if severity is not None:
        _rank(severity, "severity")
        where.append(alerts.c.severity == severity)
    if min_severity is not None:
        where.append(alerts.c.severity_rank >= _rank(min_severity, "min_severity"))
    # As in AlertStore.list_alerts: with a rule, alert_rules' (rule_id, event_time) index
    # yields the rule's alerts already in page order.
    by_rule = rule_id is not None
    src: sa.FromClause = alert_rules if by_rule else alerts
    time_col, id_col = src.c.event_time, src.c.alert_id
    if by_rule:
        where.append(alert_rules.c.rule_id == rule_id)
    if since is not None:
        where.append(time_col >= since)
    if until is not None:
        where.append(time_col < until)
    if cursor is not None:
        after = decode_cursor(cursor, "alerts", ALERT_SORT)
        where.append(sa.tuple_(time_col, id_col) < _bound((time_col, id_col), after))
    limit = clamp_limit(limit)
    query = (
        sa.select(alerts)
        .select_from(alerts.join(alert_rules) if by_rule else alerts)
        .where(*where)
        .order_by(time_col.desc(), id_col.desc())
        .limit(limit + 1)
    )
    items = [_record(r) for r in conn.execute(query)]
    if len(items) <= limit:
        return items, None
    last = items[limit - 1]
    return items[:limit], alerts_cursor(last.event_time, last.alert_id)


def alerts_cursor(event_time: datetime, alert_id: str) -> str:
    """The cursor of the alert page that follows the alert (``event_time``, ``alert_id``):
    offset pages of :meth:`AlertStore.list_alerts` have the same order, so they can hand
    one out too."""
    return encode_cursor("alerts", (event_time, alert_id))
