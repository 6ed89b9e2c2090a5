"""``/v1/cases``: support cases — list them (most urgent first), read one with everything
an agent needs, and work it: claim, assign, acknowledge, verdict, escalate, note, customer
contact, restore payment features, force a password reset.

Viewers read (masked). Analysts work the cases of their queues (403 elsewhere); taking
over a case someone else holds (``force``) is for admins. Every step goes through
:class:`~monitor.store.Casework`, which writes the case's history, the audit row (actor,
role and request id of the caller) and, for a verdict, one ``wallet.verdicts`` message per
alert. Unknown case: 404; a step the case's state does not allow: 409; a bad argument: 422.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query, Request

from api.case_schemas import (
    MAX_CASE_PAGE,
    ActionPublic,
    AssignRequest,
    BulkOutcomePublic,
    BulkVerdictPublic,
    BulkVerdictRequest,
    CaseActionPublic,
    CaseAlertPublic,
    CaseDetailPublic,
    CaseEventPublic,
    CasePublic,
    CaseRestoreRequest,
    CasesPublic,
    CasesQuery,
    CaseStepPublic,
    ClaimRequest,
    ContactCreate,
    EscalateRequest,
    ForceRequest,
    NoteCreate,
    PasswordResetRequest,
    RestrictionPublic,
    RevealRequest,
    TimelineEntryPublic,
    VerdictRequest,
    reasons_in_words,
)
from api.deps import AdminDep, AnalystDep, AuditDep, CaseworkDep, StoreDep, ViewerDep
from api.masking import MaskedRoute, mark_revealed
from api.schemas import NO_CONTROL, ErrorPublic
from monitor.store import AlertStore, Casework, Principal
from monitor.store.case_records import CaseDetail, CaseEvent, CaseSummary
from monitor.store.exceptions import CaseNotFound, InvalidTransition

router = APIRouter(prefix="/v1/cases", tags=["cases"], route_class=MaskedRoute)

CaseId = Annotated[str, Path(max_length=200, pattern=NO_CONTROL, description="case_…")]

_READ: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorPublic, "description": "no such case"},
    503: {"model": ErrorPublic, "description": "database unavailable"},
}
_WORK: dict[int | str, dict[str, Any]] = {
    **_READ,
    403: {"model": ErrorPublic, "description": "viewer, not one of your queues, or force"},
    409: {"model": ErrorPublic, "description": "the case's state does not allow this step"},
    422: {"model": ErrorPublic, "description": "a bad argument, with what is wrong"},
}


@contextmanager
def refusals() -> Iterator[None]:
    """A store ``ValueError`` (bad argument) as 422 with its message; ``CaseNotFound`` and
    ``InvalidTransition`` go to the app's handlers (404, 409)."""
    try:
        yield
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


def workable(
    desk: Casework, principal: Principal, case_id: str, *, force: bool = False
) -> CaseSummary:
    """The case, if ``principal`` may work it: an analyst of its queue or an admin; only
    admins may ``force`` (take over a case someone else holds). Else 403."""
    case = desk.get_case(case_id)
    if not principal.works(case.queue):
        mine = ", ".join(principal.queues) or "none"
        raise HTTPException(403, f"case {case_id} is in queue {case.queue}; your queues: {mine}")
    if force and principal.role != "admin":
        raise HTTPException(403, "taking over a case someone else holds (force) is for admins")
    return case


def assignable(store: AlertStore, name: str, queue: str) -> None:
    """422 unless ``name`` is an enabled user who works ``queue`` (an analyst of it or
    an admin): a case is only given to someone who may work it."""
    user = next((u for u in store.list_users() if u.name == name), None)
    if user is None or user.disabled:
        raise HTTPException(422, f"no enabled user {name!r}")
    if not Principal(user.name, user.role, tuple(user.queues)).works(queue):
        raise HTTPException(422, f"{name} does not work queue {queue}")


def need_responder(request: Request) -> None:
    if request.app.state.responder is None:
        raise HTTPException(503, "this process has no playbooks loaded: cannot plan commands")


def detail_public(detail: CaseDetail) -> CaseDetailPublic:
    """The store's case detail as the API answers it."""
    return CaseDetailPublic(
        case=CasePublic.model_validate(detail.case),
        reasons=reasons_in_words(detail.alerts),
        alerts=[CaseAlertPublic.model_validate(a) for a in detail.alerts],
        timeline=[TimelineEntryPublic.model_validate(t) for t in detail.timeline],
        restrictions=[RestrictionPublic.model_validate(r) for r in detail.restrictions],
        recent_responses=dict(detail.recent_responses),
        actions=[ActionPublic.model_validate(a) for a in detail.actions],
        events=[CaseEventPublic.model_validate(e) for e in detail.events],
        notes=[CaseEventPublic.model_validate(e) for e in detail.notes],
        verdicts=[CaseEventPublic.model_validate(e) for e in detail.verdicts],
    )


