"""The support console, served by the API's own app under ``/console``: pages for a
support agent on a phone call (docs/security.md, "Support console").

:func:`install` adds it to an app built by :func:`api.app.create_app`; nothing is built
at import time.

The pages: :mod:`~api.console.login` (log in and out), :mod:`~api.console.queue_page`
(the cases to work), :mod:`~api.console.case_page` (a case, reasons in plain words first,
with a form for each workflow step), :mod:`~api.console.account_page` (an account's risk
view) and :mod:`~api.console.case_actions` (the steps those forms post). Server-rendered
(Jinja, autoescaped, :mod:`~api.console.pages`), a little JavaScript from
``/console/static``, a strict Content-Security-Policy, and every form checked for Origin
and CSRF token (:mod:`~api.console.auth`).

Roles as in the API: viewers read masked pages; analysts work the cases of their queues
(buttons only there, 403 elsewhere) and may reveal a case (audited); admins everything.
Each step goes through the store's :class:`~monitor.store.Casework`, audited with the
visitor as actor and the request id of the request.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from api.console import account_page, case_actions, case_page, login, queue_page
from api.console.pages import CONSOLE_CSP
from api.console.views import STATIC_DIR, make_templates
from api.session import session_signer
from monitor.config import Settings

__all__ = ["CONSOLE_CSP", "install"]

STATIC_PATH = "/console/static"


def install(app: FastAPI, settings: Settings) -> None:
    """Mount the console's pages and static files on ``app``, with the session signer
    (``VIGIL_SESSION_SECRET``, else a per-process key) and the templates."""
    app.state.sessions = session_signer(settings)
    app.state.console_templates = make_templates()
    for page in (login, queue_page, case_page, account_page, case_actions):
        app.include_router(page.router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="console-static")
