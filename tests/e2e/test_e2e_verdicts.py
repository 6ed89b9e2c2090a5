"""Support verdicts on wallet.verdicts reach the owner of the account's partition and teach
its supervised model from the inputs stored with the alert; bad verdicts are dead-lettered."""

from __future__ import annotations

import json

import pytest
from aiokafka import AIOKafkaProducer

from monitor.config import Settings
from monitor.testing import at, login
from tests.e2e.harness import produce, running

pytestmark = pytest.mark.e2e
T0 = "2026-03-02T08:00:00Z"


async def test_verdicts_are_learned_from_stored_alerts(topics: Settings) -> None:
    settings = topics
    events = [
        (
            f"acct-v{a}".encode(),
            login(f"acct-v{a}", at(T0, minutes=m), success=False, event_id=f"v{a}-{m}"),
        )
        for a in range(3)
        for m in range(6)
    ]
    await produce(settings, events)
    async with running(settings) as svc:
        body = await svc.wait_for("/v1/alerts?rule_id=brute_force", lambda b: b["count"] == 3)
        assert all(a["actions"] == ["require_step_up"] for a in body["data"])
        verdicts = [
            {
                "alert_id": a["alert_id"],
                "account_id": a["account_id"],
                "verdict": "fraud" if i else "legitimate",
                "ts": at(T0, days=3),
            }
            for i, a in enumerate(body["data"])
        ]
        verdicts.append(
            {
                "alert_id": "al_unknown",
                "account_id": "acct-v0",
                "verdict": "fraud",
                "ts": at(T0, days=3),
            }
        )
        verdicts.append(
            {
                "alert_id": "x",
                "account_id": "acct-v0",
                "verdict": "inconclusive",
                "ts": at(T0, days=3),
            }
        )
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
        await producer.start()
        try:
            for v in verdicts:
                await producer.send(
                    settings.verdicts_topic, json.dumps(v).encode(), key=v["account_id"].encode()
                )
            await producer.send(settings.verdicts_topic, b'{"verdict": "maybe"}', key=b"k")
            await producer.flush()
        finally:
            await producer.stop()
        metrics = await svc.wait_for_text(
            "/metrics", lambda t: 'vigil_verdicts_total{outcome="learned"} 3.0' in t
        )
    assert 'vigil_verdicts_total{outcome="unknown_alert"} 1.0' in metrics
    assert 'vigil_verdicts_total{outcome="inconclusive"} 1.0' in metrics
    assert 'vigil_events_invalid_total{reason="schema"} 1.0' in metrics
