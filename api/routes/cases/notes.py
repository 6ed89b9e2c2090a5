"""What people write on a case: ``POST /v1/cases/{id}/notes`` (append-only) and
``POST /v1/cases/{id}/contacts`` (a conversation with the customer), on an open or a
closed case, by analysts of its queue."""

from __future__ import annotations

from fastapi import APIRouter

from api.case_schemas import CaseStepPublic, ContactCreate, NoteCreate
from api.deps import AnalystDep, AuditDep, CaseworkDep
from api.masking import MaskedRoute
from api.routes.cases.access import WORK, CaseId, refusals, step_public, workable

router = APIRouter(prefix="/v1/cases", tags=["cases"], route_class=MaskedRoute)


@router.post(
    "/{case_id}/notes",
    summary="Add a note (append-only; open or closed case)",
    response_model=CaseStepPublic,
    status_code=201,
    responses=WORK,
)
def add_note(
    principal: AnalystDep, who: AuditDep, desk: CaseworkDep, case_id: CaseId, body: NoteCreate
) -> CaseStepPublic:
    workable(desk, principal, case_id)
    with refusals():
        event = desk.add_note(
            case_id, body.text, actor=who.actor, role=who.role, request_id=who.request_id
        )
    return step_public(desk, event)


@router.post(
    "/{case_id}/contacts",
    summary="Record a conversation with the customer",
    response_model=CaseStepPublic,
    status_code=201,
    responses=WORK,
)
def record_contact(
    principal: AnalystDep, who: AuditDep, desk: CaseworkDep, case_id: CaseId, body: ContactCreate
) -> CaseStepPublic:
    workable(desk, principal, case_id)
    with refusals():
        event = desk.record_contact(
            case_id,
            body.channel,
            body.summary,
            body.identity_verified,
            actor=who.actor,
            role=who.role,
            request_id=who.request_id,
        )
    return step_public(desk, event)
