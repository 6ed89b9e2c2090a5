"""The support console in a real headless Chromium (Debian's ``chromium``, driven by
Playwright): log in with an analyst's token, open the queue, open the case, read the
reasons, give a ``legitimate`` verdict that lifts the restriction, and see it lifted —
with the audit rows and the wallet.verdicts messages in the store, no script run from an
attacker's payee name, and no Content-Security-Policy violation on the way.

The app is the real one, served by uvicorn on a loopback port, over a SQLite store whose
cases come from ``save_decisions(..., responder=...)`` like in production. Chromium and
the ``playwright`` package come with ``make test`` (scripts/install-test-tools.sh, the
``test`` extra); without them the test is skipped, and under ``CI=true`` it fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from api.app import create_app
from monitor.config import Settings
from monitor.store import AlertStore, AuditContext
from tests.api import casefiles

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
ADMIN_TOKEN = "browser-break-glass-Tq5Nw8Zr3Lx6Vk9Pd2Hm"
SESSION_SECRET = "browser-session-Jc4Rv7Xq1Mz8Wt5Lp3Kn"


def chromium_or_skip() -> str:
    """The Chromium to drive; missing: skip here, fail under CI (``make test`` installs it)."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "the playwright package is missing (pip install -e '.[test]')"
    path = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if problem is None and path is None:
        problem = "Debian's chromium is missing (scripts/install-test-tools.sh)"
    if problem is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"browser test cannot run under CI: {problem}")
        pytest.skip(problem)
    assert path is not None
    return path


class _Server(uvicorn.Server):
    """uvicorn in a thread: no signal handlers (they belong to the main thread)."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Console:
    base: str
    store: AlertStore
    token: str
    case_id: str


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    """The real app on a loopback port over seeded cases; ``token`` is an analyst's of the
    account_security queue, ``case_id`` the account-takeover case with payments frozen."""
    store = AlertStore(f"sqlite:///{tmp_path / 'console.db'}")
    store.create_schema()
    planner = casefiles.responder()
    case_ids = casefiles.seed_cases(store, planner)
    _, token = store.create_user(
        "agent", "analyst", ["account_security"], by=AuditContext("tests", "cli")
    )
    settings = Settings(
        database_url="sqlite:///unused.db",
        admin_token=ADMIN_TOKEN,
        session_secret=SESSION_SECRET,
    )
    app = create_app(settings, store, responder=planner)
    port = _free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="console-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield Console(f"http://127.0.0.1:{port}", store, token, case_ids["acc-1"])
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()


def test_an_agent_lifts_a_restriction_with_a_legitimate_verdict(
    console: Console, tmp_path: Path
) -> None:
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    problems: list[str] = []  # console errors (CSP violations show up here) and alerts
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 400, "height": 860})  # a phone
            page.set_default_timeout(15_000)
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

            def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
                if dialog.type != "confirm":  # an alert() would be the payee's script
                    problems.append(f"unexpected {dialog.type}: {dialog.message}")
                dialog.accept()

            page.on("dialog", on_dialog)

            # log in
            page.goto(f"{console.base}/console/queue")
            assert page.url.startswith(f"{console.base}/console/login")
            page.fill("#token", console.token)
            page.click("button[type=submit]")
            page.wait_for_url(f"{console.base}/console/queue**")
            assert "agent · analyst" in page.inner_text("[data-testid=who]")

            # the queue: only the analyst's queue, the takeover case first
            links = page.locator("[data-testid=case-link]")
            assert links.count() == 1
            assert "acc-1" in links.first.inner_text()
            links.first.click()
            page.wait_for_url(f"**/console/cases/{console.case_id}**")

            # the case: reasons in plain words, the payee's HTML shown as text
            reasons = page.inner_text("[data-testid=reasons]")
            assert "login from a device never seen" in reasons
            assert f"new payee {casefiles.XSS_PAYEE} in {casefiles.XSS_CITY}" in reasons
            restrictions = page.inner_text("[data-testid=restrictions]")
            assert "withdrawal" in restrictions and "lifts in" in restrictions
            assert page.locator("[data-testid=verdict-restore]").is_disabled()  # until legit

            # the verdict: legitimate, lift the restrictions, with a note
            page.click("[data-testid=claim]")
            page.wait_for_selector("[data-testid=notice]")
            page.check("[data-testid=verdict-legitimate]")
            page.check("[data-testid=verdict-restore]")
            page.fill("[data-testid=verdict-note]", "customer confirmed the payment on the phone")
            page.click("[data-testid=verdict-submit]")
            page.wait_for_url("**?done=verdict")

            assert "Verdict recorded" in page.inner_text("[data-testid=notice]")
            assert page.inner_text("[data-testid=verdict]") == "legitimate"
            assert "not restricted" in page.inner_text("[data-testid=no-restrictions]")
            timeline = page.inner_text("[data-testid=timeline]")
            assert "verdict legitimate: customer confirmed the payment" in timeline
            assert "restore payment features" in page.inner_text("[data-testid=actions]")
            page.screenshot(path=str(tmp_path / "case-after-verdict.png"), full_page=True)
        finally:
            browser.close()

    assert not problems, problems
    store = console.store
    case_rows = [e.action for e in store.audit_page(target=f"case:{console.case_id}")]
    assert case_rows == ["case_verdict", "case_claim"]
    (restore,) = store.audit_page(target="account:acc-1")
    assert (restore.action, restore.actor, restore.role) == (
        "restore_payment_features",
        "agent",
        "analyst",
    )
    (login,) = store.audit_page(action="console_login")
    assert login.actor == "agent"
    pending = store.pending_actions()
    assert len([m for m in pending if m.topic == "verdicts"]) == 2  # one per alert
    assert [m.type for m in pending if m.topic == "actions"][-1] == "restore_payment_features"
