"""The alert store: writes alerts from the stream, reads them for the API.

Synchronous by design; the stream calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from monitor.decision import SEVERITY_RANK, Decision
from monitor.store.alert_queries import alert_filter, to_record
from monitor.store.audit import AuditQueries
from monitor.store.checkpoints import CheckpointQueries
from monitor.store.engine import make_engine
from monitor.store.errors import translate
from monitor.store.exceptions import StoreError, StoreUnavailable
from monitor.store.migrate import upgrade
from monitor.store.outbox import ResponseQueries
from monitor.store.records import AlertRecord
from monitor.store.responses import Responder, respond
from monitor.store.schema import (
    alert_rules,
    alerts,
    shadow_hits,
)
from monitor.store.users import UserQueries

_DIALECT_INSERT: dict[str, Callable[..., Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


class AlertStore(ResponseQueries, AuditQueries, UserQueries, CheckpointQueries):
    """Alerts in SQLite or PostgreSQL, written idempotently by ``event_id``."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self._engine = make_engine(url, echo=echo)
        insert = _DIALECT_INSERT[self._engine.dialect.name]
        self._insert_alerts = insert(alerts).on_conflict_do_nothing().returning(alerts.c.alert_id)
        self._insert_rules = insert(alert_rules).on_conflict_do_nothing()
        self._insert_shadow = insert(shadow_hits).on_conflict_do_nothing()
        self._insert = insert

    @property
    def engine(self) -> sa.Engine:
        return self._engine

    def create_schema(self) -> None:
        """Bring the schema to the newest revision: run the Alembic migrations
        (``monitor/store/migrations``) the database lacks (idempotent).

        Safe when several replicas start at once (PostgreSQL: an advisory lock, one
        migrates); a database made before migrations is adopted. See
        :mod:`monitor.store.migrate`.
        """
        upgrade(self._engine)

    def save_decisions(
        self,
        decisions: Sequence[Decision],
        *,
        positions: Sequence[tuple[int, int]] | None = None,
        responder: Responder | None = None,
    ) -> int:
        """Store an alert for every decision that is one, in one transaction.

        ``positions[i]`` is the Kafka ``(partition, offset)`` of ``decisions[i]``.
        Replays are harmless: an ``event_id`` already stored is skipped. Returns how
        many alerts were newly stored.

        With a ``responder``, the response to every *new* alert (commands into the
        outbox, the account's restrictions, its support case) is planned and written in
        the same transaction: an alert is never stored without its commands, and a
        replayed alert never issues them twice.
        """
        if positions is not None and len(positions) != len(decisions):
            raise ValueError(
                f"positions has {len(positions)} entries for {len(decisions)} decisions"
            )
        rows, rules = self._rows(decisions, positions)
        shadow = self._shadow_rows(decisions)
        if not rows and not shadow:
            return 0
        inserted: set[str] = set()
        with translate("save decisions"), self._engine.begin() as conn:
            if rows:
                inserted = set(conn.execute(self._insert_alerts, rows).scalars())
            # Only for alerts new in this call: a replay must not change a stored alert.
            new_rules = [r for r in rules if r["alert_id"] in inserted]
            if new_rules:
                conn.execute(self._insert_rules, new_rules)
            if shadow:
                conn.execute(self._insert_shadow, shadow)
            if responder is not None and inserted:
                new = [d for d in decisions if d.is_alert and d.alert_id in inserted]
                respond(conn, self._insert, responder, new, time.time())
        return len(inserted)

    @staticmethod
    def _shadow_rows(decisions: Sequence[Decision]) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for d in decisions:
            for reason in d.shadow_hits:
                key = (d.event_id, reason.rule_id or reason.code)
                rows.setdefault(
                    key,
                    {
                        "event_id": d.event_id,
                        "rule_id": key[1],
                        "account_id": d.account_id,
                        "event_time": datetime.fromtimestamp(d.event_ts, UTC),
                        "detected_at": now,
                        "rule_pack_version": d.rule_pack_version,
                        "text": reason.text,
                        "values": msgspec.to_builtins(reason.values),
                    },
                )
        return list(rows.values())

    def rule_hit_counts(self) -> dict[str, int]:
        """Stored alerts per rule id."""
        query = sa.select(alert_rules.c.rule_id, sa.func.count()).group_by(alert_rules.c.rule_id)
        with translate("rule hit counts"), self._engine.connect() as conn:
            return {rule: n for rule, n in conn.execute(query)}

    def shadow_hit_counts(self) -> dict[str, int]:
        """Recorded shadow-rule hits per rule id."""
        query = sa.select(shadow_hits.c.rule_id, sa.func.count()).group_by(shadow_hits.c.rule_id)
        with translate("shadow hit counts"), self._engine.connect() as conn:
            return {rule: n for rule, n in conn.execute(query)}

    @staticmethod
    def _rows(
        decisions: Sequence[Decision], positions: Sequence[tuple[int, int]] | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        detected_at = datetime.now(UTC)
        rows: dict[str, dict[str, Any]] = {}
        rules: list[dict[str, Any]] = []
        for i, d in enumerate(decisions):
            if not d.is_alert or d.event_id in rows:
                continue
            alert_id = d.alert_id
            event_time = datetime.fromtimestamp(d.event_ts, UTC)
            partition, offset = positions[i] if positions is not None else (None, None)
            rows[d.event_id] = {
                "alert_id": alert_id,
                "event_id": d.event_id,
                "account_id": d.account_id,
                "event_type": d.event_type,
                "event_time": event_time,
                "detected_at": detected_at,
                "score": d.score,
                "anomaly_score": d.anomaly_score,
                "severity": d.severity,
                "severity_rank": SEVERITY_RANK[d.severity],
                "rule_ids": list(d.rule_ids),
                "reasons": msgspec.to_builtins(d.reasons),
                "actions": list(d.actions),
                "queue": d.queue,
                "learn_input": d.learn_input,
                "rule_pack_version": d.rule_pack_version or None,
                "kafka_partition": partition,
                "kafka_offset": offset,
            }
            rules.extend(
                {"alert_id": alert_id, "rule_id": r, "event_time": event_time}
                for r in dict.fromkeys(d.rule_ids)
            )
        return list(rows.values()), rules

    def list_alerts(
        self,
        *,
        account_id: str | None = None,
        severity: str | None = None,
        min_severity: str | None = None,
        rule_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
        queue: str | None = None,
    ) -> tuple[list[AlertRecord], int]:
        """One page of alerts, newest event time first, and how many match in total.

        ``since`` is inclusive, ``until`` exclusive (on event time; naive datetimes are
        taken as UTC). ``rule_id`` matches alerts that rule contributed to; ``queue`` the
        support queue the alert was routed to.
        Raises ``ValueError`` for an unknown severity or a negative limit/offset.
        """
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must be >= 0")
        match = alert_filter(
            account_id=account_id,
            severity=severity,
            min_severity=min_severity,
            rule_id=rule_id,
            since=since,
            until=until,
            queue=queue,
        )
        page = match.select().limit(limit).offset(offset)
        total = sa.select(sa.func.count()).select_from(match.count_from()).where(*match.where)
        with translate("list alerts"), self._engine.connect() as conn:
            rows = conn.execute(page).all() if limit else []
            count = conn.execute(total).scalar_one()
        return [to_record(r) for r in rows], count

    def get_alert(self, alert_id: str) -> AlertRecord | None:
        with translate("get alert"), self._engine.connect() as conn:
            row = conn.execute(sa.select(alerts).where(alerts.c.alert_id == alert_id)).first()
        return None if row is None else to_record(row)

    def count_alerts(self) -> int:
        with translate("count alerts"), self._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(alerts)).scalar_one())

    def ping(self) -> None:
        """Round trip to the database that reads the alerts table (so a missing schema
        is "not ready" too); raises :class:`StoreUnavailable` if it fails."""
        try:
            with translate("ping"), self._engine.connect() as conn:
                conn.execute(sa.select(alerts.c.alert_id).limit(1))
        except StoreUnavailable:
            raise
        except StoreError as exc:  # e.g. a server that answers but refuses the query
            raise StoreUnavailable(f"ping: database unavailable: {exc}") from exc

    def close(self) -> None:
        self._engine.dispose()
