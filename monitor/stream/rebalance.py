"""The consumer group's rebalance listener for :class:`~monitor.stream.runner.StreamRunner`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiokafka import ConsumerRebalanceListener

from monitor.gctune import settle

if TYPE_CHECKING:
    from monitor.stream.runner import StreamRunner

log = logging.getLogger("vigil.stream")


class RebalanceListener(ConsumerRebalanceListener):
    """Hands partitions over cleanly: the batch in flight durable first, revoked
    partitions checkpointed for their next owner, assigned ones restored and warm."""

    def __init__(self, runner: StreamRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # Wait for the in-flight batch to be stored and committed before giving
        # partitions away, checkpoint them for their next owner, then drop their state.
        events = self.runner.settings.events_topic
        self.runner.note_revocation()
        async with self.runner.batch_lock:
            await self.runner.wait_durable()
            gone = [tp.partition for tp in revoked if tp.topic == events]
            await self.runner.checkpoint(gone)
            for partition in gone:
                self.runner.drop_partition(partition)
        self.runner.metrics.rebalances.labels(kind="revoked").inc()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        runner = self.runner
        s = runner.settings
        async with runner.batch_lock:  # no batch in flight while state is swapped in
            await runner.wait_durable()
            for tp in assigned:
                if tp.topic == s.events_topic:
                    runner.status.assigned.add(tp.partition)
                    await runner.restore_partition(tp)
                    # models built before the first event: no cold first batch
                    runner.pipeline_for(tp.partition).detector.warm()
            settle()  # restored states: out of the collector's full passes
        self.runner.metrics.partitions_assigned.set(len(self.runner.status.assigned))
        self.runner.metrics.rebalances.labels(kind="assigned").inc()
        log.info("assigned partitions %s", sorted(tp.partition for tp in assigned))
