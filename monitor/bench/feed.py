"""Simulated wallet events for the broker benchmarks (``e2e``, ``scaling``): simulated
and encoded before any clock starts, produced to a fresh topic as fast as the client
batches, and the group's committed offsets read back afterwards.

Messages are keyed by account id and partitioned with the Java client's murmur2 (what a
wallet's keyed producer does), so each account's events stay in order on one partition.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from monitor.events import encode
from monitor.simulate import SimConfig, generate

Message = tuple[bytes, bytes]  # (key, value)
# (phase, done, total): the CLI turns these into progress bars
Progress = Callable[[str, int, int], None]

EVENTS_PER_ACCOUNT = 10  # ~15 expected over the 2 simulated days
_REPORT_EVERY = 10_000


def simulated_messages(
    events: int, *, seed: int = 3, progress: Progress | None = None
) -> tuple[list[Message], int]:
    """``events`` encoded simulator events (time-ordered, 2 % of accounts attacked) and
    the number of accounts simulated.

    >>> messages, accounts = simulated_messages(50, seed=1)
    >>> len(messages), accounts, messages[0][0].startswith(b"acct-")
    (50, 5, True)
    """
    if events < 1:
        raise ValueError(f"events must be at least 1, got {events}")
    accounts = max(1, events // EVENTS_PER_ACCOUNT)
    out: list[Message] = []
    days = 2.0
    while len(out) < events:  # a few accounts may fall short: simulate longer
        config = SimConfig(accounts=accounts, days=days, seed=seed, attack_share=0.02)
        out = []
        for event, _label in itertools.islice(generate(config), events):
            out.append((event.account_id.encode(), encode(event)))
            if progress is not None and len(out) % _REPORT_EVERY == 0:
                progress("simulate", len(out), events)
        days *= 2
    if progress is not None:
        progress("simulate", events, events)
    return out, accounts


async def produce_all(
    bootstrap: str, topic: str, messages: list[Message], progress: Progress | None = None
) -> dict[int, int]:
    """Produce ``messages`` to ``topic`` in client-built batches (one open batch per
    partition; ~2.5x ``send`` per message here) and wait until all are acknowledged.
    Returns the message count per partition."""
    import asyncio

    from aiokafka import AIOKafkaProducer
    from aiokafka.partitioner import DefaultPartitioner

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="vigil-bench-feed",
        acks="all",
        max_batch_size=512 * 1024,
    )
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(topic))
        partitioner = DefaultPartitioner()
        batches = {p: producer.create_batch() for p in partitions}
        counts = dict.fromkeys(partitions, 0)
        pending = []
        for i, (key, value) in enumerate(messages, 1):
            p = partitioner(key, partitions, partitions)
            if batches[p].append(key=key, value=value, timestamp=None) is None:  # full
                pending.append(await producer.send_batch(batches[p], topic, partition=p))
                batches[p] = producer.create_batch()
                batches[p].append(key=key, value=value, timestamp=None)
            counts[p] += 1
            if progress is not None and i % _REPORT_EVERY == 0:
                progress("produce", i, len(messages))
        for p, batch in batches.items():
            if batch.record_count():
                pending.append(await producer.send_batch(batch, topic, partition=p))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    if progress is not None:
        progress("produce", len(messages), len(messages))
    return counts


async def committed_offsets(
    bootstrap: str, group: str, topic: str, partitions: int
) -> dict[int, int]:
    """The offsets ``group`` has committed on ``topic``, by partition (0: none)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        return {tp.partition: (await consumer.committed(tp)) or 0 for tp in tps}
    finally:
        await consumer.stop()
