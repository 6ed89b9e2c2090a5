"""``/v1/alerts``: read the alerts the pipeline stored, with their reasons."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import StoreDep
from api.schemas import AlertPublic, AlertsPublic, AlertsQuery, ErrorPublic

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorPublic, "description": "database unavailable"}
}


@router.get(
    "",
    summary="List alerts, newest first",
    response_model=AlertsPublic,
    responses=_UNAVAILABLE,
)
def list_alerts(store: StoreDep, query: Annotated[AlertsQuery, Query()]) -> AlertsPublic:
    """Alerts matching every given filter. ``count`` is the total over all pages;
    follow ``next_offset`` until it is null to read them all."""
    records, count = store.list_alerts(
        account_id=query.account_id,
        severity=query.severity,
        min_severity=query.min_severity,
        rule_id=query.rule_id,
        since=query.since,
        until=query.until,
        limit=query.limit,
        offset=query.offset,
    )
    end = query.offset + len(records)
    return AlertsPublic(
        data=[AlertPublic.model_validate(r) for r in records],
        count=count,
        limit=query.limit,
        offset=query.offset,
        next_offset=end if end < count and records else None,
    )


@router.get(
    "/{alert_id}",
    summary="Get one alert",
    response_model=AlertPublic,
    responses={404: {"model": ErrorPublic, "description": "no such alert"}, **_UNAVAILABLE},
)
def get_alert(store: StoreDep, alert_id: Annotated[str, Path(max_length=200)]) -> AlertPublic:
    """One alert with the reasons it fired and the values behind each reason."""
    record = store.get_alert(alert_id)
    if record is None:
        raise HTTPException(status_code=404, detail=f"alert {alert_id} not found")
    return AlertPublic.model_validate(record)
