"""The support console's pages: login, the queue, a case (reasons in plain words first,
the timeline, the restrictions, and buttons for each workflow step), an account's risk
view. Server-rendered (Jinja, autoescaped), a little JavaScript from ``/console/static``,
a strict Content-Security-Policy, and every form checked for Origin and CSRF token.

Roles as in the API: viewers read masked pages; analysts work the cases of their queues
(buttons only there, 403 elsewhere) and may reveal a case (audited); admins everything.
Each step goes through the store's :class:`~monitor.store.Casework`, audited with the
visitor as actor and the request id of the request.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment
from starlette.concurrency import run_in_threadpool

from api.case_schemas import reasons_in_words
from api.console.auth import (
    FormRefused,
    Visitor,
    authenticate_token,
    check_csrf,
    check_origin,
    parse_form,
    visitor,
)
from api.console.views import as_view, relative, sparkline
from api.routes.cases import assignable
from api.security import request_id
from api.session import LOGIN_COOKIE, SESSION_COOKIE, clear_cookie, read_cookie, set_cookie
from monitor.responders.cases import CATEGORIES, PRIORITIES
from monitor.store import AlertStore, AuditContext, Casework
from monitor.store.case_records import CONTACT_CHANNELS, VERDICTS
from monitor.store.exceptions import CaseNotFound, InvalidTransition

__all__ = ["CONSOLE_CSP", "router"]

router = APIRouter(prefix="/console", include_in_schema=False)

CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Same-origin referrers, so a form post carries its Origin (with no-referrer, browsers
# send "Origin: null" on POST and the Origin check could not tell friend from foe).
_PAGE_HEADERS = {
    "content-security-policy": CONSOLE_CSP,
    "cache-control": "no-store",
    "referrer-policy": "same-origin",
}
LOGIN_PATH = "/console/login"
HOME = "/console/queue"
_NEXT = re.compile(r"^/console/(?!/)[A-Za-z0-9_./?=&%:-]{0,300}$")
_LOGIN_COOKIE_AGE = 3600
_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")  # case and account ids as the API takes them
DONE = {
    "claim": "You hold this case now.",
    "assign": "Assignment changed.",
    "acknowledge": "Acknowledged: the SLA clock has stopped.",
    "verdict": "Verdict recorded; it goes to the model (wallet.verdicts).",
    "escalate": "Escalated: the case is back in the queue.",
    "note": "Note added.",
    "contact": "Customer contact recorded.",
    "restore": "Restore command issued: the restrictions are lifted.",
    "password-reset": "Password reset command issued.",
}
STEPS = (*DONE, "reveal")


# --- rendering ------------------------------------------------------------------------


def templates(request: Request) -> Environment:
    env: Environment = request.app.state.console_templates
    return env


def render(
    request: Request, name: str, who: Visitor | None, status: int = 200, **context: Any
) -> HTMLResponse:
    """A page, with the console's headers (CSP, no-store, same-origin referrers)."""
    now = datetime.now(UTC)
    page = templates(request).get_template(name)
    html = page.render(
        me=who.principal if who else None,
        csrf=who.csrf if who else "",
        now=now,
        rel=lambda dt: relative(dt, now),
        error=context.pop("error", None),
        notice=context.pop("notice", None),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=_PAGE_HEADERS)


def to_login(request: Request) -> RedirectResponse:
    """303 to the login page, coming back here afterwards (GET pages only)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    query = f"?{urlencode({'next': target})}" if request.method == "GET" else ""
    return RedirectResponse(LOGIN_PATH + query, status_code=303, headers=_PAGE_HEADERS)


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a console path, never another site."""
    return value if value and _NEXT.match(value) else HOME


