"""A batch is made durable (stored, committed) in a task while the next one is decided;
never more than one in flight, and commits stay in batch order."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition

from monitor.config import Settings
from monitor.events import encode
from monitor.metrics import Metrics
from monitor.ruleset import load_rules
from monitor.simulate import SimConfig, generate
from monitor.store import AlertStore
from monitor.stream.runner import StreamRunner

RULES = Path(__file__).resolve().parents[3] / "rules"
TOPIC = "wallet.events"


class Message:
    def __init__(self, offset: int, value: bytes, key: bytes) -> None:
        self.offset, self.value, self.key = offset, value, key
        self.timestamp = 1_800_000_000_000


class GatedConsumer:
    """Records commits; each commit waits until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.commits: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        await self.gate.wait()
        self.commits.append(dict(offsets))

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPIC, 0)}


class Producer:
    async def send(self, *args: Any, **kwargs: Any) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def _batches(n: int, size: int) -> list[dict[TopicPartition, list[Any]]]:
    stream = generate(SimConfig(accounts=50, days=2, seed=3))
    events = [e for e, _ in itertools.islice(stream, n * size)]
    tp = TopicPartition(TOPIC, 0)
    return [
        {
            tp: [Message(i, encode(e), e.account_id.encode()) for i, e in enumerate(events)][
                b * size : (b + 1) * size
            ]
        }
        for b in range(n)
    ]


def _consumed(runner: StreamRunner) -> float:
    """Events decided so far (counted when decided, not when committed)."""
    registry = runner.metrics.registry
    return sum(
        sample.value
        for metric in registry.collect()
        if metric.name == "vigil_events_consumed"
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


async def test_the_next_batch_is_decided_while_the_previous_one_commits(tmp_path: Path) -> None:
    store = AlertStore(f"sqlite:///{tmp_path / 'vigil.db'}")
    store.create_schema()
    settings = Settings(kafka_bootstrap="127.0.0.1:1", rules_dir=RULES, events_topic=TOPIC)
    runner = StreamRunner(settings, store, load_rules(RULES), Metrics())
    consumer, stop = GatedConsumer(), asyncio.Event()
    runner.consumer, runner.producer = consumer, Producer()
    first, second, third = _batches(3, 20)
    tp = TopicPartition(TOPIC, 0)
    try:
        # decided; its commit waits at the gate (a runner that waited for it would hang)
        await asyncio.wait_for(runner.handle_batch(first, stop), 5)
        assert consumer.commits == [] and runner.status.decided == 0
        assert _consumed(runner) == 20
        # the second is decided at once, but not handed on before the first is durable
        second_done = asyncio.ensure_future(runner.handle_batch(second, stop))
        await asyncio.sleep(0.05)
        assert _consumed(runner) == 40
        assert not second_done.done() and consumer.commits == []
        consumer.gate.set()
        await second_done  # the first is committed; the second's commit is in flight
        assert consumer.commits[0] == {tp: 20}
        await runner.handle_batch(third, stop)
        await runner.wait_durable()  # what a checkpoint, a rebalance or a stop waits for
        assert consumer.commits == [{tp: 20}, {tp: 40}, {tp: 60}]
        assert runner.status.decided == 60
    finally:
        store.close()
