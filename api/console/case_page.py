"""A case (``GET /console/cases/{id}``) as an agent on a call needs it: the reasons in
plain words first, then its alerts, the account's timeline, the restrictions in force,
the commands issued, the case's steps, notes and verdicts, and a form for each workflow
step the visitor may take (:mod:`api.console.case_actions`). Masked unless revealed (an
audited step); after a step, the notice in :data:`DONE` says what it did.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.case_schemas import reasons_in_words
from api.console.auth import Visitor, visitor
from api.console.pages import ID, desk_of, refused, render, to_login
from api.console.views import as_view
from monitor.responders.cases import CATEGORIES
from monitor.store.case_records import CONTACT_CHANNELS, VERDICTS
from monitor.store.exceptions import CaseNotFound

router = APIRouter(prefix="/console", include_in_schema=False)


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
    if not ID.match(case_id):
        return refused(request, who, 404, "no such case")
    try:
        return case_page(request, who, case_id, notice=DONE.get(done or ""))
    except CaseNotFound as exc:
        return refused(request, who, 404, str(exc))
