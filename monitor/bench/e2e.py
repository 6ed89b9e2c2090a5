"""End-to-end throughput through the real (embedded) broker, with full detection.

``N`` simulator events are produced to a fresh topic before any clock starts. Then, in
this one process and on the same messages:

1. **raw baseline**: an ``AIOKafkaConsumer`` in its own group reads all ``N`` with
   ``getmany`` (the runner's batch size and fetch wait) and decodes each with
   :func:`monitor.events.decode` — the floor any Kafka consumer in Python pays;
2. **the monitor**: :func:`monitor.service.serve` without the API (what ``vigil run
   --no-api`` runs: features, models, rules, decisions, alerts and their commands
   written to a SQLite store, offsets committed after each batch, the outbox
   dispatcher publishing commands), in a fresh consumer group.

Each is timed from its first consumed batch to its last (for the monitor: to the
commit covering the last offset), in wall time and in this process's CPU time; the
broker is another process on the same cores. These machines are noisy: the ratio of
the two rates, measured in the same run, is what to compare between runs.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from monitor.bench.feed import Progress, committed_offsets, produce_all, simulated_messages
from monitor.bench.machine import CpuSample, load_report, sample
from monitor.config import Settings

TARGET_EVENTS_PER_S = 30_000  # issue 8: end-to-end, one core, full detection
TARGET_RATIO = 0.15  # issue 8: of raw consume + decode, same run


def _rate(events: int, seconds: float) -> int:
    return round(events / seconds) if seconds > 0 else 0


def _deadline_s(events: int) -> float:
    """Give up on a phase after this long: a stuck consumer must not hang the bench."""
    return 60.0 + events / 2000


async def raw_consume(
    bootstrap: str,
    topic: str,
    events: int,
    *,
    group: str,
    max_records: int = 1000,
    fetch_max_wait_ms: int = 20,
    broker_pid: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Consume and decode ``events`` messages of ``topic`` in ``group``; time from the
    first batch to the last message decoded."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.coordinator.assignors.range import RangePartitionAssignor

    from monitor.events import DecodeError, decode

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id="vigil-bench-raw",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=fetch_max_wait_ms,
        partition_assignment_strategy=(RangePartitionAssignor,),
    )
    pids = [broker_pid] if broker_pid else []
    await consumer.start()
    try:
        seen = invalid = 0
        first = cpu0 = 0.0
        load0: CpuSample | None = None
        give_up = time.monotonic() + _deadline_s(events)
        while seen < events:
            if time.monotonic() > give_up:
                raise RuntimeError(f"raw consumer read {seen:,} of {events:,} messages")
            batch = await consumer.getmany(timeout_ms=200, max_records=max_records)
            if batch and not seen:
                load0 = sample(pids)
                first, cpu0 = time.perf_counter(), time.process_time()
            for messages in batch.values():
                for msg in messages:
                    if isinstance(decode(msg.value), DecodeError):
                        invalid += 1
                seen += len(messages)
            if progress is not None and batch:
                progress("raw consume", seen, events)
        wall, cpu = time.perf_counter() - first, time.process_time() - cpu0
        load = load_report(load0, sample(pids), wall=wall, own_cpu=cpu)
    finally:
        await consumer.stop()
    return {
        "events": seen,
        "invalid": invalid,
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "events_per_s": _rate(seen, wall),
        "events_per_cpu_s": _rate(seen, cpu),
        **load,
    }


async def monitor_run(
    settings: Settings,
    events: int,
    partitions: int,
    *,
    broker_pid: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the service (no API) in this process until it has decided and committed
    ``events`` events; time from its first consumed batch to that commit.

    The runner's batch methods are wrapped on this one instance to take the times (the
    runner itself is unchanged): the first mark when the first batch is handed to it,
    the end mark when the batch covering the last offset is committed
    (``finish_batch`` returns after the commit)."""
    from monitor.service import serve
    from monitor.store import AlertStore

    marks: dict[str, float] = {}
    loads: list[CpuSample | None] = []
    pids = [broker_pid] if broker_pid else []
    finished = asyncio.Event()
    runners: list[Any] = []

    def attach(runner: Any, _dispatcher: Any) -> None:
        runners.append(runner)
        handle, finish = runner.handle_batch, runner.finish_batch

        async def timed(batch: Any, stop: asyncio.Event) -> None:
            if "first" not in marks:
                loads.append(sample(pids))
                marks["first"], marks["cpu0"] = time.perf_counter(), time.process_time()
            await handle(batch, stop)

        async def finished_timed(batch: Any, stop: asyncio.Event) -> None:
            await finish(batch, stop)
            decided = runner.status.decided
            if progress is not None:
                progress("monitor", decided, events)
            if decided >= events and not finished.is_set():
                marks["last"], marks["cpu1"] = time.perf_counter(), time.process_time()
                loads.append(sample(pids))
                finished.set()

        runner.handle_batch = timed
        runner.finish_batch = finished_timed

    store = AlertStore(settings.sqlalchemy_url)
    stop = asyncio.Event()
    service = asyncio.create_task(
        serve(settings, stop, with_api=False, store=store, on_ready=attach)
    )
    try:
        try:
            done = asyncio.create_task(finished.wait())
            await asyncio.wait(
                [done, service], timeout=_deadline_s(events), return_when=asyncio.FIRST_COMPLETED
            )
            done.cancel()
            if service.done():
                service.result()  # the service's own error, if it failed
                raise RuntimeError("the service stopped before deciding every event")
            if not finished.is_set():
                decided = runners[0].status.decided if runners else 0
                raise RuntimeError(f"the monitor decided {decided:,} of {events:,} events in time")
        finally:
            stop.set()
            await service
        alerts = store.count_alerts()
    finally:
        store.close()
    runner = runners[0]
    wall, cpu = marks["last"] - marks["first"], marks["cpu1"] - marks["cpu0"]
    committed = await committed_offsets(
        settings.kafka_bootstrap,
        settings.consumer_group,
        settings.events_topic,
        partitions,
    )
    return {
        "events": events,
        "decided": runner.status.decided,
        "alerts": alerts,
        "commits": runner.status.commits,
        "committed": committed,
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "cpu_share": round(cpu / wall, 2) if wall > 0 else 0.0,
        "events_per_s": _rate(events, wall),
        "events_per_cpu_s": _rate(events, cpu),
        **load_report(loads[0], loads[-1], wall=wall, own_cpu=cpu),
    }


