"""Malformed messages go to the dead-letter topic unchanged, with headers naming the error
and where they came from; the service keeps deciding the good ones."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer

from monitor.config import Settings
from monitor.testing import login
from tests.e2e.harness import produce, running

pytestmark = pytest.mark.e2e

BAD = {
    b"not json": "invalid_json",
    b'{"event_id":"x","type":"login","account_id":"a","ts":"2026-01-01T00:00:00Z",'
    b'"success":true,"method":"password","device_id":"\xff\xfe"}': "invalid_utf8",
    b'{"event_id":"x","type":"login","account_id":"a"}': "schema",
    b'{"event_id":"x","type":"login","account_id":"a","ts":"2026-01-01T00:00:00",'
    b'"success":true,"method":"password"}': "schema",  # no offset in the timestamp
    b'{"event_id":"x","type":"payment","account_id":"a","ts":"2026-01-01T00:00:00Z",'
    b'"amount":"12","currency":"CNY","kind":"purchase","payee_id":"p","status":"succeeded"}': (
        "schema"
    ),
    b'{"event_id":"x","type":"teleport","account_id":"a","ts":"2026-01-01T00:00:00Z"}': "schema",
    b"[1, 2, 3]": "schema",
}


async def test_bad_messages_go_to_the_dead_letter_topic(topics: Settings) -> None:
    settings = topics.model_copy(update={"max_event_bytes": 2048})
    oversized = login("acct-big", "2026-01-01T00:00:00Z").replace(
        b"}", b',"pad":"' + b"x" * 4096 + b'"}'
    )
    bad = {**BAD, oversized: "too_large"}
    good = login("acct-good", "2026-01-01T00:00:00Z", event_id="good-1")
    await produce(settings, [(b"k", raw) for raw in bad] + [(b"acct-good", good)])

    async with running(settings) as svc:
        dlq = AIOKafkaConsumer(
            settings.dlq_topic,
            bootstrap_servers=settings.kafka_bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await dlq.start()
        try:
            got = []
            while len(got) < len(bad):
                for msgs in (await dlq.getmany(timeout_ms=10_000)).values():
                    got.extend(msgs)
                assert not svc.task.done()
        finally:
            await dlq.stop()
        metrics = await svc.wait_for_text(
            "/metrics", lambda text: 'vigil_events_consumed_total{type="login"} 1.0' in text
        )

    assert {m.value for m in got} == set(bad)  # raw bytes, unchanged
    for msg in got:
        headers = dict(msg.headers)
        assert headers["vigil.error.reason"].decode() == bad[msg.value]
        assert headers["vigil.error.detail"]
        assert headers["vigil.source.topic"].decode() == settings.events_topic
        assert int(headers["vigil.source.offset"]) >= 0
        assert headers["vigil.source.partition"].decode().isdigit()
    assert 'vigil_events_invalid_total{reason="schema"} 5.0' in metrics
    assert 'vigil_events_invalid_total{reason="too_large"} 1.0' in metrics
    assert 'vigil_events_invalid_total{reason="invalid_utf8"} 1.0' in metrics
