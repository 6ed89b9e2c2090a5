"""Producers in the wild: every compression codec, and confluent-kafka (librdkafka 2.x),
a client nobody here wrote, producing in the contract's format."""

from __future__ import annotations

import asyncio

import pytest
from confluent_kafka import Producer

from monitor.config import Settings
from monitor.testing import at, login
from tests.e2e.harness import produce, running

pytestmark = pytest.mark.e2e
T0 = "2026-03-02T08:00:00Z"


async def test_every_compression_codec_is_consumed(topics: Settings) -> None:
    settings = topics
    codecs = ["gzip", "snappy", "lz4", "zstd", None]
    for i, codec in enumerate(codecs):
        await produce(
            settings,
            [
                (b"acct-c", login("acct-c", at(T0, minutes=i * 5 + j), event_id=f"{codec}-{j}"))
                for j in range(3)
            ],
            compression=codec,
        )
    async with running(settings) as svc:
        await svc.wait_for_text(
            "/metrics", lambda t: 'vigil_events_consumed_total{type="login"} 15.0' in t
        )
        assert "vigil_events_invalid_total{" not in (await svc.http.get("/metrics")).text


async def test_confluent_kafka_producer_events_are_decided(topics: Settings) -> None:
    settings = topics
    producer = Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "compression.type": "zstd",
            "linger.ms": 5,
            "acks": "all",
        }
    )
    for m in range(7):
        producer.produce(
            settings.events_topic,
            key="acct-ck",
            value=login("acct-ck", at(T0, minutes=m), success=False, event_id=f"ck-{m}"),
        )
    assert await asyncio.to_thread(producer.flush, 15) == 0
    async with running(settings) as svc:
        body = await svc.wait_for(
            "/v1/alerts?account_id=acct-ck",
            lambda b: any(a["event_id"] == "ck-6" for a in b["data"]),
        )
    alert = next(a for a in body["data"] if a["event_id"] == "ck-6")
    assert alert["rule_ids"] == ["brute_force"]
    assert alert["reasons"][0]["values"] == {"failed_logins_10m": 7}
