"""Logging in and out of the console: the login form (``GET /console/login``), pasting a
token (``POST /console/login``: verified, audited, then a signed session cookie) and
``POST /console/logout``. The login form's CSRF value is a random cookie echoed in the
form, since there is no session yet; after logging in the visitor goes back to the
console page they came from (``next``), never to another site.
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.console.auth import (
    FormRefused,
    authenticate_token,
    check_csrf,
    check_origin,
    parse_form,
    visitor,
)
from api.console.pages import HOME, LOGIN_PATH, PAGE_HEADERS, refused, render, to_login
from api.security import request_id
from api.session import LOGIN_COOKIE, SESSION_COOKIE, clear_cookie, read_cookie, set_cookie
from monitor.store import AlertStore

router = APIRouter(prefix="/console", include_in_schema=False)


_NEXT = re.compile(r"^/console/(?!/)[A-Za-z0-9_./?=&%:-]{0,300}$")
_LOGIN_COOKIE_AGE = 3600


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a console path, never another site."""
    return value if value and _NEXT.match(value) else HOME


@router.get("")
def console_home() -> RedirectResponse:
    return RedirectResponse(HOME, status_code=303)


@router.get("/login")
def login_page(
    request: Request, target: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    """The login form; its CSRF value is a random cookie echoed in the form."""
    if visitor(request) is not None:
        return RedirectResponse(safe_next(target), status_code=303)
    return _login_form(request, target=safe_next(target))


def _login_form(
    request: Request, *, target: str, error: str | None = None, status: int = 200
) -> HTMLResponse:
    value = read_cookie(LOGIN_COOKIE, request)
    if not value or len(value) > 64:
        value = secrets.token_urlsafe(24)
    response = render(
        request, "login.html", None, status, login_csrf=value, next=target, error=error
    )
    set_cookie(response, request, LOGIN_COOKIE, value, _LOGIN_COOKIE_AGE)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    """Paste a token (``vigil users create``): verified, then a session cookie."""
    try:
        check_origin(request)
        form = await parse_form(request)
    except FormRefused as exc:
        return refused(request, None, exc.status, exc.message)
    expected = read_cookie(LOGIN_COOKIE, request)
    given = form.get("login_csrf", "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        return _login_form(
            request,
            target=safe_next(form.get("next")),
            error="The login form expired. Paste your token again.",
            status=400,
        )
    return await run_in_threadpool(_login, request, form)


def _login(request: Request, form: dict[str, str]) -> Response:
    found = authenticate_token(request, form.get("token", ""))
    target = safe_next(form.get("next"))
    if found is None:
        return _login_form(
            request,
            target=target,
            error="That token is unknown, revoked, or of a disabled user.",
            status=401,
        )
    principal, break_glass = found
    signer = request.app.state.sessions
    cookie = signer.issue(principal.name, principal.token_id, break_glass=break_glass)
    store: AlertStore = request.app.state.store
    store.audit(
        principal.name,
        principal.role,
        "console_login",
        f"user:{principal.name}",
        after={"token_id": principal.token_id},
        request_id=request_id(request),
    )
    response = RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)
    set_cookie(response, request, SESSION_COOKIE, cookie, int(signer.max_age_s))
    clear_cookie(response, request, LOGIN_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    try:
        check_origin(request)
        who = await run_in_threadpool(visitor, request)
        if who is None:
            return to_login(request)
        check_csrf(request, who, await parse_form(request))
    except FormRefused as exc:
        return refused(request, None, exc.status, exc.message)
    response = RedirectResponse(LOGIN_PATH, status_code=303, headers=PAGE_HEADERS)
    clear_cookie(response, request, SESSION_COOKIE)
    return response
