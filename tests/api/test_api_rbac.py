"""Who may call what: one table, (method, path) -> the lowest role that may. Every route of
the app must be in it (a new route fails here until it is added), and every route is
called by an anonymous caller and by each role: below the minimum it is 401 (anonymous)
or 403, at or above it is neither.

Console routes (``/console``) are called as a browser does, with a session cookie from
logging in with each role's token, the Origin header and the form's CSRF token: there an
anonymous caller is sent to the login page (303) instead of 401."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from monitor.config import Settings
from monitor.decision import alert_id_for
from monitor.reload import RuleSource
from monitor.responders.responder import PlaybookResponder, load_playbooks
from monitor.ruleset import load_rules
from monitor.store import AlertStore
from tests.api.auth import (
    ADMIN_TOKEN,
    CONSOLE_BASE,
    ORIGIN,
    bearer,
    console_login,
    create_users,
)
from tests.api.conftest import seed_decisions

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"

PUBLIC, VIEWER, ANALYST, ADMIN = "public", "viewer", "analyst", "admin"
LEVEL = {PUBLIC: 0, VIEWER: 1, ANALYST: 2, ADMIN: 3}
CALLERS = {"anonymous": 0, "viewer": 1, "analyst": 2, "admin": 3}

# The one table. docs/security.md shows the same matrix.
MIN_ROLE: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): VIEWER,  # PUBLIC with VIGIL_PUBLIC_PROBES
    ("GET", "/metrics"): VIEWER,  # absent with VIGIL_METRICS_PORT
    ("GET", "/openapi.json"): VIEWER,  # PUBLIC with VIGIL_PUBLIC_DOCS
    ("GET", "/docs"): VIEWER,  # PUBLIC with VIGIL_PUBLIC_DOCS
    ("GET", "/v1/alerts"): VIEWER,
    ("GET", "/v1/alerts/{alert_id}"): VIEWER,
    ("POST", "/v1/alerts/{alert_id}/reveal"): ANALYST,
    ("GET", "/v1/rules"): VIEWER,
    ("POST", "/v1/rules/reload"): ADMIN,
    ("POST", "/v1/accounts/{account_id}/restore"): ANALYST,
    ("GET", "/v1/users"): ADMIN,
    ("POST", "/v1/users"): ADMIN,
    ("POST", "/v1/users/{name}/tokens"): ADMIN,
    ("POST", "/v1/users/{name}/revoke"): ADMIN,
    ("POST", "/v1/users/{name}/disable"): ADMIN,
    ("GET", "/v1/audit"): ADMIN,
    ("GET", "/v1/cases"): VIEWER,
    ("GET", "/v1/cases/{case_id}"): VIEWER,
    ("POST", "/v1/cases/{case_id}/reveal"): ANALYST,
    ("POST", "/v1/cases/{case_id}/claim"): ANALYST,
    ("POST", "/v1/cases/{case_id}/assign"): ANALYST,
    ("POST", "/v1/cases/{case_id}/acknowledge"): ANALYST,
    ("POST", "/v1/cases/{case_id}/verdict"): ANALYST,
    ("POST", "/v1/cases/bulk/verdict"): ADMIN,
    ("POST", "/v1/cases/{case_id}/escalate"): ANALYST,
    ("POST", "/v1/cases/{case_id}/notes"): ANALYST,
    ("POST", "/v1/cases/{case_id}/contacts"): ANALYST,
    ("POST", "/v1/cases/{case_id}/restore"): ANALYST,
    ("POST", "/v1/cases/{case_id}/password-reset"): ANALYST,
    ("GET", "/v1/accounts/{account_id}"): VIEWER,
    ("GET", "/v1/accounts/{account_id}/risk"): VIEWER,
    # the support console: a session cookie, not a bearer token
    ("GET", "/console"): PUBLIC,  # a redirect to the queue
    ("GET", "/console/login"): PUBLIC,
    ("POST", "/console/login"): PUBLIC,
    ("POST", "/console/logout"): VIEWER,
    ("GET", "/console/queue"): VIEWER,
    ("GET", "/console/cases/{case_id}"): VIEWER,
    ("GET", "/console/accounts"): VIEWER,
    ("POST", "/console/cases/{case_id}/{step}"): ANALYST,
}

PATH_VALUES = {
    "alert_id": alert_id_for("e2"),
    "account_id": "acc-1",
    "name": "nobody",
    "step": "note",
    "case_id": "",  # the seeded case of acc-1, set by the fixture
}

_BODIES: dict[str, dict[str, Any]] = {
    "assign": {"to": None},
    "verdict": {"verdict": "legitimate", "note": "customer confirms the transfer"},
    "escalate": {"reason": "customer disputes"},
    "notes": {"text": "called the customer"},
    "contacts": {"channel": "phone", "summary": "confirmed", "identity_verified": True},
    "restore": {"reason": "customer verified by video call"},
    "password-reset": {"reason": "customer lost the phone"},
}


def body_for(method: str, path: str, caller: str) -> dict[str, Any] | None:
    if path == "/v1/users":
        return {"name": f"made-by-{caller}", "role": "viewer"} if method == "POST" else None
    if path == "/v1/cases/bulk/verdict":
        return {"case_ids": ["no-such-case"], "verdict": "fraud", "note": "campaign"}
    return _BODIES.get(path.rsplit("/", 1)[-1]) if method == "POST" else None


def app_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route, routers included (FastAPI >= 0.16x keeps included
    routers as entries of ``app.routes``; ``iter_route_contexts`` flattens them)."""
    try:
        from fastapi.routing import iter_route_contexts

        routes: Any = iter_route_contexts(app.routes)
    except ImportError:  # older FastAPI: app.routes is flat already
        routes = app.routes
    found = set()
    for route in routes:
        path = getattr(route, "path", None)
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD" and path is not None:
                found.add((method, path))
    return found


