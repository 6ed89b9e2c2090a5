"""Support lifts an account's payment restrictions: a restore command through the outbox,
audited. (Roles and users come with the console; today: the admin token.)"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from pydantic import BaseModel, Field

from api.deps import AdminDep, StoreDep

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


class RestoreRequest(BaseModel):
    reason: str = Field(min_length=3, max_length=1000)
    features: list[str] | None = Field(
        None, description="features to lift; omitted: every restriction in force"
    )
    actor: str = Field(
        "admin", min_length=1, max_length=128, description="who lifts them (audited)"
    )


class RestorePublic(BaseModel):
    action_id: str
    account_id: str
    features: list[str]
    reason: str


@router.post(
    "/{account_id}/restore",
    summary="Lift payment restrictions (audited)",
    response_model=RestorePublic,
    status_code=202,
)
def restore(
    account_id: str,
    body: RestoreRequest,
    _: AdminDep,
    store: StoreDep,
    request: Request,
    x_request_id: Annotated[str | None, Header()] = None,
) -> RestorePublic:
    responder: Any = request.app.state.responder
    if responder is None:
        raise HTTPException(503, "this process has no playbooks loaded: cannot plan a restore")
    try:
        action = store.restore(
            responder,
            account_id,
            features=body.features,
            reason=body.reason,
            actor=body.actor,
            role="admin",
            request_id=x_request_id,
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return RestorePublic(
        action_id=action.action_id,
        account_id=account_id,
        features=list(action.feature_names),
        reason=action.reason,
    )
