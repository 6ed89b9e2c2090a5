"""Commands also reach the wallet's backend as signed webhooks: a receiver that verifies the
signatures and dedupes gets each command once; a backend that keeps failing puts the
command in the dead-letter table and opens a P1 ops case."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from pydantic import SecretStr

from monitor.config import Settings
from monitor.responders.signing import ReplayGuard, new_secret, verify
from monitor.store import AlertStore
from monitor.stream.embedded import free_port
from tests.e2e.harness import produce, running
from tests.e2e.test_e2e_alerts import takeover

pytestmark = pytest.mark.e2e


@dataclass
class Receiver:
    secret: str
    status: int = 200
    received: list[str] = field(default_factory=list)  # verified, first deliveries
    rejected: int = 0
    attempts: int = 0
    guard: ReplayGuard = field(default_factory=lambda: ReplayGuard(ttl_s=600))

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            self.attempts += 1
            body = await request.body()
            try:
                verify(dict(request.headers), body, [self.secret], now=time.time())
            except Exception:
                self.rejected += 1
                return Response(status_code=401)
            if self.status >= 300:
                return Response(status_code=self.status)
            msg_id = request.headers["webhook-id"]
            if not self.guard.seen_before(msg_id, time.time()):
                self.received.append(msg_id)
            return Response(status_code=204)

        return app


@contextlib.asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(receiver.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        server.should_exit = True
        await task


def hooked(settings: Settings, url: str, secret: str, **extra: object) -> Settings:
    return settings.model_copy(
        update={
            "webhook_url": url,
            "webhook_secrets": [SecretStr(secret)],
            "webhook_allow_http_loopback": True,
            **extra,
        }
    )


async def test_signed_webhooks_are_received_once(topics: Settings) -> None:
    receiver = Receiver(secret=new_secret())
    await produce(topics, takeover("acct-wh"))
    async with serving(receiver) as url:
        settings = hooked(topics, url, receiver.secret)
        async with running(settings) as svc:
            await svc.wait_for_text(
                "/metrics",
                lambda t: (
                    "vigil_outbox_depth 0.0" in t
                    and 'vigil_webhooks_total{outcome="delivered"}' in t
                ),
            )
            store = AlertStore(settings.sqlalchemy_url)
            try:
                for _ in range(100):
                    if not store.pending_webhooks():
                        break
                    await asyncio.sleep(0.1)
                depth = len(store.pending_webhooks())
            finally:
                store.close()
    assert depth == 0
    assert receiver.rejected == 0
    assert len(receiver.received) == len(set(receiver.received)) >= 4


async def test_failing_backend_ends_in_dead_letters_and_a_case(topics: Settings) -> None:
    receiver = Receiver(secret=new_secret(), status=500)
    failures = [(b"acct-x", raw) for _, raw in takeover("acct-x")][:10]  # brute force only
    await produce(topics, failures)
    async with serving(receiver) as url:
        settings = hooked(topics, url, receiver.secret, webhook_max_attempts=2)
        async with running(settings) as svc:
            metrics = await svc.wait_for_text(
                "/metrics", lambda t: 'vigil_webhooks_total{outcome="exhausted"}' in t, timeout=40
            )
    store = AlertStore(settings.sqlalchemy_url)
    try:
        dead = store.webhook_dead_letters()
        cases = store.open_cases("acct-x")
    finally:
        store.close()
    assert dead and all(d["outcome"] == "exhausted" and d["attempts"] == 2 for d in dead)
    assert all(d["statuses"] == [500, 500] for d in dead)
    assert any(c["category"] == "ops" and c["priority"] == "P1" for c in cases)
    assert receiver.rejected == 0 and receiver.attempts >= 2
    assert "vigil_webhooks_total" in metrics
