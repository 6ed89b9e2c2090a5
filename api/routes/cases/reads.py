"""Reading cases: ``GET /v1/cases`` (one page, most urgent first, cursor-paged),
``GET /v1/cases/{id}`` (everything an agent needs, masked) and
``POST /v1/cases/{id}/reveal`` (the same unmasked, for an analyst of its queue, audited
first)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request

from api.case_schemas import (
    MAX_CASE_PAGE,
    ActionPublic,
    CaseAlertPublic,
    CaseDetailPublic,
    CaseEventPublic,
    CasePublic,
    CasesPublic,
    CasesQuery,
    RestrictionPublic,
    RevealRequest,
    TimelineEntryPublic,
    reasons_in_words,
)
from api.deps import AnalystDep, AuditDep, CaseworkDep, StoreDep, ViewerDep
from api.masking import MaskedRoute, mark_revealed
from api.routes.cases.access import READ, WORK, CaseId, refusals, workable
from api.schemas import ErrorPublic
from monitor.store.case_records import CaseDetail

router = APIRouter(prefix="/v1/cases", tags=["cases"], route_class=MaskedRoute)


def detail_public(detail: CaseDetail) -> CaseDetailPublic:
    """The store's case detail as the API answers it."""
    return CaseDetailPublic(
        case=CasePublic.model_validate(detail.case),
        reasons=reasons_in_words(detail.alerts),
        alerts=[CaseAlertPublic.model_validate(a) for a in detail.alerts],
        timeline=[TimelineEntryPublic.model_validate(t) for t in detail.timeline],
        restrictions=[RestrictionPublic.model_validate(r) for r in detail.restrictions],
        recent_responses=dict(detail.recent_responses),
        actions=[ActionPublic.model_validate(a) for a in detail.actions],
        events=[CaseEventPublic.model_validate(e) for e in detail.events],
        notes=[CaseEventPublic.model_validate(e) for e in detail.notes],
        verdicts=[CaseEventPublic.model_validate(e) for e in detail.verdicts],
    )


@router.get(
    "",
    summary="List cases, most urgent first (priority, then SLA due time)",
    response_model=CasesPublic,
    responses={422: {"model": ErrorPublic, "description": "a bad filter or cursor"}},
)
def list_cases(
    _: ViewerDep, desk: CaseworkDep, query: Annotated[CasesQuery, Query()]
) -> CasesPublic:
    """Cases matching every given filter, sorted by priority (P1 first), then SLA due
    time, then case id. Follow ``next_cursor`` (pass it as ``cursor``) until it is null;
    a page starts strictly after the previous one's last case, so cases opened meanwhile
    never shift pages. Personal data is masked."""
    limit = min(query.limit, MAX_CASE_PAGE)
    with refusals():
        cases, next_cursor = desk.list_cases(
            queue=query.queue,
            status=query.status,
            min_priority=query.min_priority,
            min_severity=query.min_severity,
            rule_id=query.rule_id,
            account_id=query.account_id,
            assignee=query.assignee,
            unassigned=query.unassigned,
            since=query.since,
            until=query.until,
            cursor=query.cursor,
            limit=limit,
        )
    return CasesPublic(
        data=[CasePublic.model_validate(c) for c in cases], limit=limit, next_cursor=next_cursor
    )


@router.get(
    "/{case_id}",
    summary="One case: reasons, alerts, the account's timeline, restrictions, commands, "
    "notes, verdicts",
    response_model=CaseDetailPublic,
    responses=READ,
)
def get_case(_: ViewerDep, desk: CaseworkDep, case_id: CaseId) -> CaseDetailPublic:
    """``reasons`` first (plain words, most severe alert first), then the case's alerts
    with their explanations, the account's recent history as a timeline (flagged events
    marked ``unusual``), the restrictions in force with their expiry, the commands issued
    with their delivery, the case's steps, notes and the account's verdicts (masked)."""
    return detail_public(desk.case_detail(case_id))


@router.post(
    "/{case_id}/reveal",
    summary="One case with its personal data unmasked (analysts of its queue; audited)",
    response_model=CaseDetailPublic,
    responses=WORK,
)
def reveal_case(
    principal: AnalystDep,
    who: AuditDep,
    store: StoreDep,
    desk: CaseworkDep,
    request: Request,
    case_id: CaseId,
    body: Annotated[RevealRequest | None, Body()] = None,
) -> CaseDetailPublic:
    """An ``audit_log`` row (action ``reveal``, target ``case:{id}``) is written first."""
    case = workable(desk, principal, case_id)
    store.audit(
        who.actor,
        who.role,
        "reveal",
        f"case:{case_id}",
        after={"account_id": case.account_id, "reason": body.reason if body else None},
        request_id=who.request_id,
    )
    mark_revealed(request)
    return detail_public(desk.case_detail(case_id))
