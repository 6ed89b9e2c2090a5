"""``/v1/accounts``: look an account up and read its risk view (viewers, masked), and lift
its payment restrictions: a restore command through the outbox, audited with the
authenticated caller as the actor — analysts of the queues whose playbooks freeze
payments (``account_security``, ``payments``) and admins may.

Vigil stores decisions, not a customer register: an account it has stored nothing about
(no alert, case or command) is 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from api.case_schemas import (
    MAX_CASE_PAGE,
    AccountPublic,
    AccountRiskPublic,
    CasePublic,
    RestrictionPublic,
)
from api.deps import AnalystDep, AuditDep, CaseworkDep, StoreDep, ViewerDep
from api.masking import MaskedRoute
from api.schemas import NO_CONTROL, ErrorPublic
from monitor.store import Casework
from monitor.store.case_records import AccountView

router = APIRouter(prefix="/v1/accounts", tags=["accounts"], route_class=MaskedRoute)

RESTORE_QUEUES = ("account_security", "payments")
AccountId = Annotated[str, Path(max_length=200, pattern=NO_CONTROL)]
_UNKNOWN: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorPublic, "description": "Vigil has stored nothing about this account"}
}


def known_account(desk: Casework, account_id: str, limit: int = 100) -> AccountView:
    """The account's risk view, or 404 when nothing is stored about it."""
    view = desk.account_view(account_id, limit=limit)
    if not view.known:
        raise HTTPException(
            404, f"no alert, case or command for account {account_id}: nothing to show"
        )
    return view


@router.get(
    "/{account_id}",
    summary="Look an account up: open cases, restrictions in force, latest alert",
    response_model=AccountPublic,
    responses=_UNKNOWN,
)
def get_account(_: ViewerDep, desk: CaseworkDep, account_id: AccountId) -> AccountPublic:
    view = known_account(desk, account_id)
    last = view.alerts[0] if view.alerts else None
    return AccountPublic(
        account_id=account_id,
        open_cases=[CasePublic.model_validate(c) for c in view.cases if c.status == "open"],
        restrictions=[RestrictionPublic.model_validate(r) for r in view.restrictions],
        alert_count=len(view.score_series),
        last_alert_at=last.event_time if last else None,
        last_score=last.score if last else None,
        last_verdict=str(view.verdicts[0].body.get("verdict")) if view.verdicts else None,
    )


@router.get(
    "/{account_id}/risk",
    summary="An account's risk view: scores over time, alerts, cases, restrictions, commands",
    response_model=AccountRiskPublic,
    responses=_UNKNOWN,
)
def account_risk(
    _: ViewerDep,
    desk: CaseworkDep,
    account_id: AccountId,
    limit: Annotated[
        int, Query(ge=1, description=f"alerts, cases, commands and verdicts (<= {MAX_CASE_PAGE})")
    ] = 100,
) -> AccountRiskPublic:
    """``score_series`` holds every stored alert's scores, oldest first (up to 500); the
    lists are newest first. Personal data is masked."""
    view = known_account(desk, account_id, min(limit, MAX_CASE_PAGE))
    return AccountRiskPublic.model_validate(view)


class RestoreRequest(BaseModel):
    reason: str = Field(min_length=3, max_length=1000)
    features: list[str] | None = Field(
        None, description="features to lift; omitted: every restriction in force"
    )


class RestorePublic(BaseModel):
    action_id: str
    account_id: str
    features: list[str]
    reason: str


@router.post(
    "/{account_id}/restore",
    summary="Lift payment restrictions (analysts of account_security or payments; audited)",
    response_model=RestorePublic,
    status_code=202,
    responses={403: {"model": ErrorPublic, "description": "viewer, or not your queues"}},
)
def restore(
    account_id: AccountId,
    body: RestoreRequest,
    principal: AnalystDep,
    who: AuditDep,
    store: StoreDep,
    request: Request,
) -> RestorePublic:
    if not any(principal.works(q) for q in RESTORE_QUEUES):
        raise HTTPException(
            403,
            f"lifting restrictions is work of the {' or '.join(RESTORE_QUEUES)} queue; "
            f"your queues: {', '.join(principal.queues) or 'none'}",
        )
    responder: Any = request.app.state.responder
    if responder is None:
        raise HTTPException(503, "this process has no playbooks loaded: cannot plan a restore")
    try:
        action = store.restore(
            responder,
            account_id,
            features=body.features,
            reason=body.reason,
            actor=who.actor,
            role=who.role,
            request_id=who.request_id,
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return RestorePublic(
        action_id=action.action_id,
        account_id=account_id,
        features=list(action.feature_names),
        reason=action.reason,
    )
