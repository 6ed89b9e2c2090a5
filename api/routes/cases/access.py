"""What the ``/v1/cases`` routes share: the case id path parameter, the error answers
they document, who may work a case (:func:`workable`: an analyst of its queue or an admin;
:func:`assignable`: whom it may be given to), the responder that commands need, how a
store ``ValueError`` answers (422), and a step's answer (the step and the case after it).
The console's case page asks the same questions (:mod:`api.console.case_actions`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import HTTPException, Path, Request

from api.case_schemas import CaseEventPublic, CasePublic, CaseStepPublic
from api.schemas import NO_CONTROL, ErrorPublic
from monitor.store import AlertStore, Casework, Principal
from monitor.store.case_records import CaseEvent, CaseSummary

CaseId = Annotated[str, Path(max_length=200, pattern=NO_CONTROL, description="case_…")]

READ: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorPublic, "description": "no such case"},
    503: {"model": ErrorPublic, "description": "database unavailable"},
}
WORK: dict[int | str, dict[str, Any]] = {
    **READ,
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
    """503 unless this process has the playbooks loaded (a responder to plan commands)."""
    if request.app.state.responder is None:
        raise HTTPException(503, "this process has no playbooks loaded: cannot plan commands")


def step_public(desk: Casework, event: CaseEvent) -> CaseStepPublic:
    """A step's answer: the step recorded and the case after it."""
    return CaseStepPublic(
        event=CaseEventPublic.model_validate(event),
        case=CasePublic.model_validate(desk.get_case(event.case_id)),
    )
