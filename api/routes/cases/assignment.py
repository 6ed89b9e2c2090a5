"""Who works a case and how urgently: ``POST /v1/cases/{id}/claim``, ``/assign``,
``/acknowledge`` (stops the SLA clock) and ``/escalate`` (more urgent, back to the queue,
maybe another queue). Analysts of the case's queue; ``force`` (taking over a case someone
else holds) is for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from api.case_schemas import (
    AssignRequest,
    CaseStepPublic,
    ClaimRequest,
    EscalateRequest,
    ForceRequest,
)
from api.deps import AnalystDep, AuditDep, CaseworkDep, StoreDep
from api.masking import MaskedRoute
from api.routes.cases.access import WORK, CaseId, assignable, refusals, step_public, workable

router = APIRouter(prefix="/v1/cases", tags=["cases"], route_class=MaskedRoute)


@router.post(
    "/{case_id}/claim",
    summary="Take the case (analysts of its queue)",
    response_model=CaseStepPublic,
    responses=WORK,
)
def claim(
    principal: AnalystDep,
    who: AuditDep,
    desk: CaseworkDep,
    case_id: CaseId,
    body: Annotated[ClaimRequest | None, Body()] = None,
) -> CaseStepPublic:
    """Claiming a case one holds changes nothing; one someone else holds is 409 unless
    an admin passes ``force``."""
    force = body.force if body else False
    workable(desk, principal, case_id, force=force)
    with refusals():
        event = desk.claim(
            case_id, actor=who.actor, role=who.role, request_id=who.request_id, force=force
        )
    return step_public(desk, event)


@router.post(
    "/{case_id}/assign",
    summary="Give the case to someone, or back to the queue (analysts of its queue)",
    response_model=CaseStepPublic,
    responses=WORK,
)
def assign(
    principal: AnalystDep,
    who: AuditDep,
    store: StoreDep,
    desk: CaseworkDep,
    case_id: CaseId,
    body: AssignRequest,
) -> CaseStepPublic:
    """``to`` must be an enabled analyst of the case's queue or an admin."""
    case = workable(desk, principal, case_id)
    if body.to is not None:
        assignable(store, body.to, case.queue)
    with refusals():
        event = desk.assign(
            case_id, body.to, actor=who.actor, role=who.role, request_id=who.request_id
        )
    return step_public(desk, event)


@router.post(
    "/{case_id}/acknowledge",
    summary="First response: stops the SLA clock (analysts of its queue)",
    response_model=CaseStepPublic,
    responses=WORK,
)
def acknowledge(
    principal: AnalystDep,
    who: AuditDep,
    desk: CaseworkDep,
    case_id: CaseId,
    body: Annotated[ForceRequest | None, Body()] = None,
) -> CaseStepPublic:
    """Once per case; ``event.body.within_sla`` says whether the SLA was met."""
    force = body.force if body else False
    workable(desk, principal, case_id, force=force)
    with refusals():
        event = desk.acknowledge(
            case_id, actor=who.actor, role=who.role, request_id=who.request_id, force=force
        )
    return step_public(desk, event)


@router.post(
    "/{case_id}/escalate",
    summary="Hand the case up: more urgent, back to the queue, maybe another queue",
    response_model=CaseStepPublic,
    responses=WORK,
)
def escalate(
    principal: AnalystDep,
    who: AuditDep,
    desk: CaseworkDep,
    case_id: CaseId,
    body: EscalateRequest,
) -> CaseStepPublic:
    """Priority rises one step (or to ``priority``, never lower), the due time moves to
    now + that priority's SLA if earlier, and the case goes back to the queue unassigned
    (to ``to_queue`` if given)."""
    workable(desk, principal, case_id, force=body.force)
    with refusals():
        event = desk.escalate(
            case_id,
            body.reason,
            actor=who.actor,
            role=who.role,
            priority=body.priority,
            to_queue=body.to_queue,
            request_id=who.request_id,
            force=body.force,
        )
    return step_public(desk, event)
