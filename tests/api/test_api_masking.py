"""Personal data in alerts: masked for everyone by default (none of the raw values appears
anywhere in a viewer's answers), revealed only to an analyst of the alert's queue, and
every reveal leaves an audit row."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from monitor.config import Settings
from monitor.decision import Decision, Reason, alert_id_for, decide
from monitor.store import AlertStore, AuditContext
from tests.api.auth import ADMIN_TOKEN, bearer, create_users

IP, IP6 = "203.0.113.77", "2001:db8:85a3::8a2e:370:7334"
EMAIL, PHONE, CARD = "jane.doe@example.com", "+8613812345678", "card-9f8e7d6c5b"
RAW = [IP, IP6, EMAIL, PHONE, CARD, "13812345678", "jane.doe"]
OPS_IP = "198.51.100.23"


def pii_decisions() -> list[Decision]:
    login = Reason(
        code="rule:contact_change",
        text=f"login from {IP} ({IP6}) right after the e-mail became {EMAIL}; "
        f"phone {PHONE}, card {CARD}",
        rule_id="contact_change",
        values={"ip": IP, "email": EMAIL, "phone": PHONE, "source_id": CARD, "new_ip": True},
    )
    stuffing = Reason(
        code="ops:stuffing",
        text=f"credential stuffing: failed logins on 9 accounts from one IP ({OPS_IP})",
        rule_id="ops_stuffing",
        values={"ip": OPS_IP, "accounts": 9},
    )
    return [
        decide(
            event_id="pii-1",
            account_id="acc-pii",
            event_type="login",
            event_ts=1.7e9,
            rule_hits=[("high", 0.8, login)],
            anomaly=None,
            queue="account_security",
        ),
        decide(
            event_id=f"ops:ip:{OPS_IP}:1700000000",
            account_id=f"ops:ip:{OPS_IP}",
            event_type="ops",
            event_ts=1.7e9 + 60,
            rule_hits=[("high", 0.9, stuffing)],
            anomaly=None,
            queue="ops",
        ),
    ]


Setup = tuple[TestClient, AlertStore, dict[str, str]]


@pytest.fixture
def setup(store: AlertStore) -> Iterator[Setup]:
    """Both backends: the masking is the API's, but the values come back from the store."""
    store.save_decisions(pii_decisions())
    tokens = create_users(store)
    _, tokens["topup-analyst"] = store.create_user(
        "tom", "analyst", ["topup"], by=AuditContext("tests", "cli")
    )
    settings = Settings(database_url="sqlite:///unused.db", admin_token=ADMIN_TOKEN)
    with TestClient(create_app(settings, store)) as client:
        yield client, store, tokens


PII = alert_id_for("pii-1")


def test_a_viewer_sees_no_raw_personal_data(setup: Setup) -> None:
    client, _, tokens = setup
    viewer = bearer(tokens["viewer"])
    listing = client.get("/v1/alerts", headers=viewer)
    detail = client.get(f"/v1/alerts/{PII}", headers=viewer)
    ops = client.get(f"/v1/alerts/{alert_id_for(f'ops:ip:{OPS_IP}:1700000000')}", headers=viewer)
    for r in (listing, detail, ops):
        assert r.status_code == 200, r.text
        for raw in [*RAW, OPS_IP]:
            assert raw not in r.text, f"{raw} in {r.url}"
    values = detail.json()["reasons"][0]["values"]
    assert values == {
        "ip": "203.0.113.x",
        "email": "j***@example.com",
        "phone": "+86******5678",
        "source_id": "card-****6c5b",
        "new_ip": True,
    }
    text = detail.json()["reasons"][0]["text"]
    assert "203.0.113.x (2001:db8:85a3::x)" in text and "j***@example.com" in text
    assert ops.json()["account_id"] == "ops:ip:198.51.100.x"
    assert int(detail.headers["content-length"]) == len(detail.content)


def test_a_viewer_may_filter_by_the_raw_account_id(setup: Setup) -> None:
    client, _, tokens = setup
    r = client.get(
        "/v1/alerts", params={"account_id": f"ops:ip:{OPS_IP}"}, headers=bearer(tokens["viewer"])
    )
    assert r.json()["count"] == 1 and OPS_IP not in r.text


def test_analysts_and_admins_see_masked_data_until_they_reveal(setup: Setup) -> None:
    client, _, tokens = setup
    for role in ("analyst", "admin"):
        r = client.get(f"/v1/alerts/{PII}", headers=bearer(tokens[role]))
        assert IP not in r.text and EMAIL not in r.text


def test_an_analyst_reveal_shows_the_values_and_is_audited(setup: Setup) -> None:
    client, store, tokens = setup
    r = client.post(
        f"/v1/alerts/{PII}/reveal",
        json={"reason": "customer on the phone, verifying"},
        headers={**bearer(tokens["analyst"]), "X-Request-ID": "rv-1"},
    )
    assert r.status_code == 200, r.text
    values = r.json()["reasons"][0]["values"]
    assert (values["ip"], values["email"], values["phone"]) == (IP, EMAIL, PHONE)
    assert all(raw in r.text for raw in (IP, IP6, EMAIL, PHONE, CARD))
    assert r.headers["cache-control"] == "no-store"
    (entry,) = store.audit_page(action="reveal")
    assert (entry.actor, entry.role, entry.target, entry.request_id) == (
        "ana",
        "analyst",
        f"alert:{PII}",
        "rv-1",
    )
    assert entry.after == {"account_id": "acc-pii", "reason": "customer on the phone, verifying"}
    # the reveal is for that answer only
    assert IP not in client.get(f"/v1/alerts/{PII}", headers=bearer(tokens["analyst"])).text


def test_a_reveal_needs_no_body(setup: Setup) -> None:
    client, store, tokens = setup
    r = client.post(f"/v1/alerts/{PII}/reveal", headers=bearer(tokens["admin"]))
    assert r.status_code == 200 and IP in r.text
    (entry,) = store.audit_page(action="reveal")
    assert (entry.actor, entry.role) == ("root", "admin") and entry.after["reason"] is None


def test_viewers_cannot_reveal(setup: Setup) -> None:
    client, store, tokens = setup
    r = client.post(f"/v1/alerts/{PII}/reveal", headers=bearer(tokens["viewer"]))
    assert r.status_code == 403 and IP not in r.text
    assert store.audit_page(action="reveal") == []


def test_analysts_reveal_only_in_their_queues(setup: Setup) -> None:
    client, store, tokens = setup
    r = client.post(f"/v1/alerts/{PII}/reveal", headers=bearer(tokens["topup-analyst"]))
    assert r.status_code == 403
    assert r.json()["detail"] == f"alert {PII} is in queue account_security; your queues: topup"
    assert store.audit_page(action="reveal") == []


def test_revealing_a_missing_alert_is_404_and_not_audited(setup: Setup) -> None:
    client, store, tokens = setup
    r = client.post("/v1/alerts/al_nope/reveal", headers=bearer(tokens["analyst"]))
    assert r.status_code == 404
    assert store.audit_page(action="reveal") == []
