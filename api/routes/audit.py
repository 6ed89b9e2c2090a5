"""``GET /v1/audit``: the audit log for admins — who did what to what, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import AdminDep, StoreDep
from api.masking import MaskedRoute
from api.schemas import MAX_PAGE, NO_CONTROL, AwareDatetime

MAX_ID = 2**63 - 1  # audit_log.id is a BIGINT

router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=MaskedRoute)


class AuditQuery(BaseModel):
    """Filters and paging for ``GET /v1/audit``."""

    actor: str | None = Field(
        None, max_length=200, pattern=NO_CONTROL, description="only rows by this user"
    )
    action: str | None = Field(
        None,
        max_length=200,
        pattern=NO_CONTROL,
        description="only this action: reveal, rules_reload, …",
    )
    target: str | None = Field(
        None,
        max_length=300,
        pattern=NO_CONTROL,
        description="only this target: alert:al_…, account:…, user:…",
    )
    since: AwareDatetime | None = Field(None, description="from (inclusive), ISO 8601 with offset")
    cursor: int | None = Field(
        None, ge=1, le=MAX_ID, description="next_cursor of the previous page"
    )
    limit: int = Field(50, ge=1, description=f"page size; more than {MAX_PAGE} gives {MAX_PAGE}")


class AuditEntryPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    role: str
    action: str
    target: str
    before: Any
    after: Any
    request_id: str | None


class AuditPagePublic(BaseModel):
    data: list[AuditEntryPublic]
    limit: int = Field(description="the page size used (requests above the maximum are clamped)")
    next_cursor: int | None = Field(description="cursor of the next page, null on the last one")


@router.get("", summary="The audit log, newest first (admin)", response_model=AuditPagePublic)
def list_audit(
    _: AdminDep, store: StoreDep, query: Annotated[AuditQuery, Query()]
) -> AuditPagePublic:
    limit = min(query.limit, MAX_PAGE)
    # one more than a page: whether there is a next one, without a count query
    rows = store.audit_page(
        actor=query.actor,
        action=query.action,
        target=query.target,
        since=query.since,
        before_id=query.cursor,
        limit=limit + 1,
    )
    page = rows[:limit]
    return AuditPagePublic(
        data=[
            AuditEntryPublic(**{f: getattr(e, f) for f in AuditEntryPublic.model_fields})
            for e in page
        ],
        limit=limit,
        next_cursor=page[-1].id if len(rows) > limit else None,
    )
