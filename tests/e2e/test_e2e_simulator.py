"""The simulator produces to the real broker and the monitor flags its attacks."""

from __future__ import annotations

import pytest

from monitor.config import Settings
from monitor.simulate import SimConfig, produce
from tests.e2e.harness import running

pytestmark = pytest.mark.e2e


async def test_simulated_attacks_raise_alerts(topics: Settings) -> None:
    settings = topics
    cfg = SimConfig(accounts=300, days=1.0, seed=11, attack_share=0.1)
    stats = await produce(
        cfg, settings.kafka_bootstrap, settings.events_topic, labels_topic=None, compression="lz4"
    )
    assert stats.events > 1000 and stats.malicious > 0
    async with running(settings) as svc:
        await svc.wait_for_text("/metrics", lambda t: _consumed(t) >= stats.events, timeout=60)
        # decided is not yet stored: the batch's alerts are written after it is decided
        body = await svc.wait_for(
            "/v1/alerts?min_severity=high&limit=500", lambda b: b["count"] > 0, timeout=30
        )
    rules = {r for a in body["data"] for r in a["rule_ids"]}
    assert rules & {"security_change_then_transfer", "card_testing", "new_device_large_transfer"}


def _consumed(metrics: str) -> int:
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("vigil_events_consumed_total{")
        )
    )
