"""What Vigil did to an account, read on the caller's connection: the commands it issued
(``outbox`` rows on the actions topic, with their webhook delivery and dead letter) and
the restrictions in force with when a step-up or password reset was last issued.
:class:`~monitor.store.casework.Casework` shows them on a case and in an account's risk
view; the workflow steps read back the command they just wrote. Nothing here writes.

>>> from monitor.store import AlertStore
>>> store = AlertStore("sqlite:///:memory:")
>>> store.create_schema()
>>> with store.engine.connect() as conn:
...     account_actions(conn, "a1", None, 10), restrictions_of(conn, "a1")
([], ([], {}))
>>> store.close()
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from monitor.store.case_records import ActionRecord, DeadLetter, RestrictionRecord
from monitor.store.schema import account_responses, outbox, webhook_dead_letters


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
