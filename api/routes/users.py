"""``/v1/users``: admins manage people and their tokens (every change audited). A token
is in the answer that creates it and nowhere else, ever."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, Field

from api.deps import AdminDep, AuditDep, StoreDep
from api.masking import MaskedRoute, mark_revealed
from api.schemas import NO_CONTROL, ErrorPublic
from monitor.store import UnknownUser, UserExists, UserRecord

router = APIRouter(prefix="/v1/users", tags=["users"], route_class=MaskedRoute)

UserName = Annotated[str, Path(max_length=64, pattern=NO_CONTROL)]
_NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorPublic, "description": "no such user"}
}


class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64, description="a-z 0-9 . _ -")
    role: Literal["viewer", "analyst", "admin"]
    queues: list[str] | None = Field(
        None, description="analysts: account_security, payments, topup, ops, or ['*']"
    )


class UserPublic(BaseModel):
    name: str
    role: str
    queues: list[str]
    created_at: datetime
    disabled: bool
    active_tokens: int
    last_used_at: datetime | None


class UsersPublic(BaseModel):
    data: list[UserPublic]
    count: int


class TokenPublic(BaseModel):
    name: str
    token: str = Field(description="shown once: store it now")


class RevokedPublic(BaseModel):
    name: str
    revoked: int = Field(description="tokens revoked")


def _public(user: UserRecord) -> UserPublic:
    return UserPublic(**{f: getattr(user, f) for f in UserPublic.model_fields})


@router.get("", summary="Users and their token use (admin)", response_model=UsersPublic)
def list_users(_: AdminDep, store: StoreDep) -> UsersPublic:
    data = [_public(u) for u in store.list_users()]
    return UsersPublic(data=data, count=len(data))


@router.post(
    "",
    summary="Create a user and their first token (admin)",
    response_model=TokenPublic,
    status_code=201,
    responses={409: {"model": ErrorPublic, "description": "the name is taken"}},
)
def create_user(
    body: UserCreate, _: AdminDep, who: AuditDep, store: StoreDep, request: Request
) -> TokenPublic:
    try:
        user, token = store.create_user(body.name, body.role, body.queues, by=who)
    except UserExists as exc:
        raise HTTPException(409, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    mark_revealed(request)  # the token goes out exactly as issued
    return TokenPublic(name=user.name, token=token)


@router.post(
    "/{name}/tokens",
    summary="Issue another token (admin)",
    response_model=TokenPublic,
    status_code=201,
    responses=_NOT_FOUND,
)
def issue_token(
    name: UserName, _: AdminDep, who: AuditDep, store: StoreDep, request: Request
) -> TokenPublic:
    try:
        token = store.issue_token(name, by=who)
    except UnknownUser as exc:
        raise HTTPException(404, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from exc
    mark_revealed(request)
    return TokenPublic(name=name, token=token)


@router.post(
    "/{name}/revoke",
    summary="Revoke every token of a user (admin)",
    response_model=RevokedPublic,
    responses=_NOT_FOUND,
)
def revoke_tokens(name: UserName, _: AdminDep, who: AuditDep, store: StoreDep) -> RevokedPublic:
    try:
        return RevokedPublic(name=name, revoked=store.revoke_tokens(name, by=who))
    except UnknownUser as exc:
        raise HTTPException(404, str(exc)) from exc


@router.post(
    "/{name}/disable",
    summary="Disable a user for good, revoking their tokens (admin)",
    status_code=204,
    response_class=Response,
    responses=_NOT_FOUND,
)
def disable_user(name: UserName, _: AdminDep, who: AuditDep, store: StoreDep) -> Response:
    try:
        store.disable_user(name, by=who)
    except UnknownUser as exc:
        raise HTTPException(404, str(exc)) from exc
    return Response(status_code=204)
