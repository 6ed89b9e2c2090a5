"""The audit log: one append-only row per mutation or reveal made by a person (who, as
what, did what to what, before and after, when, which request). A mixin of
:class:`~monitor.store.AlertStore`; rows are only ever inserted, never updated.

>>> from monitor.store import AlertStore
>>> store = AlertStore("sqlite:///:memory:")
>>> store.create_schema()
>>> store.audit("ana", "analyst", "reveal", "alert:al_1", request_id="r-1")
>>> store.audit("root", "admin", "rules_reload", "rule_pack", after={"version": "v2"})
>>> [(e.actor, e.action) for e in store.audit_page(limit=10)]  # newest first
[('root', 'rules_reload'), ('ana', 'reveal')]
>>> [e.target for e in store.audit_page(actor="ana")]
['alert:al_1']
>>> store.close()
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from monitor.store.errors import translate
from monitor.store.schema import audit_log


class AuditContext(msgspec.Struct, frozen=True):
    """Who makes a change, for its audit row: the person's name, their role (``cli`` for
    the ``vigil users`` command) and the request id when it came through the API."""

    actor: str
    role: str
    request_id: str | None = None


class AuditEntry(msgspec.Struct, frozen=True):
    """One audit row. ``at`` is timezone-aware UTC; ``id`` increases with time."""

    id: int
    at: datetime
    actor: str
    role: str
    action: str
    target: str
    before: Any
    after: Any
    request_id: str | None


def audit_row(
    actor: str,
    role: str,
    action: str,
    target: str,
    *,
    before: Any = None,
    after: Any = None,
    request_id: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The values of one ``audit_log`` insert (for writes made in a caller's transaction)."""
    if not actor or not role or not action or not target:
        raise ValueError("an audit row needs an actor, a role, an action and a target")
    return {
        "at": at or datetime.now(UTC),
        "actor": actor,
        "role": role,
        "action": action,
        "target": target,
        "before": before,
        "after": after,
        "request_id": request_id,
    }


class AuditQueries:
    """Needs ``_engine`` (an SQLAlchemy engine)."""

    _engine: sa.Engine

    def audit(
        self,
        actor: str,
        role: str,
        action: str,
        target: str,
        *,
        before: Any = None,
        after: Any = None,
        request_id: str | None = None,
    ) -> None:
        """Append one row on its own transaction (a reveal, a rule reload)."""
        row = audit_row(
            actor, role, action, target, before=before, after=after, request_id=request_id
        )
        with translate("audit"), self._engine.begin() as conn:
            conn.execute(sa.insert(audit_log), row)

    def audit_page(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[AuditEntry]:
        """Newest first, every given filter applied; ``before_id`` is the cursor (the
        ``id`` of the last row of the previous page). ``since`` is inclusive."""
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        if target is not None:
            query = query.where(audit_log.c.target == target)
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        if before_id is not None:
            query = query.where(audit_log.c.id < before_id)
        with translate("audit page"), self._engine.connect() as conn:
            return [AuditEntry(**row._mapping) for row in conn.execute(query)]
