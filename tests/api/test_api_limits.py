"""Request body limit (413, with or without Content-Length), rate limit per token (429 with
Retry-After), security headers and request ids on every answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.ratelimit import TokenBuckets
from monitor.config import Settings
from monitor.store import AlertStore
from tests.api.auth import ADMIN_TOKEN, bearer, create_users

ADMIN = bearer(ADMIN_TOKEN)


def app_client(store: AlertStore, **settings: object) -> TestClient:
    base = Settings(database_url="sqlite:///unused.db", admin_token=ADMIN_TOKEN)
    return TestClient(create_app(base.model_copy(update=settings), store))


@pytest.fixture
def small_bodies(sqlite_store: AlertStore) -> Iterator[TestClient]:
    with app_client(sqlite_store, max_body_bytes=200) as client:
        yield client


def user_body(padding: int) -> dict[str, object]:
    return {"name": "pad", "role": "analyst", "queues": ["payments"], "pad": "x" * padding}


def test_a_body_over_the_limit_is_413(small_bodies: TestClient) -> None:
    r = small_bodies.post("/v1/users", json=user_body(500), headers=ADMIN)
    assert r.status_code == 413
    assert r.json() == {"detail": "request body larger than 200 bytes (VIGIL_MAX_BODY_BYTES)"}
    assert r.headers["x-content-type-options"] == "nosniff"  # the headers wrap the limit
    assert small_bodies.get("/v1/users", headers=ADMIN).json()["count"] == 0


def test_a_chunked_body_over_the_limit_is_413(small_bodies: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "pad", "role": "viewer", "pad": "'
        for _ in range(10):
            yield b"x" * 50
        yield b'"}'

    r = small_bodies.post(
        "/v1/users", content=chunks(), headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in r.request.headers
    assert r.status_code == 413
    assert "VIGIL_MAX_BODY_BYTES" in r.json()["detail"]


def test_a_body_under_the_limit_goes_through(small_bodies: TestClient) -> None:
    r = small_bodies.post("/v1/users", json=user_body(10), headers=ADMIN)
    assert r.status_code == 201, r.text


def test_a_malformed_content_length_is_400(small_bodies: TestClient) -> None:
    r = small_bodies.post("/v1/users", content=b"{}", headers={**ADMIN, "Content-Length": "x"})
    assert r.status_code == 400


def test_the_rate_limit_is_per_token_with_retry_after(sqlite_store: AlertStore) -> None:
    tokens = create_users(sqlite_store)
    viewer, analyst = bearer(tokens["viewer"]), bearer(tokens["analyst"])
    with app_client(sqlite_store, rate_limit_per_s=0.5, rate_limit_burst=3) as client:
        codes = [client.get("/v1/alerts", headers=viewer).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = client.get("/v1/alerts", headers=viewer)
        assert r.status_code == 429 and r.headers["retry-after"] == "2"
        assert "0.5 requests/s per token, bursts of 3" in r.json()["detail"]
        assert r.headers["x-frame-options"] == "DENY"
        # someone else's token has its own bucket; liveness is never limited
        assert client.get("/v1/alerts", headers=analyst).status_code == 200
        assert all(client.get("/healthz").status_code == 200 for _ in range(10))


def test_anonymous_callers_are_limited_by_address(sqlite_store: AlertStore) -> None:
    with app_client(sqlite_store, rate_limit_per_s=0.5, rate_limit_burst=2) as client:
        codes = [client.get("/v1/alerts").status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def test_a_zero_rate_turns_the_limit_off(sqlite_store: AlertStore) -> None:
    with app_client(sqlite_store, rate_limit_per_s=0, rate_limit_burst=1) as client:
        assert {client.get("/metrics", headers=ADMIN).status_code for _ in range(5)} == {200}


def test_buckets_forget_the_least_recent_keys() -> None:
    buckets = TokenBuckets(1.0, 1, clock=lambda: 0.0, max_keys=2)
    assert [buckets.take(k) for k in ("a", "b", "c")] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == 0.0  # forgotten, so full again
    assert buckets.take("c") == 1.0
    with pytest.raises(ValueError, match="rate_per_s > 0"):
        TokenBuckets(0, 1)


@pytest.mark.parametrize(
    ("path", "status"),
    [("/healthz", 200), ("/v1/alerts", 200), ("/v1/alerts/al_nope", 404), ("/nowhere", 404)],
)
def test_security_headers_on_every_answer(sqlite_store: AlertStore, path: str, status: int) -> None:
    with app_client(sqlite_store) as client:
        r = client.get(path, headers=ADMIN)
        anonymous = client.get(path)
    assert r.status_code == status
    for answer in (r, anonymous):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert (
            answer.headers["content-security-policy"]
            == "default-src 'none'; frame-ancestors 'none'"
        )
        assert len(answer.headers["x-request-id"]) == 32
        assert "strict-transport-security" not in answer.headers  # plain HTTP here
    assert (r.headers.get("cache-control") == "no-store") == path.startswith("/v1")


def test_hsts_over_https(sqlite_store: AlertStore) -> None:
    base = Settings(database_url="sqlite:///unused.db")
    with TestClient(create_app(base, sqlite_store), base_url="https://vigil.test") as client:
        assert client.get("/healthz").headers["strict-transport-security"] == "max-age=31536000"


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [("abc-123", "abc-123"), ("a" * 129, None), ("two words", None), ("a;b\\r", None)],
)
def test_request_ids_are_echoed_when_sane(
    sqlite_store: AlertStore, sent: str, echoed: str | None
) -> None:
    with app_client(sqlite_store) as client:
        got = client.get("/healthz", headers={"X-Request-ID": sent}).headers["x-request-id"]
    if echoed is None:
        assert got != sent and len(got) == 32
    else:
        assert got == echoed
