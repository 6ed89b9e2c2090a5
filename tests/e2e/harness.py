"""The end-to-end harness: run the real service in-process against the real broker, talk
to it over HTTP, produce messages, read committed offsets back from the broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from monitor.config import Settings
from monitor.service import serve
from monitor.store import AlertStore


@dataclass
class Service:
    settings: Settings
    http: httpx.AsyncClient
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def wait_for(
        self, path: str, predicate: Callable[[Any], bool], timeout: float = 30.0
    ) -> Any:
        """Poll the API until ``predicate(json)`` is true; return the JSON."""
        return await self._poll(path, predicate, timeout, lambda r: r.json())

    async def wait_for_text(
        self, path: str, predicate: Callable[[str], bool], timeout: float = 30.0
    ) -> str:
        text: str = await self._poll(path, predicate, timeout, lambda r: r.text)
        return text

    async def _poll(
        self,
        path: str,
        predicate: Callable[[Any], bool],
        timeout: float,
        parse: Callable[[httpx.Response], Any],
    ) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        body = None
        while asyncio.get_running_loop().time() < deadline:
            if self.task.done():
                self.task.result()  # surface the service's crash
            with contextlib.suppress(httpx.TransportError):
                body = parse(await self.http.get(path))
                if predicate(body):
                    return body
            await asyncio.sleep(0.2)
        raise AssertionError(f"timed out waiting on {path}; last body: {str(body)[:2000]}")


@contextlib.asynccontextmanager
async def running(settings: Settings, store: AlertStore | None = None) -> AsyncIterator[Service]:
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop, store=store))
    base = f"http://{settings.api_host}:{settings.api_port}"
    # the API needs a token: the tests call as the break-glass admin of their settings
    token = settings.admin_token.get_secret_value() if settings.admin_token else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=base, timeout=5.0, headers=headers) as http:
        service = Service(settings, http, stop, task)
        try:
            yield service
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)


async def produce(
    settings: Settings, messages: list[tuple[bytes | None, bytes]], compression: str | None = None
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, compression_type=compression
    )
    await producer.start()
    try:
        for key, value in messages:
            await producer.send(settings.events_topic, value=value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def committed_offsets(settings: Settings) -> dict[int, int]:
    """The group's committed offsets and the topic's end offsets, per partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.consumer_group,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(settings.events_topic, p) for p in range(settings.topic_partitions)]
        return {tp.partition: (await consumer.committed(tp)) or 0 for tp in tps}
    finally:
        await consumer.stop()


async def end_positions(settings: Settings, topic: str) -> dict[int, int]:
    """Offset after the last message of each partition of ``topic`` (read back, not the
    broker's high watermark)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        counts = dict.fromkeys((tp.partition for tp in tps), 0)
        last = {tp.partition: -1 for tp in tps}
        idle = 0
        while idle < 3:
            batch = await consumer.getmany(timeout_ms=300)
            idle = 0 if batch else idle + 1
            for tp, msgs in batch.items():
                counts[tp.partition] += len(msgs)
                last[tp.partition] = msgs[-1].offset
        return {p: last[p] + 1 for p in counts}
    finally:
        await consumer.stop()
