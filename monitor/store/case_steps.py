"""The machinery of one support-workflow step (``monitor.store.casework``), on the
caller's connection: lock the case (after its account's response row, in the alert
writer's order), check the transition, append to the case's history, save its state,
audit it, and write verdict messages for ``wallet.verdicts``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import msgspec
import sqlalchemy as sa

from monitor.events import Verdict
from monitor.store.action_queries import action_by_id
from monitor.store.case_queries import to_event
from monitor.store.case_records import ActionRecord, CaseEvent, VerdictLabel
from monitor.store.exceptions import CaseNotFound, InvalidTransition
from monitor.store.schema import account_responses, audit_log, case_events, case_work, cases

MAX_TEXT = 4000  # notes, contact summaries, reasons
MAX_VERDICT_NOTE = 2000  # the Verdict contract's limit
MAX_NAME = 128  # actor, role, assignee


@dataclass
class CaseState:
    """A case's state as one step sees and changes it."""

    case_id: str
    account_id: str
    status: str
    priority: str
    queue: str
    due_at: datetime
    data: dict[str, Any]
    assignee: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    escalation_level: int
    verdict: str | None
    closed_at: datetime | None
    closed_by: str | None

    def snapshot(self) -> dict[str, Any]:
        """What the audit log keeps as before/after."""
        return {
            "status": self.status,
            "priority": self.priority,
            "queue": self.queue,
            "due_at": self.due_at.isoformat(),
            "assignee": self.assignee,
            "acknowledged_by": self.acknowledged_by,
            "escalation_level": self.escalation_level,
            "verdict": self.verdict,
        }


NOOP = object()  # a step that changes nothing (e.g. claiming a case one already holds)
Change = Callable[[sa.Connection, CaseState, datetime, int], Any]  # -> body | NOOP


def check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise ValueError(f"{what} must be a non-empty name of at most {MAX_NAME} characters")
    return value


