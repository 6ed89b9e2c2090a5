"""The support console through its HTTP interface (a browser's view without a browser):
login and the session cookie, CSRF and Origin checks, the Content-Security-Policy, escaping
of attacker-controlled fields, roles and queues, and the workflow through its forms.
The real browser test is tests/e2e/test_e2e_console_browser.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from http.cookies import SimpleCookie

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.console import CONSOLE_CSP
from monitor.config import Settings
from monitor.store import AlertStore, AuditContext
from tests.api import casefiles
from tests.api.auth import ADMIN_TOKEN, CONSOLE_BASE, ORIGIN, console_login, create_users, hidden

SECRET = "console-tests-Hq8Zt3Wn6Rk1Vb9Lc5Xd"


@pytest.fixture
def world(sqlite_store: AlertStore) -> tuple[FastAPI, dict[str, str], dict[str, str]]:
    """The app over the seeded cases (SQLite), tokens by user, case ids by account."""
    planner = casefiles.responder()
    case_ids = casefiles.seed_cases(sqlite_store, planner)
    tokens = {**create_users(sqlite_store), "pat": casefiles.create_payments_analyst(sqlite_store)}
    settings = Settings(
        database_url="sqlite:///unused.db", admin_token=ADMIN_TOKEN, session_secret=SECRET
    )
    return create_app(settings, sqlite_store, responder=planner), tokens, case_ids


@pytest.fixture
def browser(world: tuple[FastAPI, dict[str, str], dict[str, str]]) -> Iterator[TestClient]:
    """A browser on loopback over http, not logged in."""
    with TestClient(world[0], base_url=CONSOLE_BASE, headers=ORIGIN) as c:
        yield c


def logged_in(world: tuple[FastAPI, dict[str, str], dict[str, str]], who: str) -> TestClient:
    browser = TestClient(world[0], base_url=CONSOLE_BASE, headers=ORIGIN)
    browser.headers["x-test-csrf"] = console_login(browser, world[1][who])
    return browser


def csrf(browser: TestClient) -> str:
    return str(browser.headers["x-test-csrf"])


def set_cookie_headers(response: object) -> list[str]:
    return response.headers.get_list("set-cookie")  # type: ignore[attr-defined,no-any-return]


# --- login and sessions ---------------------------------------------------------------


def test_login_sets_a_hardened_session_cookie(
    browser: TestClient, world: tuple[FastAPI, dict[str, str], dict[str, str]]
) -> None:
    page = browser.get("/console/login")
    assert page.headers["content-security-policy"] == CONSOLE_CSP
    r = browser.post(
        "/console/login",
        data={"token": world[1]["analyst"], "login_csrf": hidden(page.text, "login_csrf")},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/queue"
    (session,) = [h for h in set_cookie_headers(r) if h.startswith("vigil_session=")]
    attrs = session.lower()
    assert "httponly" in attrs and "samesite=strict" in attrs and "path=/" in attrs
    assert "max-age=28800" in attrs
    assert "secure" not in attrs  # http on loopback: a browser would drop a Secure cookie
    store: AlertStore = world[0].state.store
    (entry,) = store.audit_page(action="console_login")
    assert (entry.actor, entry.role, entry.target) == ("ana", "analyst", "user:ana")
    queue = browser.get("/console/queue")
    assert queue.status_code == 200 and 'data-testid="who">ana · analyst' in queue.text


@pytest.mark.parametrize("base", ["https://vigil.example", "http://vigil.example"])
def test_cookies_are_secure_and_host_prefixed_off_loopback(
    world: tuple[FastAPI, dict[str, str], dict[str, str]], base: str
) -> None:
    with TestClient(world[0], base_url=base, headers={"Origin": base}) as c:
        page = c.get("/console/login")
        login_csrf = hidden(page.text, "login_csrf")
        (sent,) = set_cookie_headers(page)
        assert sent.startswith("__Host-vigil_login=") and "secure" in sent.lower()
        # http://vigil.example: the app behind a TLS proxy; the browser (on https) sends it
        c.cookies.set("__Host-vigil_login", login_csrf)
        r = c.post(
            "/console/login",
            data={"token": world[1]["viewer"], "login_csrf": login_csrf},
            follow_redirects=False,
        )
    assert r.status_code == 303, r.text
    (session,) = [h for h in set_cookie_headers(r) if "vigil_session=" in h]
    assert session.startswith("__Host-vigil_session=")
    assert "secure" in session.lower()


def test_a_bad_token_a_stale_form_or_another_site_cannot_log_in(browser: TestClient) -> None:
    page = browser.get("/console/login")
    form = {"token": "vgl_" + "x" * 43, "login_csrf": hidden(page.text, "login_csrf")}
    bad = browser.post("/console/login", data=form)
    assert bad.status_code == 401 and "unknown, revoked" in bad.text
    stale = browser.post("/console/login", data={**form, "login_csrf": "forged"})
    assert stale.status_code == 400 and "expired" in stale.text
    foreign = browser.post("/console/login", data=form, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "Origin check" in foreign.text
    assert not [c for c in browser.cookies if c == "vigil_session"]


def test_login_goes_back_to_a_console_page_only(
    browser: TestClient, world: tuple[FastAPI, dict[str, str], dict[str, str]]
) -> None:
    case = world[2]["acc-1"]
    to_login = browser.get(f"/console/cases/{case}", follow_redirects=False)
    assert to_login.status_code == 303
    assert to_login.headers["location"] == f"/console/login?next=%2Fconsole%2Fcases%2F{case}"
    page = browser.get(to_login.headers["location"])
    login_csrf = hidden(page.text, "login_csrf")
    for target, expected in [
        (f"/console/cases/{case}", f"/console/cases/{case}"),
        ("https://evil.example/", "/console/queue"),
        ("//evil.example/console/", "/console/queue"),
    ]:
        r = browser.post(
            "/console/login",
            data={"token": world[1]["viewer"], "login_csrf": login_csrf, "next": target},
            follow_redirects=False,
        )
        assert r.headers["location"] == expected, target
        browser.cookies.clear()
        browser.cookies.set("vigil_login", login_csrf)


def test_revoking_the_token_ends_the_session(
    world: tuple[FastAPI, dict[str, str], dict[str, str]],
) -> None:
    browser = logged_in(world, "analyst")
    assert browser.get("/console/queue", follow_redirects=False).status_code == 200
    store: AlertStore = world[0].state.store
    store.revoke_tokens("ana", by=AuditContext("tests", "cli"))
    assert browser.get("/console/queue", follow_redirects=False).status_code == 303


def test_a_tampered_cookie_is_no_session(
    world: tuple[FastAPI, dict[str, str], dict[str, str]],
) -> None:
    browser = logged_in(world, "viewer")
    value = browser.cookies["vigil_session"]
    body, tag = value.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    browser.cookies.set("vigil_session", f"{forged}.{tag}")
    assert browser.get("/console/queue", follow_redirects=False).status_code == 303


def test_break_glass_sessions_end_when_the_admin_token_changes(
    world: tuple[FastAPI, dict[str, str], dict[str, str]],
) -> None:
    app = world[0]
    browser = TestClient(app, base_url=CONSOLE_BASE, headers=ORIGIN)
    console_login(browser, ADMIN_TOKEN)
    assert "admin-token · admin" in browser.get("/console/queue").text
    app.state.settings = app.state.settings.model_copy(
        update={"admin_token": SecretStr("rotated-Vq7Rm2Kx9Lw4Zt6Pn3Hd")}
    )
    assert browser.get("/console/queue", follow_redirects=False).status_code == 303


def test_logout_clears_the_cookie(world: tuple[FastAPI, dict[str, str], dict[str, str]]) -> None:
    browser = logged_in(world, "viewer")
    forged = browser.post("/console/logout", data={"csrf": "nope"})
    assert forged.status_code == 403
    r = browser.post("/console/logout", data={"csrf": csrf(browser)}, follow_redirects=False)
    assert r.status_code == 303
    cleared = SimpleCookie(r.headers["set-cookie"])
    assert cleared["vigil_session"].value == "" and cleared["vigil_session"]["max-age"] == "0"


# --- pages ----------------------------------------------------------------------------


def test_every_page_has_the_strict_policy_and_no_inline_code(
    world: tuple[FastAPI, dict[str, str], dict[str, str]],
) -> None:
    browser = logged_in(world, "admin")
    pages = [
        "/console/queue",
        f"/console/cases/{world[2]['acc-1']}",
        "/console/accounts?account_id=acc-1",
        "/console/accounts",
    ]
    for path in pages:
        r = browser.get(path)
        assert r.status_code == 200, (path, r.text)
        assert r.headers["content-security-policy"] == CONSOLE_CSP
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["referrer-policy"] == "same-origin"
        assert r.headers["x-frame-options"] == "DENY"
        tags = re.findall(r"<[a-zA-Z][^>]*>", r.text)  # real tags: text is escaped
        assert all("src=" in t for t in tags if t.startswith("<script")), path
        assert not [t for t in tags if re.search(r"\s(style|on[a-z]+)=", t)], path
        assert "<style" not in r.text, path
    static = browser.get("/console/static/console.js")
    assert static.status_code == 200 and "javascript" in static.headers["content-type"]


def test_attacker_controlled_fields_are_escaped(
    world: tuple[FastAPI, dict[str, str], dict[str, str]],
) -> None:
    browser = logged_in(world, "analyst")
    page = browser.get(f"/console/cases/{world[2]['acc-1']}").text
    assert "<script>alert(" not in page and "<img src=x" not in page
    assert "<script src=//evil" not in page
    assert "&lt;script&gt;alert(&#39;payee&#39;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
    assert "Mozilla/5.0 &lt;script src=//evil.example/x.js&gt;" in page
    # the reasons in plain words come first, before the workflow buttons and timeline
    assert page.index('data-testid="reasons"') < page.index("Work this case")
    assert page.index("Work this case") < page.index('data-testid="timeline"')


def test_a_viewer_reads_masked_pages_without_buttons(
    world: tuple[FastAPI, dict[str, str], dict[str, str]],
) -> None:
    browser = logged_in(world, "viewer")
    case = world[2]["acc-2"]
    page = browser.get(f"/console/cases/{case}").text
    assert "203.0.113.x" in page and casefiles.CLIENT_IP not in page
    assert "Give verdict" not in page and "viewers do not work cases" in page
    r = browser.post(f"/console/cases/{case}/claim", data={"csrf": csrf(browser)})
    assert r.status_code == 403


def test_an_analyst_works_only_their_queues(
    world: tuple[FastAPI, dict[str, str], dict[str, str]],
) -> None:
    browser = logged_in(world, "pat")
    queue = browser.get("/console/queue").text
    assert queue.count('data-testid="case-link"') == 1 and "acc-2" in queue  # payments only
    other = world[2]["acc-1"]
    page = browser.get(f"/console/cases/{other}").text
    assert "not one of yours" in page and "Give verdict" not in page
    r = browser.post(f"/console/cases/{other}/claim", data={"csrf": csrf(browser)})
    assert r.status_code == 403 and "your queues: payments" in r.text
    mine = browser.post(
        f"/console/cases/{world[2]['acc-2']}/claim",
        data={"csrf": csrf(browser)},
        follow_redirects=False,
    )
    assert mine.status_code == 303


def test_forms_need_the_csrf_token_and_this_origin(
    world: tuple[FastAPI, dict[str, str], dict[str, str]],
) -> None:
    browser = logged_in(world, "analyst")
    url = f"/console/cases/{world[2]['acc-1']}/note"
    form = {"csrf": csrf(browser), "text": "hello"}
    assert browser.post(url, data={"text": "hello"}).status_code == 403
    assert browser.post(url, data={**form, "csrf": "x" * 43}).status_code == 403
    foreign = browser.post(url, data=form, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    del browser.headers["origin"]
    assert browser.post(url, data=form).status_code == 403  # neither Origin nor Referer
    referer = {"Referer": f"{CONSOLE_BASE}/console/queue"}
    assert browser.post(url, data=form, headers=referer, follow_redirects=False).status_code == 303
    json_body = browser.post(url, json=form, headers=ORIGIN)
    assert json_body.status_code == 415


def test_the_workflow_through_forms(world: tuple[FastAPI, dict[str, str], dict[str, str]]) -> None:
    browser = logged_in(world, "analyst")
    case = world[2]["acc-1"]
    base = f"/console/cases/{case}"

    def step(name: str, **fields: str) -> str:
        r = browser.post(f"{base}/{name}", data={"csrf": csrf(browser), **fields})
        assert r.status_code == 200, (name, r.status_code, r.text[:500])
        assert str(r.url).endswith(f"?done={name}")
        return r.text

    assert "You hold this case now." in step("claim")
    assert "SLA clock has stopped" in step("acknowledge")
    assert "Note added." in step("note", text="customer called in")
    contact = step("contact", channel="phone", summary="confirms the payee", identity_verified="1")
    assert "customer contact by phone (verified)" in contact
    page = step("verdict", verdict="legitimate", restore="1", note="customer made the transfer")
    assert "Verdict recorded" in page
    assert 'data-testid="no-restrictions"' in page
    assert '<strong data-testid="verdict">legitimate</strong>' in page
    again = browser.post(
        f"{base}/verdict", data={"csrf": csrf(browser), "verdict": "fraud", "note": "x"}
    )
    assert again.status_code == 409 and "a closed case takes notes" in again.text
    bad = browser.post(f"{base}/contact", data={"csrf": csrf(browser), "channel": "fax"})
    assert bad.status_code == 422 and "unknown channel" in bad.text
    store: AlertStore = world[0].state.store
    actions = [e.action for e in store.audit_page(target=f"case:{case}")]
    assert actions == ["case_verdict", "case_contact", "case_note", "case_ack", "case_claim"]
    assert [e.action for e in store.audit_page(target="account:acc-1")] == [
        "restore_payment_features"
    ]
    verdicts = [m for m in store.pending_actions() if m.topic == "verdicts"]
    assert len(verdicts) == 2


def test_restore_and_password_reset_through_forms(
    world: tuple[FastAPI, dict[str, str], dict[str, str]],
) -> None:
    browser = logged_in(world, "analyst")
    case = world[2]["acc-1"]
    base = f"/console/cases/{case}"

    def step(name: str, **fields: str) -> str:
        r = browser.post(f"{base}/{name}", data={"csrf": csrf(browser), **fields})
        assert r.status_code == 200, (name, r.status_code, r.text[:500])
        assert str(r.url).endswith(f"?done={name}")
        return r.text

    step("claim")
    assert "Password reset command issued." in step("password-reset", reason="lost phone")
    assert "the restrictions are lifted" in step("restore", reason="customer verified")
    store: AlertStore = world[0].state.store
    audited = [(e.action, e.actor) for e in store.audit_page(target="account:acc-1")]
    assert [a for a, _ in audited] == ["restore_payment_features", "force_password_reset"]
    assert {actor for _, actor in audited} == {"ana"}  # the analyst logged in
    commands = [m.type for m in store.pending_actions() if m.account_id == "acc-1"]
    assert "force_password_reset" in commands and "restore_payment_features" in commands


def test_reveal_is_audited_and_shows_one_page(
    world: tuple[FastAPI, dict[str, str], dict[str, str]],
) -> None:
    browser = logged_in(world, "pat")
    case = world[2]["acc-2"]
    r = browser.post(f"/console/cases/{case}/reveal", data={"csrf": csrf(browser)})
    assert r.status_code == 200 and casefiles.CLIENT_IP in r.text
    assert "this view was audited" in r.text
    store: AlertStore = world[0].state.store
    (entry,) = store.audit_page(action="reveal")
    assert (entry.actor, entry.target) == ("pat", f"case:{case}")
    assert casefiles.CLIENT_IP not in browser.get(f"/console/cases/{case}").text


def test_unknown_case_step_and_account(
    world: tuple[FastAPI, dict[str, str], dict[str, str]],
) -> None:
    browser = logged_in(world, "admin")
    assert browser.get("/console/cases/case_nope").status_code == 404
    nope = browser.post(f"/console/cases/{world[2]['acc-1']}/dance", data={"csrf": csrf(browser)})
    assert nope.status_code == 404
    unknown = browser.get("/console/accounts", params={"account_id": "nobody"})
    assert unknown.status_code == 404 and "stored nothing about account nobody" in unknown.text
    account = browser.get("/console/accounts", params={"account_id": "acc-1"}).text
    assert "<polyline points=" in account and "withdrawal" in account
    stale = browser.get("/console/queue", params={"cursor": "garbage"})
    assert stale.status_code == 400
