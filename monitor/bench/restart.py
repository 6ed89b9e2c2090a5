"""Restart to first decision with a large account table (issue 7: ≤ 10 s at 1M accounts).

The account states are built as in ``vigil bench memory`` (a realistic handful of
events per account), spread over the partitions the way Kafka would spread them
(by account), checkpointed into a fresh SQLite store exactly as the service does it
(snapshot, seal, save). Then the real service starts against the embedded broker with
one new event waiting, and the clock runs from ``serve()`` to that event's decision:
group join, checkpoint loads and restores, seek, fetch, decide, store, commit.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from pydantic import SecretStr

from monitor.bench.memory import account_events
from monitor.checkpoint import Where, seal
from monitor.config import Settings
from monitor.pipeline import PartitionPipeline
from monitor.ruleset import load_rules
from monitor.store import AlertStore

_KEY = "bench-restart-key-7Hq3Lz9Vw2Xr5Np8"


def _partition(account: str, partitions: int) -> int:
    return zlib.crc32(account.encode()) % partitions  # any stable spread will do


def build_checkpoints(
    settings: Settings,
    accounts: int,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Fill the store with one checkpoint per partition holding ``accounts`` accounts."""
    rules = load_rules(settings.rules_dir)
    n = settings.topic_partitions
    pipes = [PartitionPipeline(p, rules, **settings.pipeline_options()) for p in range(n)]
    for i in range(accounts):
        for event in account_events(i):
            pipe = pipes[_partition(event.account_id, n)]
            pipe.process(event)
        if progress is not None and i % 10_000 == 9_999:
            progress(10_000)
    store = AlertStore(settings.sqlalchemy_url)
    store.create_schema()
    key = settings.checkpoint_key
    assert key is not None
    t0 = time.perf_counter()
    size = 0
    for pipe in pipes:
        body = msgspec.msgpack.encode([None, pipe.snapshot()])
        where = Where(settings.consumer_group, settings.events_topic, pipe.partition)
        blob = seal(key.get_secret_value().encode(), where, 0, body)
        store.save_checkpoint(where.group, where.topic, pipe.partition, 0, blob)
        size += len(blob)
    seconds = time.perf_counter() - t0
    store.close()
    return {"checkpoint_seconds": round(seconds, 2), "checkpoint_bytes": size}


async def _first_decision(settings: Settings) -> dict[str, Any]:
    from aiokafka import AIOKafkaProducer

    from monitor.service import serve
    from monitor.stream.topics import ensure_topics
    from monitor.testing import login

    await ensure_topics(
        settings.kafka_bootstrap, {settings.events_topic: settings.topic_partitions}
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    await producer.send_and_wait(
        settings.events_topic, login("acct-00000007", "2026-01-09T00:00:00Z"), partition=0
    )
    await producer.stop()
    found: dict[str, Any] = {}
    stop = asyncio.Event()

    def attach(runner: Any, _dispatcher: Any) -> None:
        found["runner"] = runner

    t0 = time.perf_counter()
    service = asyncio.create_task(serve(settings, stop, with_api=False, on_ready=attach))
    while time.perf_counter() - t0 < 120:
        runner = found.get("runner")
        if runner is not None and runner.status.decided > 0:
            break
        if service.done():
            service.result()
        await asyncio.sleep(0.01)
    first = time.perf_counter() - t0
    runner = found["runner"]
    restored = sum(len(p.accounts) for p in runner.pipelines.values())
    stop.set()
    await service
    return {"first_decision_s": round(first, 2), "accounts_restored": restored}


def run_restart(
    rules_dir: Path, accounts: int, progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    from monitor.stream.embedded import EmbeddedBroker

    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        settings = Settings(
            kafka_bootstrap=broker.bootstrap,
            rules_dir=rules_dir,
            database_url=f"sqlite:///{Path(tmp) / 'restart.db'}",
            checkpoint_key=SecretStr(_KEY),
            checkpoint_interval_s=0,
        )
        t0 = time.perf_counter()
        built = build_checkpoints(settings, accounts, progress)
        build_s = time.perf_counter() - t0
        result = asyncio.run(_first_decision(settings))
    return {"accounts": accounts, "build_s": round(build_s, 1), **built, **result}
