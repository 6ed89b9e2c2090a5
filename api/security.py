"""Who is calling, and may they: bearer tokens to a :class:`Principal`, and one
dependency per minimum role (docs/security.md).

- no token, or one that is not an active token of an enabled user: **401** with
  ``WWW-Authenticate: Bearer``;
- a valid token whose role is below the route's: **403** saying which role it takes;
- ``VIGIL_ADMIN_TOKEN``, when set, is a break-glass admin named ``admin-token``.

Tokens are resolved through the store (``vigil users create``); nothing here is global.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from monitor.config import Settings
from monitor.store import AlertStore, AuditContext, Principal
from monitor.store.users import ALL_QUEUES, BREAK_GLASS_NAME, ROLES

__all__ = [
    "AdminDep",
    "AnalystDep",
    "AuditDep",
    "DocsDep",
    "Principal",
    "PrincipalDep",
    "ProbeDep",
    "ViewerDep",
    "authenticate",
    "request_id",
    "require",
    "viewer_unless",
]

# A request id we echo back must be safe in a header and in a log line.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_bearer = HTTPBearer(
    auto_error=False,
    description="A personal token from `vigil users create` (or VIGIL_ADMIN_TOKEN)",
)


def request_id(request: Request) -> str:
    """The caller's ``X-Request-ID`` when it is sane, else a new one; the same for the
    whole request (the headers middleware echoes it in the response)."""
    known: str | None = getattr(request.state, "request_id", None)
    if known is None:
        known = clean_request_id(request.headers.get("x-request-id"))
        request.state.request_id = known
    return known


def clean_request_id(value: str | None) -> str:
    """``value`` if it is a usable request id, else a fresh one.

    >>> clean_request_id("r-42"), len(clean_request_id("bad id\\n"))
    ('r-42', 32)
    """
    if value is not None and _REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


def _unauthorized(message: str, error: str | None = None) -> HTTPException:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return HTTPException(401, message, headers={"WWW-Authenticate": challenge})


def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller's principal, or 401. Runs in a worker thread (a store round trip)."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    if credentials is None:
        raise _unauthorized("a bearer token is required (Authorization: Bearer vgl_…)")
    token = credentials.credentials
    settings: Settings = request.app.state.settings
    store: AlertStore = request.app.state.store
    principal: Principal | None = None
    if settings.admin_token is not None and secrets.compare_digest(
        token.encode(), settings.admin_token.get_secret_value().encode()
    ):
        principal = Principal(BREAK_GLASS_NAME, "admin", (ALL_QUEUES,))
    else:
        principal = store.authenticate(token)
    if principal is None:
        raise _unauthorized("unknown or revoked token, or a disabled user", "invalid_token")
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def require(role: str) -> Callable[[Principal], Principal]:
    """A dependency admitting principals of ``role`` or above (403 for the others)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")

    def dependency(principal: PrincipalDep) -> Principal:
        if not principal.at_least(role):
            raise HTTPException(
                403, f"this needs the {role} role; {principal.name} has the {principal.role} role"
            )
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


ViewerDep = Annotated[Principal, Depends(require("viewer"))]
AnalystDep = Annotated[Principal, Depends(require("analyst"))]
AdminDep = Annotated[Principal, Depends(require("admin"))]


def audit_context(principal: PrincipalDep, request: Request) -> AuditContext:
    """Who is changing something, for the audit row: the caller and the request id."""
    return AuditContext(principal.name, principal.role, request_id(request))


AuditDep = Annotated[AuditContext, Depends(audit_context)]


def viewer_unless(setting: str) -> Callable[..., Principal | None]:
    """A dependency that needs any valid token (a viewer's will do), unless the boolean
    setting ``setting`` makes the route public (``public_probes``, ``public_docs``)."""
    if setting not in Settings.model_fields:
        raise ValueError(f"no setting {setting!r}")

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal | None:
        settings: Settings = request.app.state.settings
        if getattr(settings, setting):
            return None
        return authenticate(request, credentials)

    dependency.__name__ = f"viewer_unless_{setting}"
    return dependency


ProbeDep = Annotated[Principal | None, Depends(viewer_unless("public_probes"))]
DocsDep = Annotated[Principal | None, Depends(viewer_unless("public_docs"))]