def bench_settings(bootstrap: str, rules_dir: Path, db: Path, group: str) -> Settings:
    """The service's settings for a bench run: defaults (and ``VIGIL_*``) for the rest."""
    return Settings(
        kafka_bootstrap=bootstrap,
        rules_dir=rules_dir,
        database_url=f"sqlite:///{db}",
        consumer_group=group,
        client_id=group,
    )


async def side_topics(settings: Settings, partitions: int) -> None:
    """The events topic and the service's side topics, created up front (not by
    members racing each other at start-up)."""
    from monitor.stream.topics import ensure_topics

    await ensure_topics(
        settings.kafka_bootstrap,
        {
            settings.events_topic: partitions,
            settings.verdicts_topic: partitions,
            settings.actions_topic: partitions,
            settings.dlq_topic: 1,
            settings.late_topic: 1,
        },
    )


def run_e2e(
    rules_dir: Path,
    *,
    events: int = 200_000,
    partitions: int = 4,
    seed: int = 3,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Raw consume + decode, then the monitor, over the same ``events`` messages."""
    return asyncio.run(
        _run_e2e(rules_dir, events=events, partitions=partitions, seed=seed, progress=progress)
    )


async def _run_e2e(
    rules_dir: Path, *, events: int, partitions: int, seed: int, progress: Progress | None
) -> dict[str, Any]:
    from monitor.stream.embedded import EmbeddedBroker

    messages, accounts = simulated_messages(events, seed=seed, progress=progress)
    tag = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        settings = bench_settings(
            broker.bootstrap, rules_dir, Path(tmp) / "bench.db", f"vigil-bench-{tag}"
        )
        await side_topics(settings, partitions)
        broker_pid = broker.process.pid if broker.process else None
        t0 = time.perf_counter()
        per_partition = await produce_all(
            broker.bootstrap, settings.events_topic, messages, progress
        )
        produce_s = time.perf_counter() - t0
        del messages  # not kept alive (nor walked by the GC) while the monitor runs
        raw = await raw_consume(
            broker.bootstrap,
            settings.events_topic,
            events,
            group=f"vigil-bench-raw-{tag}",
            max_records=settings.batch_max_records,
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            broker_pid=broker_pid,
            progress=progress,
        )
        monitor = await monitor_run(
            settings, events, partitions, broker_pid=broker_pid, progress=progress
        )
    monitor["committed_to_end"] = monitor.pop("committed") == per_partition
    ratio = monitor["events_per_s"] / raw["events_per_s"] if raw["events_per_s"] else 0.0
    return {
        "events": events,
        "accounts": accounts,
        "partitions": partitions,
        "per_partition": per_partition,
        "produce_events_per_s": _rate(events, produce_s),
        "raw": raw,
        "monitor": monitor,
        "ratio": round(ratio, 3),
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "target_ratio": TARGET_RATIO,
    }
