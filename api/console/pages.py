"""What every console page is made with: the headers it carries (a strict
Content-Security-Policy, no caching, same-origin referrers), rendering a template for a
visitor, the answers that are not the page (303 to the login page, a refusal page), the
ids a page accepts in its path, and the store's :class:`~monitor.store.Casework`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment

from api.console.auth import Visitor
from api.console.views import relative
from monitor.store import Casework

__all__ = [
    "CONSOLE_CSP",
    "HOME",
    "ID",
    "LOGIN_PATH",
    "PAGE_HEADERS",
    "desk_of",
    "refused",
    "render",
    "to_login",
]

CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Same-origin referrers, so a form post carries its Origin (with no-referrer, browsers
# send "Origin: null" on POST and the Origin check could not tell friend from foe).
PAGE_HEADERS = {
    "content-security-policy": CONSOLE_CSP,
    "cache-control": "no-store",
    "referrer-policy": "same-origin",
}
LOGIN_PATH = "/console/login"
HOME = "/console/queue"
ID = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")  # case and account ids as the API takes them


def templates(request: Request) -> Environment:
    """The app's Jinja environment (:func:`api.console.views.make_templates`)."""
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
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def to_login(request: Request) -> RedirectResponse:
    """303 to the login page, coming back here afterwards (GET pages only)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    query = f"?{urlencode({'next': target})}" if request.method == "GET" else ""
    return RedirectResponse(LOGIN_PATH + query, status_code=303, headers=PAGE_HEADERS)


def refused(request: Request, who: Visitor | None, status: int, message: str) -> HTMLResponse:
    """The error page, with ``status`` and what was refused."""
    return render(request, "error.html", who, status=status, status_code=status, message=message)


def desk_of(request: Request) -> Casework:
    """The app's :class:`~monitor.store.Casework` (built once by :func:`api.app.create_app`)."""
    desk: Casework = request.app.state.casework
    return desk
