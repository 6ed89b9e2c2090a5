"""An account's risk view (``GET /console/accounts?account_id=``): its restrictions in
force, its cases, its commands and verdicts, and its alert scores over time as a
sparkline. An account Vigil has stored nothing about is a 404 page that says so.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.console.auth import visitor
from api.console.pages import ID, desk_of, render, to_login
from api.console.views import as_view, sparkline

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/accounts")
def account_page(request: Request, account_id: str | None = None) -> Response:
    """Look an account up: its restrictions, cases, alert scores over time."""
    who = visitor(request)
    if who is None:
        return to_login(request)
    account = (account_id or "").strip()
    if not account:
        return render(request, "account.html", who, account_id="", view=None, points="")
    if not ID.match(account):
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
