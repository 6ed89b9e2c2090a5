"""Who is using the console, and whether a form may be trusted.

- A visitor is the principal of a valid session cookie (:mod:`api.session`) whose token is
  still active and whose user is enabled — a revoke or disable ends their sessions at the
  next request. The break-glass admin's session holds a keyed digest of
  ``VIGIL_ADMIN_TOKEN`` and ends when it changes.
- Every form post is checked in this order: Origin (403), session (303 to the login
  page), body type (415), CSRF token (403).
- Forms are ``application/x-www-form-urlencoded`` and parsed here with the standard
  library (``urllib.parse``): that is all the console sends, and it spares a multipart
  parser dependency that would read untrusted bodies for nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.requests import Request

from api.session import SESSION_COOKIE, Session, SessionSigner, read_cookie, same_origin
from monitor.config import Settings
from monitor.store import AlertStore, Principal
from monitor.store.users import ALL_QUEUES, BREAK_GLASS_NAME

__all__ = ["FormRefused", "Visitor", "authenticate_token", "parse_form", "visitor"]

MAX_FIELDS = 20


@dataclass(frozen=True)
class Visitor:
    """A logged-in console user: their principal, session and the session's CSRF token."""

    principal: Principal
    session: Session
    csrf: str


class FormRefused(Exception):
    """A form that is not trusted or not understood: ``status`` and a message for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def signer_of(request: Request) -> SessionSigner:
    signer: SessionSigner = request.app.state.sessions
    return signer


def authenticate_token(request: Request, token: str) -> tuple[Principal, str | None] | None:
    """The principal of a pasted token and what its session keeps of the break-glass token
    (None for a user's token), or None for a token that is not valid."""
    settings: Settings = request.app.state.settings
    store: AlertStore = request.app.state.store
    token = token.strip()
    if not token or len(token) > 256:
        return None
    if settings.admin_token is not None and secrets.compare_digest(
        token.encode(), settings.admin_token.get_secret_value().encode()
    ):
        digest = signer_of(request).break_glass_digest(token)
        return Principal(BREAK_GLASS_NAME, "admin", (ALL_QUEUES,)), digest
    principal = store.authenticate(token)
    return None if principal is None else (principal, None)


def visitor(request: Request) -> Visitor | None:
    """The console user of this request, or None (not logged in, expired, revoked)."""
    cached: Visitor | None = getattr(request.state, "visitor", None)
    if cached is not None:
        return cached
    signer = signer_of(request)
    session = signer.load(read_cookie(SESSION_COOKIE, request))
    if session is None:
        return None
    principal: Principal | None = None
    if session.token_id is None:
        settings: Settings = request.app.state.settings
        admin = settings.admin_token
        if (
            session.user == BREAK_GLASS_NAME
            and admin is not None
            and session.break_glass is not None
            and secrets.compare_digest(
                session.break_glass, signer.break_glass_digest(admin.get_secret_value())
            )
        ):
            principal = Principal(BREAK_GLASS_NAME, "admin", (ALL_QUEUES,))
    else:
        store: AlertStore = request.app.state.store
        principal = store.principal_for_token_id(session.token_id, session.user)
    if principal is None:
        return None
    found = Visitor(principal, session, signer.csrf_token(session))
    request.state.visitor = found
    return found


async def parse_form(request: Request) -> dict[str, str]:
    """The urlencoded form of a POST (the body size is already limited by the app's
    middleware); 415 for another body type, 400 for one that is not a form."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if not body:
        return {}
    if kind != "application/x-www-form-urlencoded":
        raise FormRefused(415, "the console takes forms (application/x-www-form-urlencoded)")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormRefused(400, "the form could not be read") from exc
    return dict(pairs)


def check_origin(request: Request) -> None:
    if not same_origin(request):
        raise FormRefused(403, "form refused: it was not sent from this site (Origin check)")


def check_csrf(request: Request, who: Visitor, form: dict[str, str]) -> None:
    if not signer_of(request).check_csrf(who.session, form.get("csrf")):
        raise FormRefused(403, "form refused: its security token is missing or stale; reload")
