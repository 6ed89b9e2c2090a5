"""An event far behind its account's newest event is not folded into state: it is kept,
unchanged, on the late topic with how far behind it was, and counted."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer

from monitor.config import Settings
from monitor.testing import at, login
from tests.e2e.harness import produce, running

pytestmark = pytest.mark.e2e
T0 = "2026-03-02T08:00:00Z"


async def test_late_events_go_to_the_late_topic(topics: Settings) -> None:
    settings = topics
    on_time = login("acct-l", at(T0, hours=2), event_id="on-time")
    within_grace = login("acct-l", at(T0, hours=2, minutes=-4), event_id="within-grace")
    late = login("acct-l", at(T0, hours=1), event_id="late")
    await produce(settings, [(b"acct-l", on_time), (b"acct-l", within_grace), (b"acct-l", late)])
    async with running(settings) as svc:
        metrics = await svc.wait_for_text(
            "/metrics", lambda t: 'vigil_events_late_total{type="login"} 1.0' in t
        )
        consumer = AIOKafkaConsumer(
            settings.late_topic,
            bootstrap_servers=settings.kafka_bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            batch = await consumer.getmany(timeout_ms=10_000)
        finally:
            await consumer.stop()
    (messages,) = batch.values()
    assert [m.value for m in messages] == [late]
    assert dict(messages[0].headers)["vigil.late.behind_s"] == b"3600.0"
    assert 'vigil_events_consumed_total{type="login"} 2.0' in metrics
