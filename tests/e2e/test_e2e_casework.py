"""A support verdict given through the store's casework reaches wallet.verdicts through
the outbox dispatcher — once per alert of the case — and the running monitor learns it."""

from __future__ import annotations

import asyncio
import re

import pytest
from aiokafka import AIOKafkaConsumer

from monitor.config import Settings
from monitor.events import Verdict, decode_verdict
from monitor.store import AlertStore
from monitor.store.casework import Casework
from tests.e2e.harness import produce, running
from tests.e2e.test_e2e_alerts import takeover

pytestmark = pytest.mark.e2e


async def read_verdicts(settings: Settings, expect: int, timeout: float = 20.0) -> list[Verdict]:
    consumer = AIOKafkaConsumer(
        settings.verdicts_topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    out: list[Verdict] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        idle = 0
        while asyncio.get_running_loop().time() < deadline and (len(out) < expect or idle < 3):
            batch = await consumer.getmany(timeout_ms=300)
            idle = 0 if batch else idle + 1
            for msgs in batch.values():
                for m in msgs:
                    verdict = decode_verdict(m.value)
                    assert isinstance(verdict, Verdict), verdict
                    assert m.key == verdict.account_id.encode()
                    out.append(verdict)
    finally:
        await consumer.stop()
    return out


def verdicts_counted(metrics: str) -> int:
    return sum(
        int(float(n)) for n in re.findall(r"^vigil_verdicts_total\{[^}]*\} (\S+)$", metrics, re.M)
    )


async def test_a_casework_verdict_is_published_and_learned(topics: Settings) -> None:
    settings = topics
    await produce(settings, takeover("acct-cw"))
    async with running(settings) as svc:
        await svc.wait_for(
            "/v1/alerts?account_id=acct-cw",
            lambda b: any(a["event_id"] == "acct-cw-drain" for a in b["data"]),
        )
        store = AlertStore(settings.sqlalchemy_url)  # the API's side: its own connection
        try:
            desk = Casework(store)
            (case,), _ = desk.list_cases(account_id="acct-cw", status="open")
            desk.claim(case.case_id, actor="agent-7", role="analyst")
            given = desk.give_verdict(
                case.case_id, "fraud", "customer denies the drain", actor="agent-7", role="analyst"
            )
        finally:
            store.close()
        alert_ids = set(given.body["alert_ids"])
        assert alert_ids and given.body["published"] == len(alert_ids)
        metrics = await svc.wait_for_text(
            "/metrics", lambda t: verdicts_counted(t) == len(alert_ids)
        )
    assert f'vigil_verdicts_total{{outcome="learned"}} {len(alert_ids)}.0' in metrics
    published = await read_verdicts(settings, expect=len(alert_ids))
    assert {v.alert_id for v in published} == alert_ids  # each alert's verdict exactly once
    assert len(published) == len(alert_ids)
    assert {(v.account_id, v.verdict) for v in published} == {("acct-cw", "fraud")}
