"""Commands for a case's account, through the outbox and audited: lift its payment
restrictions (``POST /v1/cases/{id}/restore``) or end its sessions and require a new
password (``POST /v1/cases/{id}/password-reset``). Both need the playbooks (503 without
them) and answer 202 with the command and the case."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.case_schemas import (
    ActionPublic,
    CaseActionPublic,
    CasePublic,
    CaseRestoreRequest,
    PasswordResetRequest,
)
from api.deps import AnalystDep, AuditDep, CaseworkDep
from api.masking import MaskedRoute
from api.routes.cases.access import WORK, CaseId, need_responder, refusals, workable
from monitor.store import Casework
from monitor.store.case_records import ActionRecord

router = APIRouter(prefix="/v1/cases", tags=["cases"], route_class=MaskedRoute)


def action_public(desk: Casework, case_id: str, action: ActionRecord) -> CaseActionPublic:
    """The command issued and the case after it."""
    return CaseActionPublic(
        action=ActionPublic.model_validate(action),
        case=CasePublic.model_validate(desk.get_case(case_id)),
    )


@router.post(
    "/{case_id}/restore",
    summary="Lift the account's payment restrictions (a command through the outbox)",
    response_model=CaseActionPublic,
    status_code=202,
    responses=WORK,
)
def restore(
    principal: AnalystDep,
    who: AuditDep,
    desk: CaseworkDep,
    request: Request,
    case_id: CaseId,
    body: CaseRestoreRequest,
) -> CaseActionPublic:
    """``features`` omitted: every restriction in force. 422 when there is nothing to lift."""
    case = workable(desk, principal, case_id)
    need_responder(request)
    with refusals():
        action = desk.restore(
            case.account_id,
            body.reason,
            actor=who.actor,
            role=who.role,
            features=body.features,
            case_id=case_id,
            request_id=who.request_id,
        )
    return action_public(desk, case_id, action)


@router.post(
    "/{case_id}/password-reset",
    summary="End the account's sessions and require a new password (a command)",
    response_model=CaseActionPublic,
    status_code=202,
    responses=WORK,
)
def force_password_reset(
    principal: AnalystDep,
    who: AuditDep,
    desk: CaseworkDep,
    request: Request,
    case_id: CaseId,
    body: PasswordResetRequest,
) -> CaseActionPublic:
    case = workable(desk, principal, case_id)
    need_responder(request)
    with refusals():
        action = desk.force_password_reset(
            case.account_id,
            body.reason,
            actor=who.actor,
            role=who.role,
            case_id=case_id,
            alert_id=case.last_alert_id or None,
            request_id=who.request_id,
        )
    return action_public(desk, case_id, action)
