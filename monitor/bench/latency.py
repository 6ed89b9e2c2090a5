"""Latency at a fixed offered load through the real (embedded) broker: from an event's
append to the broker to its decision committed (store + offset), and from the event to
its command published on ``wallet.account-actions``.

A separate process produces simulator events at ``rate`` events/s with their event time
set to the moment they are sent (so "time since" and velocity features see a live
stream); the service runs in this process without the API (SQLite store).
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from monitor.config import Settings


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _summary(values: list[float]) -> dict[str, Any]:
    ms = [v * 1000 for v in values]
    return {
        "count": len(ms),
        "p50_ms": round(_percentile(ms, 0.5), 2),
        "p99_ms": round(_percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2) if ms else float("nan"),
    }


def _producer(bootstrap: str, topic: str, rate: int, seconds: float, accounts: int) -> None:
    asyncio.run(_produce(bootstrap, topic, rate, seconds, accounts))


async def _produce(bootstrap: str, topic: str, rate: int, seconds: float, accounts: int) -> None:
    """The wallet's side: every 10 ms, the events due, each stamped with the moment it is
    handed to the client. (A librdkafka producer at 1-5 ms steps measured worse here:
    its threads compete for the 2 cores with the broker and the monitor.)"""
    from aiokafka import AIOKafkaProducer

    from monitor.events import encode
    from monitor.simulate import SimConfig, generate

    # simulated before the clock starts: a generator computing between sends starved
    # the client's sender task, and events already stamped waited in the client
    # (p99 ~350 ms at 3,000 events/s that was not Vigil's)
    stream = generate(SimConfig(accounts=accounts, days=30, seed=5, attack_share=0.05))
    events = iter([event for event, _label in itertools.islice(stream, int(rate * seconds) + rate)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await producer.start()
    try:
        tick = 0.01
        per_tick = max(1, round(rate * tick))
        start = time.perf_counter()
        n = 0
        while time.perf_counter() - start < seconds:
            now = datetime.now(UTC)
            for _ in range(per_tick):
                event = next(events)
                live = msgspec.structs.replace(event, ts=now)
                await producer.send(topic, encode(live), key=live.account_id.encode())
                n += 1
            target = start + n / rate
            await asyncio.sleep(max(0.0, target - time.perf_counter()))
        await producer.flush()
    finally:
        await producer.stop()


async def run_latency(
    rules_dir: Path, rate: int, seconds: float = 15.0, accounts: int = 20_000
) -> dict[str, Any]:
    from monitor.service import serve
    from monitor.stream.embedded import EmbeddedBroker
    from monitor.stream.topics import ensure_topics

    decisions: list[float] = []
    actions: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        settings = Settings(
            kafka_bootstrap=broker.bootstrap,
            rules_dir=rules_dir,
            database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
            poll_timeout_ms=5,
            dispatch_poll_s=0.05,
        )
        await ensure_topics(broker.bootstrap, {settings.events_topic: 4})

        def attach(runner: Any, dispatcher: Any) -> None:
            runner.latency_sink = decisions
            dispatcher.latency_sink = actions

        stop = asyncio.Event()
        service = asyncio.create_task(serve(settings, stop, with_api=False, on_ready=attach))
        await asyncio.sleep(6.0)  # group join and assignment
        warm = len(decisions)
        proc = multiprocessing.get_context("spawn").Process(
            target=_producer,
            args=(broker.bootstrap, settings.events_topic, rate, seconds, accounts),
        )
        proc.start()
        await asyncio.to_thread(proc.join)
        await asyncio.sleep(2.0)  # drain
        stop.set()
        await service
    measured = decisions[warm:]
    return {
        "offered_rate": rate,
        "seconds": seconds,
        "decision": _summary(measured),
        "action_published": _summary(actions),
        "decided_per_s": round(len(measured) / seconds) if measured else 0,
        "mean_decision_ms": round(statistics.fmean(measured) * 1000, 2) if measured else None,
    }
