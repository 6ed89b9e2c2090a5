"""/metrics exposes the caller's registry; the OpenAPI document and /docs describe the API."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter

from api.app import create_app
from monitor.config import Settings
from monitor.store import AlertStore


def test_metrics_exposes_the_given_registry(settings: Settings, sqlite_store: AlertStore) -> None:
    registry = CollectorRegistry()
    events = Counter("vigil_test_events", "events seen", ["topic"], registry=registry)
    events.labels(topic="wallet.events").inc(3)
    with TestClient(create_app(settings, sqlite_store, registry=registry)) as client:
        r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert 'vigil_test_events_total{topic="wallet.events"} 3.0' in r.text
    assert "# TYPE vigil_test_events_total counter" in r.text


def test_metrics_without_registry_is_empty_not_global(
    settings: Settings, sqlite_store: AlertStore
) -> None:
    with TestClient(create_app(settings, sqlite_store)) as client:
        r = client.get("/metrics")
    assert r.status_code == 200
    assert r.text == ""  # a fresh registry, not prometheus_client's process-wide one


def test_openapi_documents_routes(settings: Settings, sqlite_store: AlertStore) -> None:
    with TestClient(create_app(settings, sqlite_store)) as client:
        spec = client.get("/openapi.json").json()
        docs = client.get("/docs")
    listing = spec["paths"]["/v1/alerts"]["get"]
    assert listing["summary"] == "List alerts, newest first"
    assert listing["tags"] == ["alerts"]
    params = {p["name"] for p in listing["parameters"]}
    assert params == {
        "account_id",
        "severity",
        "min_severity",
        "rule_id",
        "since",
        "until",
        "limit",
        "offset",
    }
    assert spec["paths"]["/v1/alerts/{alert_id}"]["get"]["summary"] == "Get one alert"
    assert "404" in spec["paths"]["/v1/alerts/{alert_id}"]["get"]["responses"]
    assert {"/healthz", "/readyz", "/metrics"} <= set(spec["paths"])
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text.lower()
