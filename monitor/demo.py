"""``vigil demo``: the whole system on one machine — embedded broker, simulator,
monitor and API — with nothing to install beyond the package."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer

from monitor.config import Settings
from monitor.service import serve
from monitor.simulate import SimConfig, produce
from monitor.store import AlertStore, AuditContext
from monitor.stream.embedded import EmbeddedBroker
from monitor.stream.topics import ensure_topics

log = logging.getLogger("vigil.demo")

# A few malformed messages, so the dead-letter path shows up in /metrics.
POISON = [
    b"not json at all",
    b'{"event_id":"bad-1","type":"login","account_id":"acct-x"}',
    b'{"event_id":"bad-2","type":"payment","account_id":"acct-x","ts":"2026-01-01T00:00:00Z",'
    b'"amount":-5,"currency":"CNY","kind":"transfer","payee_id":"p","status":"succeeded"}',
]


async def run_demo(
    settings: Settings,
    stop: asyncio.Event,
    *,
    accounts: int,
    days: float,
    speed: float,
    attack_share: float,
    data_dir: Path,
) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    db = data_dir / "demo.db"
    for leftover in (db, db.with_suffix(".db-wal"), db.with_suffix(".db-shm")):
        leftover.unlink(missing_ok=True)  # the broker starts empty, so does the demo's store
    with EmbeddedBroker(log_path=data_dir / "broker.log") as broker:
        settings = settings.model_copy(
            update={
                "kafka_bootstrap": broker.bootstrap,
                "database_url": f"sqlite:///{db}",
                "public_docs": True,  # /docs in a browser; its Authorize button takes the token
            }
        )
        token = demo_admin_token(settings.sqlalchemy_url)
        await ensure_topics(
            broker.bootstrap,
            {
                settings.events_topic: settings.topic_partitions,
                settings.dlq_topic: 1,
                settings.labels_topic: 1,
            },
        )
        api = f"http://{settings.api_host}:{settings.api_port}"
        auth = f'-H "Authorization: Bearer {token}"'
        print(
            f"""
Vigil demo running — embedded Kafka-compatible broker (Tansu) at {broker.bootstrap}
  token      {token}  (admin "demo"; every route but /healthz needs one)
  console    {api}/console  (support console: paste the token to log in)
  alerts     curl {auth} "{api}/v1/alerts?min_severity=medium"
  API docs   {api}/docs  (Authorize: paste the token)
  readiness  curl {auth} {api}/readyz
  metrics    curl {auth} {api}/metrics
  more users VIGIL_DATABASE_URL=sqlite:///{db} vigil users create NAME --role viewer
Simulating {accounts} accounts over {days:g} days of event time at {speed:g}x; Ctrl-C stops.
""",
            file=sys.stderr,
            flush=True,
        )
        monitor = asyncio.create_task(serve(settings, stop), name="monitor")
        await _poison(broker.bootstrap, settings.events_topic)
        start = datetime.now(UTC) - timedelta(days=days)
        cfg = SimConfig(
            accounts=accounts,
            days=days,
            attack_share=attack_share,
            start=start.replace(microsecond=0),
        )
        stats = await produce(
            cfg,
            broker.bootstrap,
            settings.events_topic,
            settings.labels_topic,
            speed=speed,
            stop=stop,
        )
        print(
            f"simulator done: {stats.events} events, {stats.malicious} malicious in "
            f"{sum(stats.campaigns.values())} campaigns; the monitor keeps running",
            file=sys.stderr,
            flush=True,
        )
        await monitor


def demo_admin_token(url: str) -> str:
    """The demo's admin user ``demo`` in a fresh database; returns their token."""
    store = AlertStore(url)
    try:
        store.create_schema()
        _, token = store.create_user("demo", "admin", by=AuditContext("vigil-demo", "cli"))
    finally:
        store.close()
    return token


async def _poison(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for raw in POISON:
            await producer.send_and_wait(topic, raw, key=b"acct-x")
    finally:
        await producer.stop()
