"""Commit after durable: while the store cannot write, no offset is committed past the
undecided events, /readyz says not ready, and the service recovers by itself."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from monitor.config import Settings
from monitor.decision import Decision
from monitor.store import AlertStore, StoreUnavailable
from monitor.testing import at, login
from tests.e2e.harness import committed_offsets, end_positions, produce, running

pytestmark = pytest.mark.e2e


class OutageStore(AlertStore):
    """The real SQLite store, with a switch that makes writes fail like a lost database."""

    down = True
    failed_writes = 0

    def save_decisions(self, decisions: Sequence[Decision], **kw: Any) -> int:
        if self.down:
            self.failed_writes += 1
            raise StoreUnavailable("database unavailable: connection refused (test outage)")
        return super().save_decisions(decisions, **kw)


async def test_no_commit_while_the_store_is_down(topics: Settings) -> None:
    settings = topics
    t0 = "2026-03-02T08:00:00Z"
    events = [
        (b"acct-x", login("acct-x", at(t0, minutes=m), success=False, event_id=f"x{m}"))
        for m in range(8)
    ]
    await produce(settings, events)
    store = OutageStore(settings.sqlalchemy_url)
    try:
        async with running(settings, store=store) as svc:
            ready = await svc.wait_for(
                "/readyz", lambda b: b["checks"].get("store_writes", "ok") != "ok"
            )
            assert ready["status"] == "not ready"
            assert "test outage" in ready["checks"]["store_writes"]
            await asyncio.sleep(1.0)  # several retries happen meanwhile
            assert store.failed_writes >= 2
            assert set((await committed_offsets(settings)).values()) == {0}
            assert store.count_alerts() == 0

            store.down = False
            await svc.wait_for(
                "/v1/alerts?account_id=acct-x",
                lambda b: any("brute_force" in a["rule_ids"] for a in b["data"]),
            )
            await svc.wait_for("/readyz", lambda b: b["status"] == "ready")
            ends = await end_positions(settings, settings.events_topic)
            expected = {p: ends.get(p, 0) for p in range(settings.topic_partitions)}
            for _ in range(50):
                if await committed_offsets(settings) == expected:
                    break
                await asyncio.sleep(0.1)
            assert await committed_offsets(settings) == expected
    finally:
        store.close()
