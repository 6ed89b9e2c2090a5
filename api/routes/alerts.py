"""``/v1/alerts``: read the alerts the pipeline stored, with their reasons (viewers and
up, personal data masked); reveal one unmasked (analysts in its queue, audited)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from api.deps import AnalystDep, AuditDep, CaseworkDep, StoreDep, ViewerDep
from api.masking import MaskedRoute, mark_revealed
from api.schemas import (
    MAX_CURSOR_PAGE,
    NO_CONTROL,
    AlertPublic,
    AlertsPublic,
    AlertsQuery,
    ErrorPublic,
)
from monitor.store.alert_queries import alerts_cursor

router = APIRouter(prefix="/v1/alerts", tags=["alerts"], route_class=MaskedRoute)

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorPublic, "description": "database unavailable"}
}
AlertId = Annotated[str, Path(max_length=200, pattern=NO_CONTROL)]


class RevealRequest(BaseModel):
    reason: str | None = Field(
        None, max_length=1000, description="why the personal data is needed (audited)"
    )


@router.get(
    "",
    summary="List alerts, newest first",
    response_model=AlertsPublic,
    responses=_UNAVAILABLE,
)
def list_alerts(
    _: ViewerDep, store: StoreDep, desk: CaseworkDep, query: Annotated[AlertsQuery, Query()]
) -> AlertsPublic:
    """Alerts matching every given filter, newest event first. ``count`` is the total
    over all pages. Page with ``next_cursor`` (pass it as ``cursor``; pages stay stable
    while new alerts arrive) or with ``next_offset``; both are null on the last page.
    Personal data (IPs, e-mails, phones, card/bank tokens) is masked: see
    ``POST /v1/alerts/{id}/reveal``."""
    filters: dict[str, Any] = {
        "account_id": query.account_id,
        "queue": query.queue,
        "severity": query.severity,
        "min_severity": query.min_severity,
        "rule_id": query.rule_id,
        "since": query.since,
        "until": query.until,
    }
    if query.cursor is not None:
        limit = min(query.limit, MAX_CURSOR_PAGE)
        try:
            records, next_cursor = desk.list_alerts_page(
                cursor=query.cursor, limit=limit, **filters
            )
        except ValueError as exc:  # InvalidCursor
            raise HTTPException(422, str(exc)) from exc
        count = store.list_alerts(limit=0, **filters)[1]
        return AlertsPublic(
            data=[AlertPublic.model_validate(r) for r in records],
            count=count,
            limit=limit,
            offset=None,
            next_offset=None,
            next_cursor=next_cursor,
        )
    records, count = store.list_alerts(limit=query.limit, offset=query.offset, **filters)
    end = query.offset + len(records)
    more = end < count and bool(records)
    last = records[-1] if more else None
    return AlertsPublic(
        data=[AlertPublic.model_validate(r) for r in records],
        count=count,
        limit=query.limit,
        offset=query.offset,
        next_offset=end if more else None,
        next_cursor=None if last is None else alerts_cursor(last.event_time, last.alert_id),
    )


@router.get(
    "/{alert_id}",
    summary="Get one alert",
    response_model=AlertPublic,
    responses={404: {"model": ErrorPublic, "description": "no such alert"}, **_UNAVAILABLE},
)
def get_alert(_: ViewerDep, store: StoreDep, alert_id: AlertId) -> AlertPublic:
    """One alert with the reasons it fired and the values behind each reason (masked)."""
    record = store.get_alert(alert_id)
    if record is None:
        raise HTTPException(status_code=404, detail=f"alert {alert_id} not found")
    return AlertPublic.model_validate(record)


@router.post(
    "/{alert_id}/reveal",
    summary="Get one alert with its personal data unmasked (analysts of its queue; audited)",
    response_model=AlertPublic,
    responses={
        403: {"model": ErrorPublic, "description": "viewer, or not one of your queues"},
        404: {"model": ErrorPublic, "description": "no such alert"},
        **_UNAVAILABLE,
    },
)
def reveal_alert(
    principal: AnalystDep,
    who: AuditDep,
    store: StoreDep,
    request: Request,
    alert_id: AlertId,
    body: Annotated[RevealRequest | None, Body()] = None,
) -> AlertPublic:
    """The alert as stored. An ``audit_log`` row (action ``reveal``) is written first; an
    alert without a queue can be revealed by all-queue analysts (``*``) and admins."""
    record = store.get_alert(alert_id)
    if record is None:
        raise HTTPException(status_code=404, detail=f"alert {alert_id} not found")
    if not principal.works(record.queue):
        mine = ", ".join(principal.queues) or "none"
        raise HTTPException(
            403, f"alert {alert_id} is in queue {record.queue or '(none)'}; your queues: {mine}"
        )
    reason = body.reason if body is not None else None
    store.audit(
        who.actor,
        who.role,
        "reveal",
        f"alert:{alert_id}",
        after={"account_id": record.account_id, "reason": reason},
        request_id=who.request_id,
    )
    mark_revealed(request)
    return AlertPublic.model_validate(record)
