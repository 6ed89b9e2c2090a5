"""The store's side of responses: the outbox the dispatchers drain, webhook outcomes,
restriction expiry, support restores (audited) and open cases. A mixin of
:class:`~monitor.store.AlertStore`: the planning itself is pure (``monitor.responders``),
the writes happen in ``monitor/store/responses.py`` on one transaction."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from monitor.store.errors import translate
from monitor.store.responses import Responder, expire_due, manual_restore
from monitor.store.schema import audit_log, cases, outbox, webhook_dead_letters


class PendingAction(NamedTuple):
    """An outbox row to publish. ``topic`` is the logical stream (``schema.OUTBOX_TOPICS``:
    ``actions`` or ``verdicts``) the dispatcher maps to a configured Kafka topic."""

    seq: int
    action_id: str
    account_id: str
    type: str
    body: bytes
    event_time: datetime | None
    topic: str = "actions"


class ResponseQueries:
    """Needs ``_engine`` (an SQLAlchemy engine) and ``_insert`` (the dialect's insert)."""

    _engine: sa.Engine
    _insert: Callable[..., Any]

    def pending_actions(self, limit: int = 500) -> list[PendingAction]:
        """Outbox rows (commands and verdicts) not yet published, oldest first."""
        query = (
            sa.select(
                outbox.c.seq,
                outbox.c.action_id,
                outbox.c.account_id,
                outbox.c.type,
                outbox.c.body,
                outbox.c.event_time,
                outbox.c.topic,
            )
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.seq)
            .limit(limit)
        )
        with translate("pending actions"), self._engine.connect() as conn:
            return [PendingAction(*row) for row in conn.execute(query)]

    def mark_published(self, seqs: Sequence[int]) -> None:
        if not seqs:
            return
        stmt = (
            sa.update(outbox)
            .where(outbox.c.seq.in_(list(seqs)))
            .values(published_at=datetime.now(UTC))
        )
        with translate("mark published"), self._engine.begin() as conn:
            conn.execute(stmt)

    def expire_restrictions(self, responder: Responder, now: float | None = None) -> int:
        """Lift restrictions whose expiry has come (restore commands into the outbox)."""
        with translate("expire restrictions"), self._engine.begin() as conn:
            return expire_due(conn, self._insert, responder, time.time() if now is None else now)

    def restore(
        self,
        responder: Responder,
        account_id: str,
        *,
        features: list[str] | None,
        reason: str,
        actor: str,
        role: str,
        request_id: str | None = None,
        now: float | None = None,
    ) -> Any:
        """Support lifts restrictions (audited); returns the restore command. Raises
        ``ValueError`` for a missing reason/actor or an unknown feature."""
        with translate("restore"), self._engine.begin() as conn:
            return manual_restore(
                conn,
                self._insert,
                responder,
                account_id,
                features,
                reason,
                actor,
                role,
                time.time() if now is None else now,
                request_id,
            )

    def audit_entries(self, target: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(audit_log).order_by(audit_log.c.id)
        if target is not None:
            query = query.where(audit_log.c.target == target)
        with translate("audit"), self._engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def pending_webhooks(self, limit: int = 100) -> list[PendingAction]:
        """Published commands whose webhook delivery has not been tried yet (commands
        only: verdicts are not the wallet backend's business)."""
        query = (
            sa.select(
                outbox.c.seq,
                outbox.c.action_id,
                outbox.c.account_id,
                outbox.c.type,
                outbox.c.body,
                outbox.c.event_time,
            )
            .where(
                outbox.c.published_at.is_not(None),
                outbox.c.webhook_state.is_(None),
                outbox.c.topic == "actions",
            )
            .order_by(outbox.c.seq)
            .limit(limit)
        )
        with translate("pending webhooks"), self._engine.connect() as conn:
            return [PendingAction(*row) for row in conn.execute(query)]

    def webhook_done(
        self,
        seq: int,
        delivered: bool,
        *,
        dead_letter: dict[str, Any] | None = None,
        case: dict[str, Any] | None = None,
    ) -> None:
        """Record a delivery's end; a failure goes to the dead-letter table and opens a
        support case, in one transaction."""
        with translate("webhook outcome"), self._engine.begin() as conn:
            conn.execute(
                sa.update(outbox)
                .where(outbox.c.seq == seq)
                .values(webhook_state="delivered" if delivered else "dead")
            )
            if dead_letter is not None:
                conn.execute(
                    self._insert(webhook_dead_letters).on_conflict_do_nothing(), dead_letter
                )
            if case is not None:
                conn.execute(self._insert(cases).on_conflict_do_nothing(), case)

    def webhook_dead_letters(self) -> list[dict[str, Any]]:
        query = sa.select(webhook_dead_letters).order_by(webhook_dead_letters.c.failed_at)
        with translate("webhook dead letters"), self._engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def outbox_depth(self) -> int:
        query = sa.select(sa.func.count()).where(outbox.c.published_at.is_(None))
        with translate("outbox depth"), self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def open_cases(self, account_id: str | None = None) -> list[dict[str, Any]]:
        """Open support cases (the case as JSON), most urgent first."""
        query = sa.select(cases.c.data).where(cases.c.status == "open")
        if account_id is not None:
            query = query.where(cases.c.account_id == account_id)
        query = query.order_by(cases.c.priority, cases.c.due_at)
        with translate("open cases"), self._engine.connect() as conn:
            return [row[0] for row in conn.execute(query)]
