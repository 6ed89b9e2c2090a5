"""/v1/rules: the pack in force with hit counts; POST /v1/rules/reload needs the admin token
and refuses a bad pack with file:line, keeping the previous one."""

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
from monitor.store import AlertStore
from monitor.testing import login_rule

TOKEN = "t" * 32
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
def client(rules_dir: Path, sqlite_store: AlertStore) -> Iterator[TestClient]:
    settings = Settings(database_url="sqlite:///unused.db", admin_token=TOKEN)
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
    with TestClient(create_app(settings, sqlite_store, rules=rules)) as c:
        yield c


def test_list_rules_with_hits(client: TestClient, rules_dir: Path) -> None:
    body = client.get("/v1/rules").json()
    assert body["count"] == 1 and body["last_reload_problems"] == []
    (rule,) = body["data"]
    assert rule["id"] == "brute_force" and rule["mode"] == "active"
    assert rule["hits"] == 3 and rule["shadow_hits"] == 1
    assert rule["source"] == f"{rules_dir / 'a.yaml'}:2"
    assert rule["actions"] == ["require_step_up"] and rule["queue"] == "account_security"


def test_reload_needs_the_admin_token(client: TestClient) -> None:
    assert client.post("/v1/rules/reload").status_code == 401
    wrong = client.post("/v1/rules/reload", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_reload_swaps_a_good_pack(client: TestClient, rules_dir: Path) -> None:
    before = client.get("/v1/rules").json()["version"]
    (rules_dir / "a.yaml").write_text(RULE.format(n=3))
    r = client.post("/v1/rules/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    assert r.json()["version"] != before


def test_reload_refuses_a_bad_pack_with_file_and_line(client: TestClient, rules_dir: Path) -> None:
    before = client.get("/v1/rules").json()["version"]
    (rules_dir / "a.yaml").write_text(RULE.format(n="'six'"))
    r = client.post("/v1/rules/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 422
    body = r.json()
    assert body["version_in_force"] == before
    assert body["problems"][0].startswith(f"{rules_dir / 'a.yaml'}:5: rule 'brute_force'")
    listed = client.get("/v1/rules").json()
    assert listed["version"] == before and listed["last_reload_problems"] == body["problems"]


def test_without_a_configured_token_reload_is_disabled(
    rules_dir: Path, sqlite_store: AlertStore
) -> None:
    rules = RuleSource(rules_dir, loader=load_rules)
    app = create_app(Settings(database_url="sqlite:///x.db"), sqlite_store, rules=rules)
    with TestClient(app) as c:
        r = c.post("/v1/rules/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 503 and "VIGIL_ADMIN_TOKEN" in r.json()["detail"]


def test_api_alone_has_no_rule_pack(sqlite_store: AlertStore) -> None:
    with TestClient(create_app(Settings(database_url="sqlite:///x.db"), sqlite_store)) as c:
        assert c.get("/v1/rules").status_code == 503


def test_short_admin_tokens_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 24 characters"):
        Settings(admin_token="short")


def test_support_restore_endpoint(rules_dir: Path, sqlite_store: AlertStore) -> None:
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
    settings = Settings(database_url="sqlite:///unused.db", admin_token=TOKEN)
    app = create_app(settings, sqlite_store, responder=responder)
    auth = {"Authorization": f"Bearer {TOKEN}", "X-Request-Id": "r-42"}
    with TestClient(app) as c:
        assert c.post("/v1/accounts/victim/restore", json={"reason": "ok now"}).status_code == 401
        bad = c.post("/v1/accounts/victim/restore", json={"reason": "x"}, headers=auth)
        assert bad.status_code == 422
        r = c.post(
            "/v1/accounts/victim/restore",
            json={"reason": "identity verified by phone", "actor": "agent-1"},
            headers=auth,
        )
    assert r.status_code == 202, r.text
    assert {"withdrawal", "transfer_to_new_payee"} <= set(r.json()["features"])
    (entry,) = sqlite_store.audit_entries("account:victim")
    assert entry["actor"] == "agent-1" and entry["request_id"] == "r-42"
