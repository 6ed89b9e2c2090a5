"""The workflow steps from the case page's forms (``POST /console/cases/{id}/{step}``):
claim, assign, acknowledge, verdict, escalate, note, customer contact, restore, password
reset, and reveal (an audit row, then the case unmasked). Each form is checked for Origin,
session and CSRF token; the visitor must work the case's queue (403 elsewhere) and only
admins may ``force``. Each step goes through the store's
:class:`~monitor.store.Casework`, audited with the visitor as actor and the request id of
the request; then back to the case page (303) with a notice, or the case page with what
was refused (403, 409, 422, 503).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.console.auth import FormRefused, Visitor, check_csrf, check_origin, parse_form, visitor
from api.console.case_page import DONE, case_page
from api.console.pages import ID, PAGE_HEADERS, desk_of, refused, to_login
from api.routes.cases.access import assignable, need_responder
from api.security import request_id
from monitor.store import AlertStore, AuditContext, Casework
from monitor.store.exceptions import CaseNotFound, InvalidTransition

router = APIRouter(prefix="/console", include_in_schema=False)


STEPS = (*DONE, "reveal")


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
    if not ID.match(case_id):
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
        headers=PAGE_HEADERS,
    )


def _flag(form: dict[str, str], name: str) -> bool:
    return form.get(name) in ("1", "on", "true", "yes")


def _force(ctx: AuditContext, form: dict[str, str]) -> bool:
    if not _flag(form, "force"):
        return False
    if ctx.role != "admin":
        raise HTTPException(403, "taking over a case someone else holds is for admins")
    return True


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
        need_responder(r)
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


def _account_command(pick: Callable[[Casework], Callable[..., object]]) -> Step:
    """A step that sends a command for the case's account (the desk's ``restore`` or
    ``force_password_reset``, as ``pick`` chooses), with the form's reason; both need the
    responder (playbooks)."""

    def step(
        r: Request, d: Casework, c: AuditContext, case: str, account: str, f: dict[str, str]
    ) -> object:
        need_responder(r)
        return pick(d)(
            account,
            f.get("reason", ""),
            actor=c.actor,
            role=c.role,
            case_id=case,
            request_id=c.request_id,
        )

    return step


_restore = _account_command(lambda d: d.restore)
_password_reset = _account_command(lambda d: d.force_password_reset)


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
