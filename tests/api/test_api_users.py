"""/v1/users: admins create people, issue and revoke tokens, disable users; the token is
in the creating answer only, and every change is audited with the admin as actor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from monitor.config import Settings
from monitor.store import AlertStore
from tests.api.auth import ADMIN_TOKEN, bearer, create_users

Setup = tuple[TestClient, AlertStore, dict[str, str]]


@pytest.fixture
def setup(sqlite_store: AlertStore) -> Iterator[Setup]:
    tokens = create_users(sqlite_store)
    settings = Settings(database_url="sqlite:///unused.db", admin_token=ADMIN_TOKEN)
    app = create_app(settings, sqlite_store)
    with TestClient(app, headers=bearer(tokens["admin"])) as client:
        yield client, sqlite_store, tokens


def test_create_a_user_whose_token_works_at_once(setup: Setup) -> None:
    client, store, _ = setup
    r = client.post(
        "/v1/users",
        json={"name": "pat", "role": "analyst", "queues": ["payments", "topup"]},
        headers={"X-Request-ID": "mk-pat"},
    )
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert r.json()["name"] == "pat" and token.startswith("vgl_")
    assert client.get("/v1/alerts", headers=bearer(token)).status_code == 200
    listed = {u["name"]: u for u in client.get("/v1/users").json()["data"]}
    assert listed["pat"]["queues"] == ["payments", "topup"]
    assert listed["pat"]["active_tokens"] == 1 and listed["pat"]["last_used_at"] is not None
    assert token not in client.get("/v1/users").text
    (entry,) = store.audit_page(target="user:pat")
    assert (entry.action, entry.actor, entry.role, entry.request_id) == (
        "user_create",
        "root",
        "admin",
        "mk-pat",
    )
    assert token not in str(entry.after)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"name": "vic", "role": "viewer"}, 409, "exists already"),
        ({"name": "bob", "role": "analyst"}, 422, "an analyst needs queues"),
        ({"name": "bob", "role": "analyst", "queues": ["vip"]}, 422, "unknown queue(s) vip"),
        ({"name": "Bob Smith", "role": "viewer"}, 422, "invalid user name"),
        ({"name": "admin-token", "role": "admin"}, 422, "reserved"),
        ({"name": "bob", "role": "root"}, 422, "viewer"),
    ],
)
def test_invalid_users_are_refused(
    setup: Setup, body: dict[str, object], status: int, message: str
) -> None:
    client, _, _ = setup
    r = client.post("/v1/users", json=body)
    assert r.status_code == status
    assert message in str(r.json()["detail"])


def test_revoke_then_issue_a_new_token(setup: Setup) -> None:
    client, store, tokens = setup
    viewer = bearer(tokens["viewer"])
    assert client.post("/v1/users/vic/revoke").json() == {"name": "vic", "revoked": 1}
    assert client.get("/v1/alerts", headers=viewer).status_code == 401
    fresh = client.post("/v1/users/vic/tokens")
    assert fresh.status_code == 201
    assert client.get("/v1/alerts", headers=bearer(fresh.json()["token"])).status_code == 200
    actions = [e.action for e in store.audit_page(target="user:vic")]
    assert actions == ["token_create", "token_revoke", "user_create"]


def test_disable_a_user(setup: Setup) -> None:
    client, _, tokens = setup
    assert client.post("/v1/users/ana/disable").status_code == 204
    assert client.get("/v1/alerts", headers=bearer(tokens["analyst"])).status_code == 401
    assert client.post("/v1/users/ana/tokens").status_code == 409
    (ana,) = [u for u in client.get("/v1/users").json()["data"] if u["name"] == "ana"]
    assert ana["disabled"] is True and ana["active_tokens"] == 0


@pytest.mark.parametrize("action", ["tokens", "revoke", "disable"])
def test_unknown_users_are_404(setup: Setup, action: str) -> None:
    client, _, _ = setup
    r = client.post(f"/v1/users/zed/{action}")
    assert r.status_code == 404 and r.json()["detail"] == "no user 'zed' (vigil users list)"
