"""The reading side of :class:`~monitor.store.casework.Casework`: one page of cases (most
urgent first, cursor-paged), one case with everything about it (its alerts, the account's
timeline, restrictions, commands, the case's steps), an account's risk view, and the
cursor-paged alert list. Each read is one connection; the queries are in
:mod:`~monitor.store.case_queries`, :mod:`~monitor.store.action_queries`,
:mod:`~monitor.store.alert_queries` and :mod:`~monitor.store.case_timeline`.

>>> from monitor.store import AlertStore
>>> store = AlertStore("sqlite:///:memory:")
>>> store.create_schema()
>>> reads = CaseReads(store)
>>> reads.list_cases(status="open"), reads.account_view("a1").known
(([], None), False)
>>> reads.case_detail("case_1")
Traceback (most recent call last):
...
monitor.store.exceptions.CaseNotFound: no case 'case_1'
>>> store.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from monitor.store import case_queries as q
from monitor.store.action_queries import account_actions, restrictions_of
from monitor.store.alert_queries import alert_filter, alerts_page
from monitor.store.case_desk import CaseDesk
from monitor.store.case_records import (
    AccountView,
    CaseDetail,
    CaseEvent,
    CaseSummary,
    ScorePoint,
)
from monitor.store.case_timeline import timeline
from monitor.store.errors import translate
from monitor.store.exceptions import CaseNotFound
from monitor.store.records import AlertRecord

__all__ = ["CaseReads"]


class CaseReads(CaseDesk):
    """Case lists, case detail, an account's risk view and alert pages."""

    def list_cases(
        self,
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
        """One page of cases, most urgent first — priority (P1 first), then SLA due time,
        then case id — and the cursor of the next page (None on the last).

        Filters: ``queue`` (one or several), ``status`` (``open`` | ``closed``),
        ``min_priority`` (``P2``: P1 and P2), ``min_severity`` (of the case's most severe
        alert), ``rule_id`` (a rule that raised one of its alerts), ``account_id``,
        ``assignee`` or ``unassigned``, ``since`` (inclusive) / ``until`` (exclusive) on
        the time the case opened. ``limit`` is clamped to [1, 200]. ``cursor`` is opaque;
        a page starts strictly after the last case of the previous one, so cases opened
        meanwhile never shift pages. Raises ``ValueError`` for an unknown queue, status,
        priority or severity, :class:`~monitor.store.exceptions.InvalidCursor` for a
        cursor not made by this list.
        """
        with translate("list cases"), self._engine.connect() as conn:
            return q.list_cases(
                conn,
                queue=queue,
                status=status,
                min_priority=min_priority,
                min_severity=min_severity,
                rule_id=rule_id,
                account_id=account_id,
                assignee=assignee,
                unassigned=unassigned,
                since=since,
                until=until,
                cursor=cursor,
                limit=limit,
            )

    def get_case(self, case_id: str) -> CaseSummary:
        """The case; raises :class:`~monitor.store.exceptions.CaseNotFound`."""
        with translate("get case"), self._engine.connect() as conn:
            case = q.get_case(conn, case_id)
        if case is None:
            raise CaseNotFound(case_id)
        return case

    def case_events(self, case_id: str) -> list[CaseEvent]:
        """The case's history, oldest first (raises ``CaseNotFound``)."""
        with translate("case events"), self._engine.connect() as conn:
            if q.get_case(conn, case_id) is None:
                raise CaseNotFound(case_id)
            return q.case_events_of(conn, case_id)

    def case_detail(
        self,
        case_id: str,
        *,
        lookback: timedelta = timedelta(days=30),
        timeline_limit: int = 200,
    ) -> CaseDetail:
        """Everything about one case (see :class:`~monitor.store.case_records.CaseDetail`).

        The timeline: Vigil stores decisions, not raw events — an event that raised no
        alert is not kept — so an account's history is what was stored about it: its
        alerts (every one ``unusual``, with reasons and the features the model saw), the
        commands issued and the steps people took on its cases. It starts ``lookback``
        before the earlier of the case's opening and its first alert's event time, and
        keeps the newest ``timeline_limit`` entries. Alerts sit at their event time,
        commands and steps at the wall-clock time they were written.
        """
        with translate("case detail"), self._engine.connect() as conn:
            case = q.get_case(conn, case_id)
            if case is None:
                raise CaseNotFound(case_id)
            account = case.account_id
            alerts = q.case_alerts_of(conn, case_id)
            start = min([case.opened_at, *(a.event_time for a in alerts)]) - lookback
            history = q.account_alerts(conn, account, start, timeline_limit)
            actions = account_actions(conn, account, None, timeline_limit)
            steps = q.account_case_events(conn, account, since=start, limit=timeline_limit)
            events = q.case_events_of(conn, case_id)
            restrictions, recent = restrictions_of(conn, account)
            verdicts = q.account_case_events(conn, account, kinds=["verdict"], limit=50)
        recent_actions = [a for a in actions if a.created_at >= start]
        return CaseDetail(
            case=case,
            alerts=alerts,
            timeline=timeline(history, recent_actions, steps, timeline_limit),
            restrictions=restrictions,
            recent_responses=recent,
            actions=actions,
            events=events,
            notes=[e for e in events if e.kind == "note"],
            verdicts=verdicts,
        )

    def account_view(self, account_id: str, *, limit: int = 100) -> AccountView:
        """An account's risk: its alert scores over time (up to 500, oldest first), its
        newest ``limit`` alerts, cases (open and closed), commands and verdicts, and the
        restrictions in force. ``known`` is False if nothing is stored about it."""
        with translate("account view"), self._engine.connect() as conn:
            history = q.account_alerts(conn, account_id, None, max(limit, 500))
            cases_ = q.account_cases(conn, account_id, limit)
            restrictions, recent = restrictions_of(conn, account_id)
            actions = account_actions(conn, account_id, None, limit)
            verdicts = q.account_case_events(conn, account_id, kinds=["verdict"], limit=limit)
        series = [
            ScorePoint(
                at=a.event_time,
                alert_id=a.alert_id,
                score=a.score,
                anomaly_score=a.anomaly_score,
                severity=a.severity,
            )
            for a in reversed(history[:500])
        ]
        return AccountView(
            account_id=account_id,
            known=bool(history or cases_ or restrictions or recent or actions),
            score_series=series,
            alerts=history[:limit],
            cases=cases_,
            restrictions=restrictions,
            recent_responses=recent,
            actions=actions,
            verdicts=verdicts,
        )

    def list_alerts_page(
        self,
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
        """Alerts as :meth:`AlertStore.list_alerts` filters them (newest event time first,
        then alert id), with cursor pagination instead of offsets: ``limit`` clamped to
        [1, 200], the next page's cursor (None on the last), no total count."""
        with translate("list alerts"), self._engine.connect() as conn:
            match = alert_filter(
                account_id=account_id,
                severity=severity,
                min_severity=min_severity,
                rule_id=rule_id,
                since=since,
                until=until,
                queue=queue,
            )
            return alerts_page(conn, match, cursor=cursor, limit=limit)