def _step(desk: Casework, event: CaseEvent) -> CaseStepPublic:
    return CaseStepPublic(
        event=CaseEventPublic.model_validate(event),
        case=CasePublic.model_validate(desk.get_case(event.case_id)),
    )


@router.get(
    "",
    summary="List cases, most urgent first (priority, then SLA due time)",
    response_model=CasesPublic,
    responses={422: {"model": ErrorPublic, "description": "a bad filter or cursor"}},
)
def list_cases(
    _: ViewerDep, desk: CaseworkDep, query: Annotated[CasesQuery, Query()]
) -> CasesPublic:
    """Cases matching every given filter, sorted by priority (P1 first), then SLA due
    time, then case id. Follow ``next_cursor`` (pass it as ``cursor``) until it is null;
    a page starts strictly after the previous one's last case, so cases opened meanwhile
    never shift pages. Personal data is masked."""
    limit = min(query.limit, MAX_CASE_PAGE)
    with refusals():
        cases, next_cursor = desk.list_cases(
            queue=query.queue,
            status=query.status,
            min_priority=query.min_priority,
            min_severity=query.min_severity,
            rule_id=query.rule_id,
            account_id=query.account_id,
            assignee=query.assignee,
            unassigned=query.unassigned,
            since=query.since,
            until=query.until,
            cursor=query.cursor,
            limit=limit,
        )
    return CasesPublic(
        data=[CasePublic.model_validate(c) for c in cases], limit=limit, next_cursor=next_cursor
    )


@router.get(
    "/{case_id}",
    summary="One case: reasons, alerts, the account's timeline, restrictions, commands, "
    "notes, verdicts",
    response_model=CaseDetailPublic,
    responses=_READ,
)
def get_case(_: ViewerDep, desk: CaseworkDep, case_id: CaseId) -> CaseDetailPublic:
    """``reasons`` first (plain words, most severe alert first), then the case's alerts
    with their explanations, the account's recent history as a timeline (flagged events
    marked ``unusual``), the restrictions in force with their expiry, the commands issued
    with their delivery, the case's steps, notes and the account's verdicts (masked)."""
    return detail_public(desk.case_detail(case_id))


@router.post(
    "/{case_id}/reveal",
    summary="One case with its personal data unmasked (analysts of its queue; audited)",
    response_model=CaseDetailPublic,
    responses=_WORK,
)
def reveal_case(
    principal: AnalystDep,
    who: AuditDep,
    store: StoreDep,
    desk: CaseworkDep,
    request: Request,
    case_id: CaseId,
    body: Annotated[RevealRequest | None, Body()] = None,
) -> CaseDetailPublic:
    """An ``audit_log`` row (action ``reveal``, target ``case:{id}``) is written first."""
    case = workable(desk, principal, case_id)
    store.audit(
        who.actor,
        who.role,
        "reveal",
        f"case:{case_id}",
        after={"account_id": case.account_id, "reason": body.reason if body else None},
        request_id=who.request_id,
    )
    mark_revealed(request)
    return detail_public(desk.case_detail(case_id))


