"""How the embedded broker's fetch time grows with the record batches a partition holds.

Not a Vigil benchmark (those are ``vigil bench``): a probe of the broker under it, kept
because it explains the latency figures in ``docs/benchmarks.md``. Tansu's in-memory
storage answers a fetch in a time that grows with the number of record batches stored
in the partition read (not with records, not with other topics), and it can neither
delete records nor apply retention, so a long run at a fixed rate gets slower and slower.

Run: ``.venv/bin/python scripts/tansu_fetch_probe.py`` (about a minute). It prints the
median time for one new record to come back from a fetch, on a partition after N
single-record batches, and on a fresh topic beside it.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from monitor.stream.embedded import EmbeddedBroker
from monitor.stream.topics import ensure_topics


async def _fetch_ms(producer: AIOKafkaProducer, consumer: AIOKafkaConsumer, topic: str) -> float:
    """Median over 20 rounds: send one record, time until a fetch returns it."""
    times = []
    for _ in range(20):
        await producer.send_and_wait(topic, b"x" * 200)
        t0 = time.perf_counter()
        while not await consumer.getmany(timeout_ms=100):
            pass
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2)


async def main(steps: tuple[int, ...] = (1000, 2000, 3000)) -> None:
    with EmbeddedBroker() as broker:
        await ensure_topics(broker.bootstrap, {"probe.full": 1, "probe.fresh": 1})
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=0)
        full = AIOKafkaConsumer(
            bootstrap_servers=broker.bootstrap, fetch_max_wait_ms=5, auto_offset_reset="earliest"
        )
        fresh = AIOKafkaConsumer(
            bootstrap_servers=broker.bootstrap, fetch_max_wait_ms=5, auto_offset_reset="earliest"
        )
        await producer.start()
        await full.start()
        await fresh.start()
        try:
            full.assign([TopicPartition("probe.full", 0)])
            fresh.assign([TopicPartition("probe.fresh", 0)])
            print("batches in probe.full | fetch ms there | fetch ms on probe.fresh")
            stored = 0
            print(
                f"{stored:>22,} | {await _fetch_ms(producer, full, 'probe.full'):>14} | "
                f"{await _fetch_ms(producer, fresh, 'probe.fresh'):>23}"
            )
            for n in steps:
                for _ in range(n):  # one record per batch, as a low-latency producer sends
                    await producer.send_and_wait("probe.full", b"x" * 200)
                stored += n + 20
                while await full.getmany(timeout_ms=300, max_records=100_000):
                    pass  # caught up: the probe reads the newest record only
                print(
                    f"{stored:>22,} | {await _fetch_ms(producer, full, 'probe.full'):>14} | "
                    f"{await _fetch_ms(producer, fresh, 'probe.fresh'):>23}"
                )
        finally:
            await fresh.stop()
            await full.stop()
            await producer.stop()


if __name__ == "__main__":
    asyncio.run(main())