@pytest.fixture
def setup(sqlite_store: AlertStore) -> Iterator[tuple[TestClient, dict[str, str]]]:
    responder = PlaybookResponder(load_playbooks(RULES_DIR))
    sqlite_store.save_decisions(seed_decisions(), responder=responder)  # alerts open cases
    tokens = {"anonymous": "", **create_users(sqlite_store)}
    # no rate limit: the anonymous caller (limited per address) makes a call per route
    settings = Settings(
        database_url="sqlite:///unused.db", admin_token=ADMIN_TOKEN, rate_limit_per_s=0
    )
    app = create_app(
        settings,
        sqlite_store,
        rules=RuleSource(RULES_DIR, loader=load_rules),
        responder=responder,
    )
    with TestClient(app) as client:
        yield client, tokens


@pytest.fixture
def consoles(
    setup: tuple[TestClient, dict[str, str]],
) -> Iterator[dict[str, tuple[TestClient, str]]]:
    """A browser per caller (its own cookie jar), logged in but for the anonymous one:
    the client and its CSRF token."""
    client, tokens = setup
    out: dict[str, tuple[TestClient, str]] = {}
    for caller, token in tokens.items():
        browser = TestClient(client.app, base_url=CONSOLE_BASE, headers=ORIGIN)
        out[caller] = (browser, console_login(browser, token) if token else "")
    yield out
    for browser, _ in out.values():
        browser.close()


def case_of(client: TestClient, account_id: str) -> str:
    (case,), _ = client.app.state.casework.list_cases(account_id=account_id)  # type: ignore[attr-defined]
    return str(case.case_id)


def test_every_route_is_in_the_table(setup: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = setup
    routes = app_routes(client.app)
    missing = sorted(routes - MIN_ROLE.keys())
    assert not missing, f"routes without a minimum role: add them to MIN_ROLE: {missing}"
    stale = sorted(MIN_ROLE.keys() - routes)
    assert not stale, f"MIN_ROLE names routes the app does not have: {stale}"


def test_every_role_on_every_route(
    setup: tuple[TestClient, dict[str, str]], consoles: dict[str, tuple[TestClient, str]]
) -> None:
    client, tokens = setup
    values = {**PATH_VALUES, "case_id": case_of(client, "acc-1")}
    failures = []
    for (method, path), role in sorted(MIN_ROLE.items()):
        if (method, path) == ("POST", "/console/logout"):
            continue  # it would end the session the other console calls use: see below
        url = path.format(**values)
        for caller, level in CALLERS.items():
            if path.startswith("/console"):
                browser, csrf = consoles[caller]
                form = {"csrf": csrf, "text": "rbac"} if method == "POST" else None
                r = browser.request(method, url, data=form, follow_redirects=False)
                to_login = r.status_code == 303 and r.headers["location"].startswith(
                    "/console/login"
                )
                refused = to_login if caller == "anonymous" else r.status_code == 403
                allowed = r.status_code not in (401, 403) and not to_login
            else:
                headers = bearer(tokens[caller]) if tokens[caller] else {}
                body = body_for(method, path, caller)
                r = client.request(method, url, headers=headers, json=body)
                refused = r.status_code == (401 if caller == "anonymous" else 403)
                allowed = r.status_code not in (401, 403)
            if level >= LEVEL[role]:
                ok, expected = allowed, "allowed (neither 401/403 nor the login page)"
            else:
                ok = refused
                expected = "403" if caller != "anonymous" else "401 (console: 303 to login)"
            if not ok:
                failures.append(f"{caller} {method} {url}: {r.status_code}, want {expected}")
    assert not failures, "\n".join(failures)


def test_console_logout_needs_a_session(consoles: dict[str, tuple[TestClient, str]]) -> None:
    anonymous, _ = consoles["anonymous"]
    r = anonymous.post("/console/logout", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")
    for caller in ("viewer", "analyst", "admin"):
        browser, csrf = consoles[caller]
        r = browser.post("/console/logout", data={"csrf": csrf}, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/console/login"), caller
        after = browser.get("/console/queue", follow_redirects=False)
        assert after.status_code == 303, caller  # logged out


def test_refusals_say_why(setup: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = setup
    anonymous = client.get("/v1/alerts")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert "bearer token is required" in anonymous.json()["detail"]
    bad = client.get("/v1/alerts", headers=bearer("vgl_" + "x" * 43))
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    forbidden = client.get("/v1/audit", headers=bearer(tokens["analyst"]))
    assert forbidden.json() == {"detail": "this needs the admin role; ana has the analyst role"}


@pytest.mark.parametrize("scheme", ["Basic dXNlcjpwYXNz", "Bearer", "vgl_abc"])
def test_malformed_authorization_is_401(
    setup: tuple[TestClient, dict[str, str]], scheme: str
) -> None:
    client, _ = setup
    assert client.get("/v1/alerts", headers={"Authorization": scheme}).status_code == 401
