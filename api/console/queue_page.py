"""The queue (``GET /console/queue``): the cases to work, most urgent first, filtered by
queue, status, priority and holder, 50 a page with a link to the next. Analysts see the
cases of their own queues unless they pick another.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.console.auth import visitor
from api.console.pages import HOME, desk_of, refused, render, to_login
from api.console.views import as_view
from monitor.responders.cases import CATEGORIES, PRIORITIES

router = APIRouter(prefix="/console", include_in_schema=False)


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
