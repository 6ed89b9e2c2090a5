"""Reading alerts on the caller's connection: the filter that
:meth:`AlertStore.list_alerts <monitor.store.repository.AlertStore.list_alerts>` (offset
pages with a total) and :func:`alerts_page` (cursor pages) share, a row as an
:class:`~monitor.store.records.AlertRecord`, and the cursor-paged list itself.

Both lists filter and sort alike — newest event time first, then alert id — so an offset
page can hand out the cursor of the page after it (:func:`alerts_cursor`). With a rule,
``alert_rules`` drives the query: its ``(rule_id, event_time)`` index yields that rule's
alerts already in page order.

>>> f = alert_filter(rule_id="velocity", min_severity="high")
>>> f.source.name, [str(c) for c in f.where]
('alert_rules', ['alerts.severity_rank >= :severity_rank_1', 'alert_rules.rule_id = :rule_id_1'])
>>> f.count_from() is f.joined  # a condition on the alerts' own columns needs the join
True
>>> alert_filter(rule_id="velocity").count_from().name  # the rule's rows alone
'alert_rules'
>>> alert_filter(severity="urgent")
Traceback (most recent call last):
...
ValueError: unknown severity 'urgent'; expected one of ['none', 'low', 'medium', 'high', 'critical']

A cursor page over a store (the API's ``GET /v1/alerts?cursor=`` through
:meth:`Casework.list_alerts_page <monitor.store.casework.Casework.list_alerts_page>`):

>>> from monitor.decision import Reason, decide
>>> from monitor.store import AlertStore
>>> store = AlertStore("sqlite:///:memory:")
>>> store.create_schema()
>>> hit = Reason(code="rule:velocity", text="5 transfers in a minute", rule_id="velocity")
>>> store.save_decisions([
...     decide(event_id=f"e{i}", account_id="a1", event_type="transfer", event_ts=1.8e9 + i,
...            rule_hits=[("high", 0.8, hit)], anomaly=None)
...     for i in range(3)
... ])
3
>>> by_rule = alert_filter(rule_id="velocity")
>>> with store.engine.connect() as conn:
...     first, cursor = alerts_page(conn, by_rule, limit=2)
...     rest, end = alerts_page(conn, by_rule, cursor=cursor, limit=2)
>>> [a.event_id for a in first], [a.event_id for a in rest], end
(['e2', 'e1'], ['e0'], None)
>>> store.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from monitor.decision import SEVERITY_RANK, Reason
from monitor.store.paging import bound_key, clamp_limit, decode_cursor, encode_cursor
from monitor.store.records import AlertRecord
from monitor.store.schema import alert_rules, alerts

ALERT_SORT = (datetime, str)  # event_time, alert_id (newest first)


def severity_rank(severity: str, name: str) -> int:
    """The rank of ``severity``; ``ValueError`` naming the parameter ``name`` if unknown."""
    try:
        return SEVERITY_RANK[severity]
    except KeyError:
        known = list(SEVERITY_RANK)
        raise ValueError(f"unknown {name} {severity!r}; expected one of {known}") from None


def to_record(row: sa.Row[Any]) -> AlertRecord:
    """An ``alerts`` row as the readers get it."""
    return AlertRecord(
        alert_id=row.alert_id,
        event_id=row.event_id,
        account_id=row.account_id,
        event_type=row.event_type,
        event_time=row.event_time,
        detected_at=row.detected_at,
        score=row.score,
        anomaly_score=row.anomaly_score,
        severity=row.severity,
        rule_ids=list(row.rule_ids),
        reasons=msgspec.convert(row.reasons, list[Reason]),
        actions=list(row.actions),
        queue=row.queue,
        learn_input=row.learn_input,
        rule_pack_version=row.rule_pack_version,
        partition=row.kafka_partition,
        offset=row.kafka_offset,
    )


@dataclass(frozen=True)
class AlertFilter:
    """The conditions of one alert list, and the tables they run on.

    ``on_alerts`` are conditions on the alerts' own columns (account, queue, severity);
    ``on_source`` those on ``source``, the table that drives the query: ``alert_rules``
    with a rule (its rule and the time range), else ``alerts`` (the time range).
    ``joined`` is what a page selects from; ``sort_key`` its order (newest first).
    """

    on_alerts: tuple[sa.ColumnElement[bool], ...]
    on_source: tuple[sa.ColumnElement[bool], ...]
    source: sa.Table
    joined: sa.FromClause
    sort_key: tuple[sa.ColumnElement[Any], sa.ColumnElement[Any]]

    @property
    def where(self) -> tuple[sa.ColumnElement[bool], ...]:
        return (*self.on_alerts, *self.on_source)

    def select(self, *more: sa.ColumnElement[bool]) -> sa.Select[Any]:
        """The matching alerts, newest event time first (then alert id), with ``more``
        conditions (a cursor's bound); the caller adds the limit."""
        time_col, id_col = self.sort_key
        return (
            sa.select(alerts)
            .select_from(self.joined)
            .where(*self.where, *more)
            .order_by(time_col.desc(), id_col.desc())
        )

    def count_from(self) -> sa.FromClause:
        """What a count of the matches needs: with a rule and no condition on the alerts'
        own columns, the rule's ``alert_rules`` rows alone."""
        return self.joined if self.on_alerts else self.source


def alert_filter(
    *,
    account_id: str | None = None,
    severity: str | None = None,
    min_severity: str | None = None,
    rule_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    queue: str | None = None,
) -> AlertFilter:
    """The filter of an alert list: every given condition must hold. ``since`` is
    inclusive, ``until`` exclusive (on event time); ``rule_id`` matches the alerts that
    rule contributed to; ``queue`` the support queue an alert was routed to. Raises
    ``ValueError`` for an unknown severity."""
    on_alerts: list[sa.ColumnElement[bool]] = []
    if account_id is not None:
        on_alerts.append(alerts.c.account_id == account_id)
    if queue is not None:
        on_alerts.append(alerts.c.queue == queue)
    if severity is not None:
        severity_rank(severity, "severity")
        on_alerts.append(alerts.c.severity == severity)
    if min_severity is not None:
        on_alerts.append(alerts.c.severity_rank >= severity_rank(min_severity, "min_severity"))
    by_rule = rule_id is not None
    source = alert_rules if by_rule else alerts
    time_col, id_col = source.c.event_time, source.c.alert_id
    on_source: list[sa.ColumnElement[bool]] = []
    if by_rule:
        on_source.append(alert_rules.c.rule_id == rule_id)
    if since is not None:
        on_source.append(time_col >= since)
    if until is not None:
        on_source.append(time_col < until)
    return AlertFilter(
        on_alerts=tuple(on_alerts),
        on_source=tuple(on_source),
        source=source,
        joined=alerts.join(alert_rules) if by_rule else alerts,
        sort_key=(time_col, id_col),
    )


def alerts_page(
    conn: sa.Connection, match: AlertFilter, *, cursor: str | None = None, limit: int = 50
) -> tuple[list[AlertRecord], str | None]:
    """The alerts ``match`` finds, one cursor page: see
    :meth:`monitor.store.casework.Casework.list_alerts_page`."""
    after: list[sa.ColumnElement[bool]] = []
    if cursor is not None:
        key = match.sort_key
        after.append(sa.tuple_(*key) < bound_key(key, decode_cursor(cursor, "alerts", ALERT_SORT)))
    limit = clamp_limit(limit)
    items = [to_record(r) for r in conn.execute(match.select(*after).limit(limit + 1))]
    if len(items) <= limit:
        return items, None
    last = items[limit - 1]
    return items[:limit], alerts_cursor(last.event_time, last.alert_id)


def alerts_cursor(event_time: datetime, alert_id: str) -> str:
    """The cursor of the alert page that follows the alert (``event_time``, ``alert_id``):
    offset pages of :meth:`AlertStore.list_alerts` have the same order, so they can hand
    one out too."""
    return encode_cursor("alerts", (event_time, alert_id))
