"""Closing cases with a verdict: ``POST /v1/cases/{id}/verdict`` (analysts of its queue)
and ``POST /v1/cases/bulk/verdict`` (admins: one verdict for many cases, each in its own
audited transaction). Every verdict sends one ``wallet.verdicts`` message per alert of the
case through the outbox, so the model learns from it.

The bulk route comes first: ``/{case_id}/verdict`` would take ``bulk`` for a case id."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.case_schemas import (
    BulkOutcomePublic,
    BulkVerdictPublic,
    BulkVerdictRequest,
    CaseStepPublic,
    VerdictRequest,
)
from api.deps import AdminDep, AnalystDep, AuditDep, CaseworkDep
from api.masking import MaskedRoute
from api.routes.cases.access import WORK, CaseId, need_responder, refusals, step_public, workable
from monitor.store.exceptions import CaseNotFound, InvalidTransition

router = APIRouter(prefix="/v1/cases", tags=["cases"], route_class=MaskedRoute)


@router.post(
    "/bulk/verdict",
    summary="One verdict for many cases (admins): each case on its own, audited",
    response_model=BulkVerdictPublic,
    responses=WORK,
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
    responses=WORK,
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
    return step_public(desk, event)