def check_text(value: str, what: str, limit: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ValueError(f"a {what} is required")
    if len(text) > limit:
        raise ValueError(f"the {what} is {len(text)} characters, at most {limit} allowed")
    return text


def require_open(s: CaseState, what: str) -> None:
    if s.status != "open":
        raise InvalidTransition(
            s.case_id, f"is closed (verdict {s.verdict} by {s.closed_by}); cannot {what} it"
        )


def require_holder(s: CaseState, actor: str, force: bool, what: str) -> None:
    if s.assignee not in (None, actor) and not force:
        raise InvalidTransition(
            s.case_id,
            f"is claimed by {s.assignee}; {actor} cannot {what} it (claim it first, or force=True)",
        )


def lock_account(conn: sa.Connection, account_id: str) -> None:
    """Take the account's response row lock first, in the same order as the alert writer
    (``responses.respond``), so a step and a new alert on the account serialise."""
    conn.execute(
        sa.select(account_responses.c.account_id)
        .where(account_responses.c.account_id == account_id)
        .with_for_update()
    )


def lock_case(conn: sa.Connection, case_id: str) -> CaseState:
    account = conn.execute(sa.select(cases.c.account_id).where(cases.c.case_id == case_id)).scalar()
    if account is None:
        raise CaseNotFound(case_id)
    lock_account(conn, account)
    row = conn.execute(sa.select(cases).where(cases.c.case_id == case_id).with_for_update()).one()
    work = conn.execute(sa.select(case_work).where(case_work.c.case_id == case_id)).first()
    return CaseState(
        case_id=case_id,
        account_id=row.account_id,
        status=row.status,
        priority=row.priority,
        queue=row.category,
        due_at=row.due_at,
        data=dict(row.data or {}),
        assignee=work.assignee if work else None,
        acknowledged_at=work.acknowledged_at if work else None,
        acknowledged_by=work.acknowledged_by if work else None,
        escalation_level=work.escalation_level if work else 0,
        verdict=work.verdict if work else None,
        closed_at=work.closed_at if work else None,
        closed_by=work.closed_by if work else None,
    )


def replayed(
    conn: sa.Connection, case_id: str, kind: str, request_id: str | None
) -> CaseEvent | None:
    if request_id is None:
        return None
    row = conn.execute(
        sa.select(case_events).where(
            case_events.c.case_id == case_id,
            case_events.c.kind == kind,
            case_events.c.request_id == request_id,
        )
    ).first()
    return None if row is None else to_event(row)


def next_seq(conn: sa.Connection, case_id: str) -> int:
    query = sa.select(sa.func.max(case_events.c.seq)).where(case_events.c.case_id == case_id)
    return int(conn.execute(query).scalar() or 0) + 1


def last_event(conn: sa.Connection, case_id: str, kinds: Sequence[str]) -> CaseEvent:
    row = conn.execute(
        sa.select(case_events)
        .where(case_events.c.case_id == case_id, case_events.c.kind.in_(list(kinds)))
        .order_by(case_events.c.seq.desc())
        .limit(1)
    ).one()
    return to_event(row)


def append_event(
    conn: sa.Connection,
    s: CaseState,
    seq: int,
    now: datetime,
    actor: str,
    role: str,
    kind: str,
    body: dict[str, Any],
    request_id: str | None,
) -> CaseEvent:
    values = {
        "case_id": s.case_id,
        "seq": seq,
        "at": now,
        "actor": actor,
        "role": role,
        "kind": kind,
        "body": body,
        "request_id": request_id,
    }
    conn.execute(sa.insert(case_events), values)
    return msgspec.convert(values, CaseEvent)


def save_state(
    conn: sa.Connection, insert: Callable[..., Any], before: CaseState, s: CaseState, now: datetime
) -> None:
    """Write what changed: the case's own columns (and its ``data``, which alert routing
    reads back as a ``Case``) and its workflow row."""
    case_fields = ("status", "priority", "queue", "due_at")
    if any(getattr(before, f) != getattr(s, f) for f in case_fields):
        data = {
            **s.data,
            "status": s.status,
            "priority": s.priority,
            "category": s.queue,
            "due_at": s.due_at.timestamp(),
            "updated_at": now.timestamp(),
        }
        conn.execute(
            sa.update(cases)
            .where(cases.c.case_id == s.case_id)
            .values(
                status=s.status,
                priority=s.priority,
                category=s.queue,
                due_at=s.due_at,
                updated_at=now,
                data=data,
            )
        )
    values = {
        "case_id": s.case_id,
        "assignee": s.assignee,
        "acknowledged_at": s.acknowledged_at,
        "acknowledged_by": s.acknowledged_by,
        "escalation_level": s.escalation_level,
        "verdict": s.verdict,
        "closed_at": s.closed_at,
        "closed_by": s.closed_by,
        "updated_at": now,
    }
    stmt = insert(case_work).values(values)
    update = {k: stmt.excluded[k] for k in values if k != "case_id"}
    conn.execute(stmt.on_conflict_do_update(index_elements=["case_id"], set_=update))


def audit_step(
    conn: sa.Connection,
    now: datetime,
    actor: str,
    role: str,
    action: str,
    before: CaseState,
    after: CaseState,
    seq: int,
    request_id: str | None,
) -> None:
    conn.execute(
        sa.insert(audit_log),
        {
            "at": now,
            "actor": actor,
            "role": role,
            "action": action,
            "target": f"case:{after.case_id}",
            "before": before.snapshot(),
            "after": {**after.snapshot(), "event_seq": seq},
            "request_id": request_id,
        },
    )


def open_case_in(conn: sa.Connection, account_id: str, queue: str) -> str | None:
    query = sa.select(cases.c.case_id).where(
        cases.c.account_id == account_id, cases.c.category == queue, cases.c.status == "open"
    )
    return conn.execute(query.limit(1)).scalar()


_verdict_encoder = msgspec.json.Encoder()


def verdict_row(
    s: CaseState, seq: int, alert_id: str, verdict: str, now: datetime
) -> dict[str, Any]:
    """One ``wallet.verdicts`` message in the outbox, with a stable id (case, step, alert)."""
    label = cast(VerdictLabel, verdict)
    message = Verdict(alert_id=alert_id, account_id=s.account_id, verdict=label, ts=now)
    key = f"{s.case_id}:{seq}:{alert_id}"
    return {
        "action_id": "vrd_" + hashlib.blake2b(key.encode(), digest_size=10).hexdigest(),
        "account_id": s.account_id,
        "type": "verdict",
        "body": _verdict_encoder.encode(message),
        "event_time": None,
        "created_at": now,
        "topic": "verdicts",
    }


def action_record(conn: sa.Connection, action_id: str) -> ActionRecord:
    record = action_by_id(conn, action_id)
    if record is None:  # the command was just written or found in this transaction
        raise AssertionError(f"action {action_id} is not in the outbox")
    return record