@router.post(
    "/{case_id}/claim",
    summary="Take the case (analysts of its queue)",
    response_model=CaseStepPublic,
    responses=_WORK,
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
    return _step(desk, event)


@router.post(
    "/{case_id}/assign",
    summary="Give the case to someone, or back to the queue (analysts of its queue)",
    response_model=CaseStepPublic,
    responses=_WORK,
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
    return _step(desk, event)


@router.post(
    "/{case_id}/acknowledge",
    summary="First response: stops the SLA clock (analysts of its queue)",
    response_model=CaseStepPublic,
    responses=_WORK,
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
    return _step(desk, event)


@router.post(
    "/bulk/verdict",
    summary="One verdict for many cases (admins): each case on its own, audited",
    response_model=BulkVerdictPublic,
    responses=_WORK,
)
def bulk_verdict(
    _: AdminDep,
    who: AuditDep,
    desk: CaseworkDep,
    request: Request,
    body: BulkVerdictRequest,
) -> BulkVerdictPublic:
    """Each case gets the verdict in a transaction of its own, exactly as
    ``POST /v1/cases/{id}/verdict`` would give it (audit row, ``wallet.verdicts``
    messages); a case that cannot take it (unknown, closed, held by someone else without
    ``force``) is reported with the status and message the single route would answer,
    and the others go on."""
    if body.restore:
        need_responder(request)
    outcomes: list[BulkOutcomePublic] = []
    for case_id in dict.fromkeys(body.case_ids):  # each once, in the order given
        try:
            desk.give_verdict(
                case_id,
                body.verdict,
                body.note,
                actor=who.actor,
                role=who.role,
                request_id=f"{who.request_id}:{case_id}" if who.request_id else None,
                restore=body.restore,
                force=body.force,
            )
        except CaseNotFound as exc:
            outcomes.append(
                BulkOutcomePublic(case_id=case_id, ok=False, status=404, detail=str(exc))
            )
        except InvalidTransition as exc:
            outcomes.append(
                BulkOutcomePublic(case_id=case_id, ok=False, status=409, detail=str(exc))
            )
        except ValueError as exc:
            outcomes.append(
                BulkOutcomePublic(case_id=case_id, ok=False, status=422, detail=str(exc))
            )
        else:
            outcomes.append(BulkOutcomePublic(case_id=case_id, ok=True, status=200))
    done = sum(o.ok for o in outcomes)
    return BulkVerdictPublic(done=done, refused=len(outcomes) - done, outcomes=outcomes)


@router.post(
    "/{case_id}/verdict",
    summary="Close the case with a verdict and a note; published to wallet.verdicts",
    response_model=CaseStepPublic,
    responses=_WORK,
)
def verdict(
    principal: AnalystDep,
    who: AuditDep,
    desk: CaseworkDep,
    request: Request,
    case_id: CaseId,
    body: VerdictRequest,
) -> CaseStepPublic:
    """``fraud`` | ``legitimate`` | ``inconclusive``. One ``wallet.verdicts`` message per
    alert of the case goes through the outbox in the same transaction (the model learns
    from it). ``restore`` (legitimate only) lifts the account's restrictions too."""
    workable(desk, principal, case_id, force=body.force)
    if body.restore:
        need_responder(request)
    with refusals():
        event = desk.give_verdict(
            case_id,
            body.verdict,
            body.note,
            actor=who.actor,
            role=who.role,
            request_id=who.request_id,
            restore=body.restore,
            force=body.force,
        )
    return _step(desk, event)


@router.post(
    "/{case_id}/escalate",
    summary="Hand the case up: more urgent, back to the queue, maybe another queue",
    response_model=CaseStepPublic,
    responses=_WORK,
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
    return _step(desk, event)


@router.post(
    "/{case_id}/notes",
    summary="Add a note (append-only; open or closed case)",
    response_model=CaseStepPublic,
    status_code=201,
    responses=_WORK,
)
def add_note(
    principal: AnalystDep, who: AuditDep, desk: CaseworkDep, case_id: CaseId, body: NoteCreate
) -> CaseStepPublic:
    workable(desk, principal, case_id)
    with refusals():
        event = desk.add_note(
            case_id, body.text, actor=who.actor, role=who.role, request_id=who.request_id
        )
    return _step(desk, event)


@router.post(
    "/{case_id}/contacts",
    summary="Record a conversation with the customer",
    response_model=CaseStepPublic,
    status_code=201,
    responses=_WORK,
)
def record_contact(
    principal: AnalystDep, who: AuditDep, desk: CaseworkDep, case_id: CaseId, body: ContactCreate
) -> CaseStepPublic:
    workable(desk, principal, case_id)
    with refusals():
        event = desk.record_contact(
            case_id,
            body.channel,
            body.summary,
            body.identity_verified,
            actor=who.actor,
            role=who.role,
            request_id=who.request_id,
        )
    return _step(desk, event)


@router.post(
    "/{case_id}/restore",
    summary="Lift the account's payment restrictions (a command through the outbox)",
    response_model=CaseActionPublic,
    status_code=202,
    responses=_WORK,
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
    return CaseActionPublic(
        action=ActionPublic.model_validate(action),
        case=CasePublic.model_validate(desk.get_case(case_id)),
    )


@router.post(
    "/{case_id}/password-reset",
    summary="End the account's sessions and require a new password (a command)",
    response_model=CaseActionPublic,
    status_code=202,
    responses=_WORK,
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
    return CaseActionPublic(
        action=ActionPublic.model_validate(action),
        case=CasePublic.model_validate(desk.get_case(case_id)),
    )
