"""Latency at a fixed offered load through the real (embedded) broker: from an event's
append to the broker to its decision committed (store + offset), and from the event to
its command published on ``wallet.account-actions``.

A separate process produces simulator events at ``rate`` events/s with their event time
set to the moment they are sent (so "time since" and velocity features see a live
stream); the service runs in this process without the API (SQLite store).

The same run first measures the **broker floor**: the same producer at the same rate,
read by a plain ``AIOKafkaConsumer`` with the runner's fetch settings that does nothing
but commit each batch. Nothing Vigil does can be faster than that; the broker and the
machine set it (the embedded broker answers a fetch only when its wait is up, and on
2 cores the producer, the broker and the consumer take turns). Like the throughput
ratio of ``vigil bench e2e``, the two figures from one run are what to compare.
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
    """p50/p99/max in ms, and p50/p99 of each third of the run (values in the order
    they were measured): the embedded broker slows down as a partition fills up, and
    the thirds show it.

    >>> s = _summary([i / 1000 for i in range(1, 7)])
    >>> s["p50_ms"], s["thirds_p50_p99_ms"]
    (4.0, [[2.0, 2.0], [4.0, 4.0], [6.0, 6.0]])
    """
    ms = [v * 1000 for v in values]
    size = -(-len(ms) // 3)  # ceiling: three parts, the last may be shorter
    thirds = [ms[i : i + size] for i in range(0, len(ms), size)] if ms else []
    return {
        "count": len(ms),
        "p50_ms": round(_percentile(ms, 0.5), 2),
        "p99_ms": round(_percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2) if ms else float("nan"),
        "thirds_p50_p99_ms": [
            [round(_percentile(t, 0.5), 2), round(_percentile(t, 0.99), 2)] for t in thirds
        ],
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
        total = int(rate * seconds)  # exactly: the bench checks every one was decided
        start = time.perf_counter()
        n = 0
        while n < total:
            now = datetime.now(UTC)
            for _ in range(min(per_tick, total - n)):
                event = next(events)
                live = msgspec.structs.replace(event, ts=now)
                await producer.send(topic, encode(live), key=live.account_id.encode())
                n += 1
            target = start + n / rate
            await asyncio.sleep(max(0.0, target - time.perf_counter()))
        await producer.flush()
    finally:
        await producer.stop()


def _produce_in_background(
    bootstrap: str, topic: str, rate: int, seconds: float, accounts: int
) -> multiprocessing.process.BaseProcess:
    proc = multiprocessing.get_context("spawn").Process(
        target=_producer, args=(bootstrap, topic, rate, seconds, accounts)
    )
    proc.start()
    return proc


async def broker_floor(
    bootstrap: str, settings: Settings, rate: int, seconds: float, accounts: int
) -> dict[str, Any]:
    """Append -> batch returned and its offsets committed, for a consumer that decides
    nothing: the latency the broker and the client alone cost at ``rate``."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from monitor.stream.topics import ensure_topics

    topic = "vigil.bench.floor"
    await ensure_topics(bootstrap, {topic: 4})
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id="vigil-bench-floor",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
    )
    await consumer.start()
    latencies: list[float] = []
    try:
        # assigned, not subscribed: no group join to wait for (commits still go to the group)
        consumer.assign([TopicPartition(topic, p) for p in range(4)])
        proc = _produce_in_background(bootstrap, topic, rate, seconds, accounts)
        done = asyncio.ensure_future(asyncio.to_thread(proc.join))
        drain_until = None
        while drain_until is None or time.monotonic() < drain_until:
            batch = await consumer.getmany(
                timeout_ms=settings.poll_timeout_ms, max_records=settings.batch_max_records
            )
            if batch:
                await consumer.commit({tp: msgs[-1].offset + 1 for tp, msgs in batch.items()})
                now = time.time()
                for msgs in batch.values():
                    latencies.extend(now - m.timestamp / 1000.0 for m in msgs)
            if drain_until is None and done.done():
                drain_until = time.monotonic() + 2.0
        await done
    finally:
        await consumer.stop()
    return _summary(latencies)


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
        floor = await broker_floor(broker.bootstrap, settings, rate, seconds, accounts)
        await ensure_topics(broker.bootstrap, {settings.events_topic: 4})

        def attach(runner: Any, dispatcher: Any) -> None:
            runner.latency_sink = decisions
            dispatcher.latency_sink = actions

        stop = asyncio.Event()
        service = asyncio.create_task(serve(settings, stop, with_api=False, on_ready=attach))
        await asyncio.sleep(6.0)  # group join and assignment
        warm = len(decisions)
        proc = _produce_in_background(
            broker.bootstrap, settings.events_topic, rate, seconds, accounts
        )
        await asyncio.to_thread(proc.join)
        await asyncio.sleep(2.0)  # drain
        stop.set()
        await service
    measured = decisions[warm:]
    return {
        "offered_rate": rate,
        "seconds": seconds,
        "broker_floor": floor,
        "decision": _summary(measured),
        "action_published": _summary(actions),
        "decided_per_s": round(len(measured) / seconds) if measured else 0,
        "mean_decision_ms": round(statistics.fmean(measured) * 1000, 2) if measured else None,
    }
