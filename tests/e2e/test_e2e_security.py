"""The running service's API is closed to anonymous callers (but /healthz), opens to a
user's token, and with VIGIL_METRICS_PORT serves /metrics unauthenticated on its own port
and not on the API's."""

from __future__ import annotations

import httpx
import pytest

from monitor.config import Settings
from monitor.store import AlertStore, AuditContext
from monitor.stream.embedded import free_port
from monitor.testing import at, login
from tests.e2e.harness import produce, running

pytestmark = pytest.mark.e2e
T0 = "2026-03-02T08:00:00Z"


async def test_tokens_and_a_separate_metrics_port(topics: Settings) -> None:
    settings = topics.model_copy(update={"metrics_port": free_port()})
    store = AlertStore(settings.sqlalchemy_url)
    store.create_schema()
    _, token = store.create_user("vic", "viewer", by=AuditContext("tests", "cli"))
    await produce(
        settings,
        [
            (b"acct-s", login("acct-s", at(T0, minutes=m), success=False, event_id=f"s-{m}"))
            for m in range(6)
        ],
    )
    try:
        async with running(settings, store) as svc:
            await svc.wait_for("/v1/alerts?account_id=acct-s", lambda b: b["count"] >= 1)
            base = str(svc.http.base_url)
            async with httpx.AsyncClient(base_url=base, timeout=5) as anonymous:
                assert (await anonymous.get("/healthz")).status_code == 200
                assert (await anonymous.get("/v1/alerts")).status_code == 401
                assert (await anonymous.get("/readyz")).status_code == 401
                viewer = {"Authorization": f"Bearer {token}"}
                mine = await anonymous.get("/v1/alerts?account_id=acct-s", headers=viewer)
                assert mine.json()["data"][0]["rule_ids"] == ["brute_force"]
                assert (await anonymous.get("/metrics", headers=viewer)).status_code == 404
            metrics_url = f"http://{settings.api_host}:{settings.metrics_port}/metrics"
            async with httpx.AsyncClient(timeout=5) as scraper:
                scraped = await scraper.get(metrics_url)
            assert scraped.status_code == 200
            assert 'vigil_events_consumed_total{type="login"} 6.0' in scraped.text
    finally:
        store.close()
    with pytest.raises(httpx.TransportError):  # stopped with the service
        httpx.get(metrics_url, timeout=2)
