"""GET /v1/audit: a restore, a reveal and a rule reload each leave one row with the
authenticated actor, their role and the request id; admins read them, filtered and paged
by cursor; nobody else may."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from monitor.config import Settings
from monitor.decision import Reason, alert_id_for, decide
from monitor.reload import RuleSource
from monitor.responders.responder import PlaybookResponder, load_playbooks
from monitor.ruleset import load_rules
from monitor.store import AlertStore, AuditContext
from tests.api.auth import ADMIN_TOKEN, bearer, create_users

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
Setup = tuple[TestClient, AlertStore, dict[str, str]]


@pytest.fixture
def setup(store: AlertStore) -> Iterator[Setup]:
    responder = PlaybookResponder(load_playbooks(RULES_DIR))
    freeze = Reason(code="rule:drain", text="drain", rule_id="drain")
    store.save_decisions(
        [
            decide(
                event_id="d1",
                account_id="victim",
                event_type="payment",
                event_ts=1.8e9,
                rule_hits=[("critical", 0.9, freeze)],
                anomaly=None,
                actions=["disable_payment_features"],
                queue="payments",
            )
        ],
        responder=responder,
    )
    tokens = create_users(store)
    settings = Settings(database_url="sqlite:///unused.db", admin_token=ADMIN_TOKEN)
    rules = RuleSource(RULES_DIR, loader=load_rules)
    with TestClient(create_app(settings, store, rules=rules, responder=responder)) as client:
        yield client, store, tokens


def do_the_three(client: TestClient, tokens: dict[str, str]) -> None:
    analyst, admin = bearer(tokens["analyst"]), bearer(tokens["admin"])
    restore = client.post(
        "/v1/accounts/victim/restore",
        json={"reason": "identity verified in branch"},
        headers={**analyst, "X-Request-ID": "req-restore"},
    )
    assert restore.status_code == 202, restore.text
    reveal = client.post(
        f"/v1/alerts/{alert_id_for('d1')}/reveal", headers={**analyst, "X-Request-ID": "req-rv"}
    )
    assert reveal.status_code == 200, reveal.text
    reload = client.post("/v1/rules/reload", headers=admin)  # no X-Request-ID: one is made
    assert reload.status_code == 200, reload.text
    assert len(reload.headers["x-request-id"]) == 32


def test_mutations_and_reveals_are_in_the_audit_log(setup: Setup) -> None:
    client, _, tokens = setup
    do_the_three(client, tokens)
    r = client.get("/v1/audit", headers=bearer(tokens["admin"]))
    assert r.status_code == 200, r.text
    rows = [e for e in r.json()["data"] if not e["target"].startswith("user:")]
    assert [(e["action"], e["actor"], e["role"]) for e in rows] == [
        ("rules_reload", "root", "admin"),
        ("reveal", "ana", "analyst"),
        ("restore_payment_features", "ana", "analyst"),
    ]
    reload, reveal, restore = rows
    assert (restore["target"], restore["request_id"]) == ("account:victim", "req-restore")
    assert restore["before"] is not None and restore["after"] is not None
    assert (reveal["target"], reveal["request_id"]) == (f"alert:{alert_id_for('d1')}", "req-rv")
    assert reload["target"] == "rule_pack" and len(reload["request_id"]) == 32
    assert datetime.fromisoformat(reload["at"]) >= datetime.fromisoformat(restore["at"])


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_only_admins_read_the_audit_log(setup: Setup, role: str) -> None:
    client, _, tokens = setup
    assert client.get("/v1/audit", headers=bearer(tokens[role])).status_code == 403
    assert client.get("/v1/audit").status_code == 401


def test_filters(setup: Setup) -> None:
    client, _, tokens = setup
    do_the_three(client, tokens)
    admin = bearer(tokens["admin"])

    def actions(**params: str) -> list[str]:
        r = client.get("/v1/audit", params=params, headers=admin)
        assert r.status_code == 200, r.text
        return [e["action"] for e in r.json()["data"]]

    assert actions(actor="ana") == ["reveal", "restore_payment_features"]
    assert actions(action="reveal") == ["reveal"]
    assert actions(target="account:victim") == ["restore_payment_features"]
    assert actions(actor="root", action="reveal") == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert actions(since=future) == []
    assert "rules_reload" in actions(since="2020-01-01T00:00:00Z")
    naive = client.get("/v1/audit", params={"since": "2020-01-01T00:00:00"}, headers=admin)
    assert naive.status_code == 422


def test_cursor_pages_walk_every_row_once(setup: Setup) -> None:
    client, store, tokens = setup
    by = AuditContext("bulk", "admin")
    for i in range(7):
        store.audit(by.actor, by.role, "note", f"thing:{i}")
    admin = bearer(tokens["admin"])
    seen: list[str] = []
    params: dict[str, object] = {"actor": "bulk", "limit": 3}
    pages = 0
    while True:
        body = client.get("/v1/audit", params=params, headers=admin).json()
        pages += 1
        seen += [e["target"] for e in body["data"]]
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert seen == [f"thing:{i}" for i in reversed(range(7))]
    assert pages == 3


def test_page_size_is_clamped(setup: Setup) -> None:
    client, _, tokens = setup
    admin = bearer(tokens["admin"])
    assert client.get("/v1/audit", params={"limit": 10_000}, headers=admin).json()["limit"] == 500
    assert client.get("/v1/audit", params={"limit": 0}, headers=admin).status_code == 422
    assert client.get("/v1/audit", params={"cursor": 0}, headers=admin).status_code == 422
