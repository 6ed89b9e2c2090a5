"""/v1/rules: the pack in force with hit counts (viewers); POST /v1/rules/reload needs an
admin, refuses a bad pack with file:line, keeping the previous one, and is audited.
POST /v1/accounts/{id}/restore: analysts of the payment queues, audited as themselves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from monitor.config import Settings
from monitor.decision import Reason, decide
from monitor.reload import RuleSource
from monitor.ruleset import load_rules
from monitor.store import AlertStore, AuditContext
from monitor.testing import login_rule
from tests.api.auth import ADMIN_TOKEN, bearer, create_users

RULE = "rules:\n" + login_rule(
    "brute_force",
    "failed_logins_10m >= {n}",
    description="many failed logins",
    actions="[require_step_up]",
    queue="account_security",
)


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "a.yaml").write_text(RULE.format(n=6))
    return d


@pytest.fixture
def tokens(sqlite_store: AlertStore) -> dict[str, str]:
    return create_users(sqlite_store)


@pytest.fixture
def client(
    rules_dir: Path, sqlite_store: AlertStore, tokens: dict[str, str]
) -> Iterator[TestClient]:
    """As the viewer."""
    settings = Settings(database_url="sqlite:///unused.db", admin_token=ADMIN_TOKEN)
    hit = Reason(code="rule:brute_force", text="x", rule_id="brute_force", values={"n": 7})
    sqlite_store.save_decisions(
        [
            decide(
                event_id=f"e{i}",
                account_id="a",
                event_type="login",
                event_ts=1e9 + i,
                rule_hits=[("medium", 0.6, hit)],
                anomaly=None,
            )
            for i in range(3)
        ]
        + [
            decide(
                event_id="s1",
                account_id="a",
                event_type="login",
                event_ts=1e9,
                rule_hits=[],
                anomaly=None,
                shadow_hits=[hit],
                rule_pack_version="v0",
            )
        ]
    )
    rules = RuleSource(rules_dir, loader=load_rules)
    app = create_app(settings, sqlite_store, rules=rules)
    with TestClient(app, headers=bearer(tokens["viewer"])) as c:
        yield c


def test_list_rules_with_hits(client: TestClient, rules_dir: Path) -> None:
    body = client.get("/v1/rules").json()
    assert body["count"] == 1 and body["last_reload_problems"] == []
    (rule,) = body["data"]
    assert rule["id"] == "brute_force" and rule["mode"] == "active"
    assert rule["hits"] == 3 and rule["shadow_hits"] == 1
    assert rule["source"] == f"{rules_dir / 'a.yaml'}:2"
    assert rule["actions"] == ["require_step_up"] and rule["queue"] == "account_security"


def test_reload_needs_an_admin(client: TestClient, tokens: dict[str, str]) -> None:
    anonymous = client.post("/v1/rules/reload", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert client.post("/v1/rules/reload", headers=bearer("nope")).status_code == 401
    for role in ("viewer", "analyst"):
        r = client.post("/v1/rules/reload", headers=bearer(tokens[role]))
        assert r.status_code == 403
        assert r.json()["detail"].startswith("this needs the admin role")


@pytest.mark.parametrize("who", ["admin user", "break-glass token"])
def test_reload_swaps_a_good_pack_and_is_audited(
    client: TestClient, rules_dir: Path, sqlite_store: AlertStore, tokens: dict[str, str], who: str
) -> None:
    token, actor = (
        (tokens["admin"], "root") if who == "admin user" else (ADMIN_TOKEN, "admin-token")
    )
    before = client.get("/v1/rules").json()["version"]
    (rules_dir / "a.yaml").write_text(RULE.format(n=3))
    r = client.post("/v1/rules/reload", headers={**bearer(token), "X-Request-ID": "rl-1"})
    assert r.status_code == 200
    assert r.json()["version"] != before
    (entry,) = sqlite_store.audit_page(action="rules_reload")
    assert (entry.actor, entry.role, entry.target, entry.request_id) == (
        actor,
        "admin",
        "rule_pack",
        "rl-1",
    )
    assert entry.before == {"version": before}
    assert entry.after == {"version": r.json()["version"], "ok": True}


def test_reload_refuses_a_bad_pack_with_file_and_line(
    client: TestClient, rules_dir: Path, sqlite_store: AlertStore, tokens: dict[str, str]
) -> None:
    before = client.get("/v1/rules").json()["version"]
    (rules_dir / "a.yaml").write_text(RULE.format(n="'six'"))
    r = client.post("/v1/rules/reload", headers=bearer(tokens["admin"]))
    assert r.status_code == 422
    body = r.json()
    assert body["version_in_force"] == before
    assert body["problems"][0].startswith(f"{rules_dir / 'a.yaml'}:5: rule 'brute_force'")
    listed = client.get("/v1/rules").json()
    assert listed["version"] == before and listed["last_reload_problems"] == body["problems"]
    (entry,) = sqlite_store.audit_page(action="rules_reload")
    assert entry.after["ok"] is False and entry.after["problems"] == body["problems"]


def test_without_a_break_glass_token_admins_still_reload(
    rules_dir: Path, sqlite_store: AlertStore, tokens: dict[str, str]
) -> None:
    rules = RuleSource(rules_dir, loader=load_rules)
    app = create_app(Settings(database_url="sqlite:///x.db"), sqlite_store, rules=rules)
    with TestClient(app) as c:
        assert c.post("/v1/rules/reload", headers=bearer(ADMIN_TOKEN)).status_code == 401
        assert c.post("/v1/rules/reload", headers=bearer(tokens["admin"])).status_code == 200


def test_api_alone_has_no_rule_pack(sqlite_store: AlertStore, tokens: dict[str, str]) -> None:
    with TestClient(create_app(Settings(database_url="sqlite:///x.db"), sqlite_store)) as c:
        assert c.get("/v1/rules", headers=bearer(tokens["viewer"])).status_code == 503


def test_support_restore_endpoint(
    rules_dir: Path, sqlite_store: AlertStore, tokens: dict[str, str]
) -> None:
    from monitor.responders.responder import PlaybookResponder, load_playbooks

    root = Path(__file__).resolve().parents[2] / "rules"
    responder = PlaybookResponder(load_playbooks(root))
    hit = Reason(code="rule:x", text="drain", rule_id="x")
    sqlite_store.save_decisions(
        [
            decide(
                event_id="d1",
                account_id="victim",
                event_type="payment",
                event_ts=1.8e9,
                rule_hits=[("critical", 0.9, hit)],
                anomaly=None,
                actions=["disable_payment_features"],
                queue="payments",
            )
        ],
        responder=responder,
    )
    settings = Settings(database_url="sqlite:///unused.db", admin_token=ADMIN_TOKEN)
    app = create_app(settings, sqlite_store, responder=responder)
    by = AuditContext("tests", "cli")
    _, topup_agent = sqlite_store.create_user("tia", "analyst", ["topup"], by=by)
    _, payments_agent = sqlite_store.create_user("agent-1", "analyst", ["payments"], by=by)
    auth = {**bearer(payments_agent), "X-Request-Id": "r-42"}
    url, ok = "/v1/accounts/victim/restore", {"reason": "identity verified by phone"}
    with TestClient(app) as c:
        assert c.post(url, json=ok).status_code == 401
        assert c.post(url, json=ok, headers=bearer(tokens["viewer"])).status_code == 403
        other_queue = c.post(url, json=ok, headers=bearer(topup_agent))
        assert other_queue.status_code == 403
        assert "your queues: topup" in other_queue.json()["detail"]
        bad = c.post(url, json={"reason": "x"}, headers=auth)
        assert bad.status_code == 422
        r = c.post(url, json={**ok, "actor": "someone-else"}, headers=auth)
    assert r.status_code == 202, r.text
    assert r.headers["x-request-id"] == "r-42"
    assert {"withdrawal", "transfer_to_new_payee"} <= set(r.json()["features"])
    (entry,) = sqlite_store.audit_entries("account:victim")
    # the actor is who authenticated; a body field cannot claim to be someone else
    assert (entry["actor"], entry["role"], entry["request_id"]) == ("agent-1", "analyst", "r-42")
