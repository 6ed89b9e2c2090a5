"""Soak (``make soak``, not in ``make test``): a week of a 20,000-account wallet through the
real broker; every event decided exactly once, every offset committed, lag back to 0,
every command published."""

from __future__ import annotations

import pytest

from monitor.config import Settings
from monitor.simulate import SimConfig, produce
from monitor.store import AlertStore
from tests.e2e.harness import committed_offsets, end_positions, running

pytestmark = [pytest.mark.soak, pytest.mark.e2e]


def _consumed(metrics: str) -> int:
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("vigil_events_consumed_total{")
        )
    )


async def test_a_week_of_traffic(topics: Settings) -> None:
    settings = topics
    stats = await produce(
        SimConfig(accounts=20_000, days=7, seed=21),
        settings.kafka_bootstrap,
        settings.events_topic,
        labels_topic=None,
        compression="zstd",
    )
    async with running(settings) as svc:
        metrics = await svc.wait_for_text(
            "/metrics", lambda t: _consumed(t) >= stats.events, timeout=900
        )
        await svc.wait_for_text("/metrics", lambda t: "vigil_outbox_depth 0.0" in t, timeout=120)
        ready = await svc.wait_for("/readyz", lambda b: b["status"] == "ready")
    assert _consumed(metrics) == stats.events  # each event decided once
    assert "vigil_events_invalid_total{" not in metrics
    ends = await end_positions(settings, settings.events_topic)
    assert await committed_offsets(settings) == {
        p: ends.get(p, 0) for p in range(settings.topic_partitions)
    }
    assert ready["checks"]["lag"] == "ok"
    store = AlertStore(settings.sqlalchemy_url)
    try:
        assert store.count_alerts() > 0 and store.outbox_depth() == 0
    finally:
        store.close()
