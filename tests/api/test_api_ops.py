"""/metrics exposes the caller's registry (viewers, or on its own port); the OpenAPI
document and /docs describe the API (viewers, or public with VIGIL_PUBLIC_DOCS)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter

from api.app import create_app
from monitor.config import Settings
from monitor.store import AlertStore
from tests.api.auth import ADMIN_TOKEN, bearer

ADMIN = bearer(ADMIN_TOKEN)


def test_metrics_exposes_the_given_registry(settings: Settings, sqlite_store: AlertStore) -> None:
    registry = CollectorRegistry()
    events = Counter("vigil_test_events", "events seen", ["topic"], registry=registry)
    events.labels(topic="wallet.events").inc(3)
    with TestClient(create_app(settings, sqlite_store, registry=registry)) as client:
        assert client.get("/metrics").status_code == 401
        r = client.get("/metrics", headers=ADMIN)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert 'vigil_test_events_total{topic="wallet.events"} 3.0' in r.text
    assert "# TYPE vigil_test_events_total counter" in r.text


def test_metrics_without_registry_is_empty_not_global(
    settings: Settings, sqlite_store: AlertStore
) -> None:
    with TestClient(create_app(settings, sqlite_store)) as client:
        r = client.get("/metrics", headers=ADMIN)
    assert r.status_code == 200
    assert r.text == ""  # a fresh registry, not prometheus_client's process-wide one


def test_openapi_documents_routes(settings: Settings, sqlite_store: AlertStore) -> None:
    with TestClient(create_app(settings, sqlite_store), headers=ADMIN) as client:
        spec = client.get("/openapi.json").json()
        docs = client.get("/docs")
    listing = spec["paths"]["/v1/alerts"]["get"]
    assert listing["summary"] == "List alerts, newest first"
    assert listing["tags"] == ["alerts"]
    params = {p["name"] for p in listing["parameters"]}
    assert params == {
        "account_id",
        "queue",
        "severity",
        "min_severity",
        "rule_id",
        "since",
        "until",
        "limit",
        "offset",
        "cursor",
    }
    assert spec["paths"]["/v1/alerts/{alert_id}"]["get"]["summary"] == "Get one alert"
    assert "404" in spec["paths"]["/v1/alerts/{alert_id}"]["get"]["responses"]
    assert {"/healthz", "/readyz", "/metrics"} <= set(spec["paths"])
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text.lower()


def test_metrics_route_is_gone_when_served_on_its_own_port(
    settings: Settings, sqlite_store: AlertStore
) -> None:
    separate = settings.model_copy(update={"metrics_port": 9464})
    with TestClient(create_app(separate, sqlite_store), headers=ADMIN) as client:
        assert client.get("/metrics").status_code == 404


def test_docs_need_a_token_unless_public(settings: Settings, sqlite_store: AlertStore) -> None:
    with TestClient(create_app(settings, sqlite_store)) as client:
        assert client.get("/openapi.json").status_code == 401
        assert client.get("/docs").status_code == 401
    public = settings.model_copy(update={"public_docs": True})
    with TestClient(create_app(public, sqlite_store)) as client:
        spec = client.get("/openapi.json").json()
        docs = client.get("/docs")
        assert client.get("/v1/alerts").status_code == 401
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert docs.status_code == 200
    # Swagger UI's own policy: its scripts load, nothing frames it
    assert "cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
