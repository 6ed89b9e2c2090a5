"""Sinks for the simulated stream: JSONL files, or Kafka (optionally paced in event time)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
from msgspec.structs import replace

from monitor.events import encode

from .engine import count, generate
from .model import SimConfig, SimStats

__all__ = ["produce", "write_jsonl"]

_PROGRESS_EVERY = 1000


def write_jsonl(cfg: SimConfig, events_path: Path, labels_path: Path) -> SimStats:
    """Write events and labels as one JSON object per line, in event-time order."""
    stats, seen = SimStats(accounts=cfg.accounts), set[str]()
    label_encoder = msgspec.json.Encoder()
    with Path(events_path).open("wb") as events, Path(labels_path).open("wb") as labels:
        for event, label in generate(cfg):
            events.write(encode(event) + b"\n")
            if label is not None:
                labels.write(label_encoder.encode(label) + b"\n")
            count(stats, label, seen)
    return stats


class _Deliveries:
    """Delivery outcomes, counted from the producer's futures without keeping them."""

    def __init__(self) -> None:
        self.failed = 0
        self.first: BaseException | None = None

    def done(self, fut: asyncio.Future[object]) -> None:
        exc = None if fut.cancelled() else fut.exception()
        if exc is not None:
            self.failed += 1
            self.first = self.first or exc


async def produce(
    cfg: SimConfig,
    bootstrap: str,
    topic: str = "wallet.events",
    labels_topic: str | None = "wallet.labels",
    *,
    speed: float | None = None,
    compression: str | None = None,
    realtime_start: bool = False,
    progress: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> SimStats:
    """Produce the stream to Kafka, keyed by account id; labels go to ``labels_topic``.

    ``speed=None`` sends as fast as the producer batches; ``speed=600`` paces sends so event
    time runs 600x the wall clock. ``realtime_start`` shifts every timestamp so the first
    event happens now. Setting ``stop`` ends the run early (what was sent is flushed).
    Raises ``RuntimeError`` after flushing if any message could not be delivered.
    """
    from aiokafka import AIOKafkaProducer  # only the Kafka path needs it

    if speed is not None and not speed > 0:
        raise ValueError(f"speed must be positive, got {speed}")
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="vigil-simulate",
        acks="all",
        compression_type=compression,
        linger_ms=5 if speed else 50,
        max_batch_size=256 * 1024,
    )
    loop = asyncio.get_running_loop()
    stats, seen, deliveries = SimStats(accounts=cfg.accounts), set[str](), _Deliveries()
    label_encoder = msgspec.json.Encoder()
    shift: timedelta | None = None
    origin: tuple[float, float] | None = None  # (first event epoch, wall clock at its send)
    await producer.start()
    try:
        for event, label in generate(cfg):
            if stop is not None and stop.is_set():
                break
            if realtime_start:
                if shift is None:
                    shift = datetime.now(UTC) - event.ts
                event = replace(event, ts=event.ts + shift)
            if speed:
                if origin is None:
                    origin = (event.epoch, loop.time())
                delay = origin[1] + (event.epoch - origin[0]) / speed - loop.time()
                if delay > 0.002 and await _sleep_or_stop(delay, stop):
                    break
            key = event.account_id.encode()
            fut = await producer.send(topic, encode(event), key=key)
            fut.add_done_callback(deliveries.done)
            if label is not None and labels_topic:
                fut = await producer.send(labels_topic, label_encoder.encode(label), key=key)
                fut.add_done_callback(deliveries.done)
            count(stats, label, seen)
            if stats.events % _PROGRESS_EVERY == 0:
                if progress is not None:
                    progress(stats.events)
                await asyncio.sleep(0)  # let the sender task and stop-setters run
        await producer.flush()
    finally:
        await producer.stop()
    if progress is not None:
        progress(stats.events)
    if deliveries.failed:
        raise RuntimeError(
            f"{deliveries.failed} messages were not delivered to {bootstrap}; "
            f"first error: {deliveries.first!r}"
        ) from deliveries.first
    return stats


async def _sleep_or_stop(delay: float, stop: asyncio.Event | None) -> bool:
    """Sleep ``delay`` seconds; return True at once if ``stop`` gets set meanwhile."""
    if stop is None:
        await asyncio.sleep(delay)
        return False
    try:
        await asyncio.wait_for(stop.wait(), delay)
    except TimeoutError:
        return False
    return True
