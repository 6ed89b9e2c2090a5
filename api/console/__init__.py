"""The support console, served by the API's own app under ``/console``: pages for a
support agent on a phone call (docs/security.md, "Support console").

:func:`install` adds it to an app built by :func:`api.app.create_app`; nothing is built
at import time.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from api.console.routes import CONSOLE_CSP, router
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
    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="console-static")
