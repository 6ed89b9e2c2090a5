"""Users, tokens and headers for the API tests (the fixtures in conftest.py use them), and
a console login as a browser does it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from monitor.store import AlertStore, AuditContext

# VIGIL_ADMIN_TOKEN of the test settings: the break-glass admin, known without a database.
ADMIN_TOKEN = "break-glass-Qm8vT3xL9pR2sW6nY4kJ7hF1"
# name, queues of the user made for each role
USERS: dict[str, tuple[str, list[str] | None]] = {
    "viewer": ("vic", None),
    "analyst": ("ana", ["*"]),
    "admin": ("root", None),
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create_users(store: AlertStore) -> dict[str, str]:
    """A user per role (``USERS``); their tokens by role."""
    by = AuditContext("tests", "cli")
    return {
        role: store.create_user(name, role, queues, by=by)[1]
        for role, (name, queues) in USERS.items()
    }


# --- the console: a browser's session cookie instead of a bearer header ---------------

CONSOLE_BASE = "http://localhost"  # loopback over http: cookies without Secure
ORIGIN = {"Origin": CONSOLE_BASE}
_HIDDEN = re.compile(r'name="(csrf|login_csrf)" value="([^"]*)"')


def hidden(html: str, name: str) -> str:
    """The value of the hidden form field ``name`` (``csrf``, ``login_csrf``) in a page."""
    for field, value in _HIDDEN.findall(html):
        if field == name:
            return value
    raise AssertionError(f"no hidden field {name!r} in the page")


def console_login(client: TestClient, token: str) -> str:
    """Log ``client`` (base URL ``CONSOLE_BASE``) into the console with ``token`` as a
    browser would; returns the session's CSRF token for forms."""
    page = client.get("/console/login")
    assert page.status_code == 200, page.text
    r = client.post(
        "/console/login",
        data={"token": token, "login_csrf": hidden(page.text, "login_csrf")},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/console/queue"
    queue = client.get("/console/queue")
    assert queue.status_code == 200, queue.text
    return hidden(queue.text, "csrf")
