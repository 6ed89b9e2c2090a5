"""The API as its own process (`vigil api`) beside a monitor, sharing one database: it
serves what the monitor stored, and a restore support gives through it reaches the
broker through the monitor's outbox dispatcher."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from monitor.config import Settings
from monitor.service import serve_api
from monitor.stream.embedded import free_port
from tests.e2e.harness import produce, running
from tests.e2e.test_e2e_actions import read_actions
from tests.e2e.test_e2e_alerts import takeover

pytestmark = pytest.mark.e2e


@contextlib.asynccontextmanager
async def api_process(settings: Settings):
    stop = asyncio.Event()
    task = asyncio.create_task(serve_api(settings, stop))
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    base = f"http://{settings.api_host}:{settings.api_port}"
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=5.0) as http:
        for _ in range(100):
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/healthz")).status_code == 200:
                    break
            await asyncio.sleep(0.1)
        try:
            yield http
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)


async def test_the_api_alone_serves_the_monitors_store_and_plans_through_its_outbox(
    topics: Settings,
) -> None:
    monitor = topics
    api = monitor.model_copy(update={"api_port": free_port()})
    await produce(monitor, takeover("acct-ato"))
    async with running(monitor) as svc, api_process(api) as http:
        await svc.wait_for(
            "/v1/alerts?account_id=acct-ato&limit=100",
            lambda b: any("security_change_then_transfer" in a["rule_ids"] for a in b["data"]),
        )
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text  # the database is its readiness
        listed = (await http.get("/v1/alerts?account_id=acct-ato&limit=100")).json()["data"]
        assert any(a["severity"] == "critical" for a in listed)
        assert (await http.get("/v1/rules")).status_code == 503  # no rule pack here
        restored = await http.post(
            "/v1/accounts/acct-ato/restore",
            json={"reason": "customer verified on the hotline"},
            headers={"X-Request-ID": "req-api-1"},
        )
        assert restored.status_code == 202, restored.text
        # the monitor's dispatcher finds it on its next poll of the outbox
        for _ in range(10):
            actions = await read_actions(monitor, expect_at_least=4)
            restores = [
                a
                for a in actions
                if a.account_id == "acct-ato" and a.type == "restore_payment_features"
            ]
            if restores:
                break
            await asyncio.sleep(0.5)
    assert len(restores) == 1  # planned by the API process, published by the monitor
    assert restores[0].reason.endswith("customer verified on the hotline")
