"""The production store: the same path from the broker to the API, on PostgreSQL."""

from __future__ import annotations

import pytest

from monitor.config import Settings
from monitor.testing import at, payment
from tests.e2e.harness import produce, running

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
T0 = "2026-03-02T08:00:00Z"


async def test_alerts_are_stored_in_postgres(topics: Settings, pg_url: str) -> None:
    settings = topics.model_copy(update={"database_url": pg_url})
    key = b"acct-pg"
    events = [
        (
            key,
            payment(
                "acct-pg",
                at(T0, minutes=m),
                2.0,
                status="failed",
                payee_id="merchant-9",
                event_id=f"pg-{m}",
            ),
        )
        for m in range(6)
    ]
    await produce(settings, events)
    async with running(settings) as svc:
        body = await svc.wait_for("/v1/alerts?rule_id=card_testing", lambda b: b["count"] >= 2)
        ready = (await svc.http.get("/readyz")).json()
    assert [a["event_id"] for a in body["data"]] == ["pg-5", "pg-4"]
    assert body["data"][0]["reasons"][0]["values"] == {"small_failed_payments_10m": 6}
    assert ready["checks"]["database"] == "ok"