def refused(request: Request, who: Visitor | None, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", who, status=status, status_code=status, message=message)


# --- login ----------------------------------------------------------------------------


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
    response = RedirectResponse(target, status_code=303, headers=_PAGE_HEADERS)
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
    response = RedirectResponse(LOGIN_PATH, status_code=303, headers=_PAGE_HEADERS)
    clear_cookie(response, request, SESSION_COOKIE)
    return response


# --- pages ----------------------------------------------------------------------------


def desk_of(request: Request) -> Casework:
    desk: Casework = request.app.state.casework
    return desk


def _choice(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


@router.get("/queue")
def queue_page(request: Request) -> Response:
    """The cases to work, most urgent first. Analysts see their queues by default."""
    who = visitor(request)
    if who is None:
        return to_login(request)
    me = who.principal
    params = request.query_params
    queue = _choice(params.get("queue"), CATEGORIES)
    mine = [q for q in me.queues if q in CATEGORIES] if me.role == "analyst" else []
    status = params.get("status", "open")
    status = status if status in ("open", "closed", "any") else "open"
    priority = _choice(params.get("priority"), PRIORITIES)
    holder = _choice(params.get("holder"), ("me", "unassigned"))
    filters = {
        "queue": queue or "",
        "status": status,
        "priority": priority or "",
        "holder": holder or "",
    }
    cursor = params.get("cursor")
    try:
        cases, next_cursor = desk_of(request).list_cases(
            queue=queue or (mine or None),
            status=None if status == "any" else status,
            min_priority=priority,
            assignee=me.name if holder == "me" else None,
            unassigned=holder == "unassigned",
            cursor=cursor[:1000] if cursor else None,
            limit=50,
        )
    except ValueError as exc:  # a stale or tampered cursor
        return refused(request, who, 400, str(exc))
    next_url = None
    if next_cursor is not None:
        next_url = f"{HOME}?{urlencode({**filters, 'cursor': next_cursor})}"
    return render(
        request,
        "queue.html",
        who,
        cases=as_view(cases),
        filters=filters,
        queues=CATEGORIES,
        priorities=PRIORITIES,
        next_url=next_url,
        works={c.case_id: me.works(c.queue) for c in cases},
    )


def case_page(
    request: Request,
    who: Visitor,
    case_id: str,
    *,
    status: int = 200,
    reveal: bool = False,
    error: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    """The case as an agent on a call needs it; ``reveal`` only after the audit row."""
    desk = desk_of(request)
    detail = desk.case_detail(case_id)
    case = detail.case
    me = who.principal
    can_work = me.works(case.queue)
    return render(
        request,
        "case.html",
        who,
        status=status,
        error=error,
        notice=notice,
        case=as_view(case, reveal=reveal),
        reasons=as_view(reasons_in_words(detail.alerts), reveal=reveal),
        alerts=as_view(detail.alerts, reveal=reveal),
        timeline=as_view(list(reversed(detail.timeline)), reveal=reveal),
        restrictions=as_view(detail.restrictions, reveal=reveal),
        actions=as_view(detail.actions, reveal=reveal),
        events=as_view(detail.events, reveal=reveal),
        notes=as_view(detail.notes, reveal=reveal),
        verdicts=as_view(detail.verdicts, reveal=reveal),
        revealed=reveal,
        can_work=can_work,
        is_open=case.status == "open",
        held_by_other=case.assignee not in (None, me.name),
        is_admin=me.role == "admin",
        has_responder=request.app.state.responder is not None,
        verdict_labels=VERDICTS,
        channels=CONTACT_CHANNELS,
        queues=CATEGORIES,
    )


@router.get("/cases/{case_id}")
def case_view(request: Request, case_id: str, done: str | None = None) -> Response:
    who = visitor(request)
    if who is None:
        return to_login(request)
    if not _ID.match(case_id):
        return refused(request, who, 404, "no such case")
    try:
        return case_page(request, who, case_id, notice=DONE.get(done or ""))
    except CaseNotFound as exc:
        return refused(request, who, 404, str(exc))


@router.get("/accounts")
def account_page(request: Request, account_id: str | None = None) -> Response:
    """Look an account up: its restrictions, cases, alert scores over time."""
    who = visitor(request)
    if who is None:
        return to_login(request)
    account = (account_id or "").strip()
    if not account:
        return render(request, "account.html", who, account_id="", view=None, points="")
    if not _ID.match(account):
        return render(
            request,
            "account.html",
            who,
            status=400,
            account_id="",
            view=None,
            points="",
            error="An account id is 1-200 characters without control characters.",
        )
    view = desk_of(request).account_view(account, limit=50)
    if not view.known:
        return render(
            request,
            "account.html",
            who,
            status=404,
            account_id=account,
            view=None,
            points="",
            error=f"Vigil has stored nothing about account {account}: no alert, case or command.",
        )
    return render(
        request,
        "account.html",
        who,
        account_id=account,
        view=as_view(view),
        points=sparkline([p.score for p in view.score_series]),
    )


# --- workflow steps ---------------------------------------------------------------------


@router.post("/cases/{case_id}/{step}")
async def case_step(request: Request, case_id: str, step: str) -> Response:
    """One workflow step from a form of the case page; back to the case page (303) with
    a notice, or the case page with what was refused (403, 409, 422)."""
    try:
        check_origin(request)
        who = await run_in_threadpool(visitor, request)
        if who is None:
            return to_login(request)
        form = await parse_form(request)
        check_csrf(request, who, form)
    except FormRefused as exc:
        return refused(request, None, exc.status, exc.message)
    if step not in STEPS:
        return refused(request, who, 404, f"no step {step!r}")
    if not _ID.match(case_id):
        return refused(request, who, 404, "no such case")
    return await run_in_threadpool(_do_step, request, who, case_id, step, form)


def _do_step(
    request: Request, who: Visitor, case_id: str, step: str, form: dict[str, str]
) -> Response:
    me = who.principal
    desk = desk_of(request)
    try:
        case = desk.get_case(case_id)
    except CaseNotFound as exc:
        return refused(request, who, 404, str(exc))
    if not me.works(case.queue):
        return refused(
            request,
            who,
            403,
            f"case {case_id} is in queue {case.queue}; your queues: "
            f"{', '.join(me.queues) or 'none'}",
        )
    ctx = AuditContext(me.name, me.role, request_id(request))
    if step == "reveal":
        store: AlertStore = request.app.state.store
        store.audit(
            ctx.actor,
            ctx.role,
            "reveal",
            f"case:{case_id}",
            after={"account_id": case.account_id, "reason": form.get("reason") or None},
            request_id=ctx.request_id,
        )
        return case_page(request, who, case_id, reveal=True)
    try:
        STEP_HANDLERS[step](request, desk, ctx, case.case_id, case.account_id, form)
    except InvalidTransition as exc:
        return case_page(request, who, case_id, status=409, error=str(exc))
    except HTTPException as exc:
        return case_page(request, who, case_id, status=exc.status_code, error=str(exc.detail))
    except ValueError as exc:
        return case_page(request, who, case_id, status=422, error=str(exc))
    return RedirectResponse(
        f"/console/cases/{case_id}?{urlencode({'done': step})}",
        status_code=303,
        headers=_PAGE_HEADERS,
    )


def _flag(form: dict[str, str], name: str) -> bool:
    return form.get(name) in ("1", "on", "true", "yes")


def _force(ctx: AuditContext, form: dict[str, str]) -> bool:
    if not _flag(form, "force"):
        return False
    if ctx.role != "admin":
        raise HTTPException(403, "taking over a case someone else holds is for admins")
    return True


def _need_responder(request: Request) -> None:
    if request.app.state.responder is None:
        raise HTTPException(503, "this process has no playbooks loaded: cannot plan commands")


Step = Callable[[Request, Casework, AuditContext, str, str, dict[str, str]], object]


def _claim(
    r: Request, d: Casework, c: AuditContext, case: str, _: str, f: dict[str, str]
) -> object:
    return d.claim(case, actor=c.actor, role=c.role, request_id=c.request_id, force=_force(c, f))


def _assign(
    r: Request, d: Casework, c: AuditContext, case: str, _: str, f: dict[str, str]
) -> object:
    to = f.get("to", "").strip() or None
    if to is not None:
        store: AlertStore = r.app.state.store
        assignable(store, to, d.get_case(case).queue)
    return d.assign(case, to, actor=c.actor, role=c.role, request_id=c.request_id)


def _ack(r: Request, d: Casework, c: AuditContext, case: str, _: str, f: dict[str, str]) -> object:
    return d.acknowledge(
        case, actor=c.actor, role=c.role, request_id=c.request_id, force=_force(c, f)
    )


def _verdict(
    r: Request, d: Casework, c: AuditContext, case: str, _: str, f: dict[str, str]
) -> object:
    restore = _flag(f, "restore")
    if restore:
        _need_responder(r)
    return d.give_verdict(
        case,
        f.get("verdict", ""),
        f.get("note", ""),
        actor=c.actor,
        role=c.role,
        request_id=c.request_id,
        restore=restore,
        force=_force(c, f),
    )


def _escalate(
    r: Request, d: Casework, c: AuditContext, case: str, _: str, f: dict[str, str]
) -> object:
    return d.escalate(
        case,
        f.get("reason", ""),
        actor=c.actor,
        role=c.role,
        to_queue=f.get("to_queue") or None,
        request_id=c.request_id,
        force=_force(c, f),
    )


def _note(r: Request, d: Casework, c: AuditContext, case: str, _: str, f: dict[str, str]) -> object:
    return d.add_note(case, f.get("text", ""), actor=c.actor, role=c.role, request_id=c.request_id)


def _contact(
    r: Request, d: Casework, c: AuditContext, case: str, _: str, f: dict[str, str]
) -> object:
    return d.record_contact(
        case,
        f.get("channel", ""),
        f.get("summary", ""),
        _flag(f, "identity_verified"),
        actor=c.actor,
        role=c.role,
        request_id=c.request_id,
    )


def _restore(
    r: Request, d: Casework, c: AuditContext, case: str, account: str, f: dict[str, str]
) -> object:
    _need_responder(r)
    return d.restore(
        account,
        f.get("reason", ""),
        actor=c.actor,
        role=c.role,
        case_id=case,
        request_id=c.request_id,
    )


def _password_reset(
    r: Request, d: Casework, c: AuditContext, case: str, account: str, f: dict[str, str]
) -> object:
    _need_responder(r)
    return d.force_password_reset(
        account,
        f.get("reason", ""),
        actor=c.actor,
        role=c.role,
        case_id=case,
        request_id=c.request_id,
    )


STEP_HANDLERS: dict[str, Step] = {
    "claim": _claim,
    "assign": _assign,
    "acknowledge": _ack,
    "verdict": _verdict,
    "escalate": _escalate,
    "note": _note,
    "contact": _contact,
    "restore": _restore,
    "password-reset": _password_reset,
}
